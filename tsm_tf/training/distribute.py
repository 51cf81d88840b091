"""Choosing a tf.distribute strategy by name."""

import json
import logging
import os

import tensorflow as tf

from tsm_tf.utils.backend_checks import require_tensorflow_backend


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
    """Returns the strategy called `name`.

    - `"default"`: one device (the first GPU if any, else the CPU).
    - `"mirrored"`: synchronous data parallelism over the local GPUs.
    - `"multi_worker"`: `MultiWorkerMirroredStrategy` over machines described
      by the `TF_CONFIG` environment variable (each worker runs the same
      command with its own `task.index`).
    - `"tpu"`: `TPUStrategy` on the TPU named by `tpu` (or the local one).
    """
    require_tensorflow_backend(
        "A tf.distribute strategy",
        "Use KERAS_BACKEND=tensorflow, or keras.distribution on JAX.",
    )
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "strategy='multi_worker' reads the cluster from the TF_CONFIG "
                "environment variable, which is not set. Set it on every worker, e.g. "
                '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON: {error}") from error
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        "`strategy` must be one of default, mirrored, multi_worker, tpu. "
        f"Received: strategy={name!r}"
    )


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints and logs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    chief = task_type in (None, "chief") or (task_type == "worker" and task_id == 0)
    logging.debug("task %s %s chief=%s", task_type, task_id, chief)
    return chief
