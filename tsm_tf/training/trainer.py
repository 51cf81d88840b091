"""`train(config)`: the paper's recipe around `model.fit`, resumable and distributable."""

import dataclasses
import functools
import logging
import math
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from tsm_tf.models.builders import build_tsm
from tsm_tf.training.callbacks import BEST_MODEL
from tsm_tf.training.callbacks import LAST_MODEL
from tsm_tf.training.callbacks import RunCheckpoint
from tsm_tf.training.callbacks import StepProgress
from tsm_tf.training.callbacks import StopOnNaN
from tsm_tf.training.callbacks import read_state
from tsm_tf.training.callbacks import restore_random_states
from tsm_tf.training.config import TrainConfig
from tsm_tf.training.distribute import is_chief
from tsm_tf.training.distribute import make_strategy
from tsm_tf.training.losses import SparseCategoricalCrossentropyWithSmoothing
from tsm_tf.training.schedules import WarmupDecay
from tsm_tf.utils.backend_checks import require_tensorflow_backend
from tsm_tf.utils.progress import plural

CONFIG_FILE = "config.json"
CSV_LOG = "log.csv"
TENSORBOARD_DIR = "tensorboard"


@dataclasses.dataclass
class TrainResult:
    """What a finished run produced."""

    run_dir: str
    epochs_completed: int
    best: float | None
    monitor: str
    history: dict
    model: keras.Model

    @property
    def last_model_path(self):
        return os.path.join(self.run_dir, LAST_MODEL)

    @property
    def best_model_path(self):
        return os.path.join(self.run_dir, BEST_MODEL)


def train(config: TrainConfig) -> TrainResult:
    """Trains (or resumes) the run described by `config` in `config.run_dir`.

    A run directory holds `config.json`, `last.keras` and `best.keras`,
    `state.json` (the epochs completed), `log.csv` and TensorBoard logs.
    Calling `train` again with the same configuration continues from the last
    completed epoch; a different configuration in the same folder is refused.

    Raises:
        FloatingPointError: the loss became NaN or infinite (the message names
            the step).
        ValueError: the run folder holds a different configuration.
        RuntimeError: Keras runs on another backend than TensorFlow.
    """
    require_tensorflow_backend(
        "tsm-train (tf.distribute strategies, tf.data input)",
        "Run it with KERAS_BACKEND=tensorflow, or train in Python with model.fit on this backend.",
    )
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.precision)
    try:
        return _train(config)
    finally:
        # The precision is this run's setting, not a global left behind.
        keras.config.set_dtype_policy(previous_policy)


def _check_classes(config, labels):
    """Refuses training data of one class, or with classes that have no training video."""
    from tsm_tf.data.dataset_writer import check_num_classes
    from tsm_tf.data.dataset_writer import classes_without_videos

    check_num_classes(labels)
    empty, report = classes_without_videos(config.train_pattern)
    if empty:
        raise ValueError(
            f"No training video of the classes {', '.join(empty)} in {config.train_pattern!r} "
            f"(see {report}): the model could never learn them. Add their videos and run "
            "tsm-prepare again, or remove them from the label map."
        )


def _check_label_swaps(config, labels):
    """Refuses flip or reversal swaps that name a class the dataset does not have."""
    for name in ("flip_label_swaps", "reverse_label_swaps"):
        for pair in getattr(config, name):
            if max(pair) >= len(labels):
                raise ValueError(
                    f"`{name}` pair {pair} names a class index past the {len(labels)} classes "
                    f"of {config.train_pattern} (0-{len(labels) - 1}: {', '.join(labels)})."
                )


def warn_if_jit_compile_on_cpu(jit_compile: bool, devices=None) -> bool:
    """Logs a warning when XLA would compile the training step for CPUs only.

    Args:
        jit_compile: the run's `jit_compile` setting.
        devices: the logical devices that will train (default: every device
            TensorFlow sees, TPUs included once a TPU strategy has connected).

    Returns:
        Whether it warned.
    """
    if devices is None:
        devices = tf.config.list_logical_devices()
    if not jit_compile or any(device.device_type in ("GPU", "TPU") for device in devices):
        return False
    logging.warning(
        "--jit_compile is on but no GPU or TPU is visible: XLA was measured slower than "
        "TensorFlow's own kernels on CPUs (benchmarks/benchmark_jit.py, docs/benchmarks.md). "
        "Leave it off on CPUs: drop --jit_compile or pass --nojit_compile (in Python, "
        "TrainConfig(jit_compile=False))."
    )
    return True


def _train(config):
    keras.utils.set_random_seed(config.seed)
    strategy = make_strategy(config.strategy, config.tpu)
    warn_if_jit_compile_on_cpu(config.jit_compile)
    chief = is_chief(strategy)
    # The folder is written only when training starts, so a failed start (a missing
    # download, bad data) leaves nothing that would refuse the corrected command.
    _check_run_dir(config)
    state = read_state(config.run_dir)
    initial_epoch = state["epochs_completed"] if state else 0
    if initial_epoch >= config.epochs:
        logging.info(
            "The run in %s already completed %s.", config.run_dir, plural(initial_epoch, "epoch")
        )

    from tsm_tf.data import load_labels
    from tsm_tf.data.records import check_labels_match

    labels = load_labels(config.train_pattern)
    _check_classes(config, labels)
    if config.validation_pattern:
        check_labels_match(
            config.validation_pattern, labels, f"the training data in {config.train_pattern!r}"
        )
    _check_label_swaps(config, labels)
    train_data, validation_data, steps_per_epoch = _make_datasets(config, strategy, initial_epoch)
    with strategy.scope():
        model = _build_model(config, labels)
        model.compile(
            optimizer=_make_optimizer(config, steps_per_epoch),
            loss=SparseCategoricalCrossentropyWithSmoothing(config.label_smoothing),
            metrics=_metrics(len(labels)),
            jit_compile=config.jit_compile,
        )
        if strategy.num_replicas_in_sync > 1 or isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            _synchronize_batch_norm(model)
            _clip_summed_gradients(model.optimizer)
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            _work_around_keras_multi_worker_bugs(model, strategy)
        if state:
            model.optimizer.build(model.trainable_variables)
            model.load_weights(os.path.join(config.run_dir, LAST_MODEL))
            if "random_states" in state:
                restore_random_states(model, state["random_states"])
            else:
                logging.warning(
                    "%s predates saved random states: dropout restarts its draws.", config.run_dir
                )
            logging.info("Resuming %s after epoch %d.", config.run_dir, initial_epoch)

    nan_stop = StopOnNaN()
    monitor = "val_accuracy" if validation_data is not None else "accuracy"
    callbacks = [
        nan_stop,
        RunCheckpoint(config.run_dir, monitor, state and state["best"], save=chief),
    ]
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(os.path.join(config.run_dir, CSV_LOG), append=bool(state)),
            keras.callbacks.TensorBoard(os.path.join(config.run_dir, TENSORBOARD_DIR)),
        ]
    if chief and not sys.stdout.isatty():
        callbacks.append(StepProgress(steps_per_epoch))
    _save_config(config, chief)
    logging.info("Training %s: the first steps also build the graph.", config.run_dir)
    history = model.fit(
        train_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        validation_steps=config.validation_steps,
        shuffle=False,  # the dataset shuffles itself (Keras cannot shuffle a tf.data.Dataset)
        callbacks=callbacks,
        # Progress bars on a terminal; one line per epoch in a log file.
        verbose=(1 if sys.stdout.isatty() else 2) if chief else 0,
    )
    if nan_stop.message:
        raise FloatingPointError(nan_stop.message)
    final_state = read_state(config.run_dir) or {}
    return TrainResult(
        run_dir=config.run_dir,
        epochs_completed=final_state.get("epochs_completed", config.epochs),
        best=final_state.get("best"),
        monitor=monitor,
        history=history.history,
        model=model,
    )


# Settings a resumed run may change: the folder's spelling or place (the folder is the
# run), and the epochs (raised: "train 2 more epochs").
RESUMABLE_CHANGES = ("run_dir", "epochs")


def _check_run_dir(config):
    """Refuses a run folder whose saved configuration differs from `config` (but in `RESUMABLE_CHANGES`)."""
    path = os.path.join(config.run_dir, CONFIG_FILE)
    if os.path.exists(path):
        saved = TrainConfig.load(path)
        differences = [
            f"{field.name}: {getattr(saved, field.name)!r} -> {getattr(config, field.name)!r}"
            for field in dataclasses.fields(config)
            if field.name not in RESUMABLE_CHANGES
            and getattr(saved, field.name) != getattr(config, field.name)
        ]
        if differences:
            raise ValueError(
                f"{config.run_dir} holds a run with a different configuration "
                f"({'; '.join(differences)}). Resume with the same settings, or "
                "choose a new --run_dir."
            )


def _save_config(config, chief):
    """Creates the run folder and saves the configuration (once the run has started well).

    A resumed run saves it again: its folder's spelling and its epochs may have changed.
    """
    if chief:
        os.makedirs(config.run_dir, exist_ok=True)
        config.save(os.path.join(config.run_dir, CONFIG_FILE))


def _make_datasets(config, strategy, initial_epoch=0):
    """Training and validation datasets, and the steps of an epoch.

    An epoch is one pass's count of whole batches (or
    `config.steps_per_epoch`). The training data is the epochs from
    `initial_epoch` on, one after another in one dataset, so Keras keeps one
    iterator for the whole run; epoch k is a pass of its own, shuffled and
    augmented from `(config.seed, k)` (`_epoch_seed`), so a resumed run reads
    the clips an uninterrupted one would have.

    On several workers (`MultiWorkerMirroredStrategy`) each worker builds
    that dataset itself (`distribute_datasets_from_function`): it reads its
    own shards (`make_dataset(..., input_context=...)`), in batches of its
    replicas' part of the global batch, and every worker takes the same
    number of steps, the whole batches of the worker with the fewest clips
    (`_count_worker_batches`). With balanced shards that is the steps of one
    worker with the same global batch, so two workers train as one does.
    Keras's own distribution of a dataset would shard it by data, not by
    file: each worker then got fewer batches than its share (4 clips in two
    shards, a global batch of 4: no batch at all). On one worker with
    several replicas (`"mirrored"`) Keras splits each global batch.

    Keras runs a dataset of unknown length until it raises end-of-data and
    releases that spent iterator when the next pass begins, and the release
    stalled for 4.6-5.7 s at random: in 7 of 12 validation passes of two demo
    trainings side by side on this project's 2-core machine (a 15 s epoch
    took 20 s). With the validation length declared, 0 of 12 stalled; a
    finite training dataset of declared length still took about 4 s longer
    in some epochs of a full `make demo`; a repeating one, in a timing script
    of two trainings side by side, stalled in none of the 12 epochs after the
    first (which traces the model).

    Both datasets run with tf.data's autotuning off (`make_dataset(...,
    autotune=False)`: `AUTOTUNE` settings keep their starting values). With it on, releasing a long-lived
    iterator stalled for up to a minute: at the end of `fit`, 57 and 59 s in
    2 of 4 trainings of the demo's recipe for 8 epochs (two side by side),
    and about 60 s in one model of a full demo run; in a script
    that only reads the training data through Keras's distribution wrapper
    for 150 s, 52 s in 1 of 3 releases with autotuning on and 0 of 5 with it
    off. The stall grows with the iterator's age, as the autotuning
    thread's wake-up period does (doubling up to 60 s); that cause is a
    guess, not traced in TensorFlow's code.

    Returns:
        `(train_data, validation_data or None, steps)`: `steps` is what
        `fit` takes as `steps_per_epoch`.
    """
    from tsm_tf.data import make_dataset

    single_worker = not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    steps = config.steps_per_epoch
    if steps is None and single_worker:
        steps = _count_batches(config.train_pattern, config.batch_size, drop_remainder=True)
    elif steps is None:
        steps = _count_worker_batches(config.train_pattern, config.batch_size, strategy)
    common = dict(
        num_segments=config.num_segments,
        image_size=config.image_size,
        batch_size=config.batch_size,
        sampling=config.sampling,
        autotune=False,  # see above
    )
    training = dict(
        common,
        training=True,
        train_crop=config.train_crop,
        flip=config.flip,
        flip_label_map=config.flip_label_map or None,
        reverse_time=config.reverse_time,
        reverse_label_map=config.reverse_label_map or None,
        # Parallel reads and maps in a fixed order: the same seed gives the same batches.
        deterministic=True,
    )

    def make_training_data(input_context=None):
        epochs = [
            make_dataset(
                config.train_pattern,
                seed=_epoch_seed(config.seed, epoch),
                # A configured epoch may be longer than a pass.
                repeat=True if config.steps_per_epoch else None,
                input_context=input_context,
                **training,
            ).take(steps)
            for epoch in range(initial_epoch, max(config.epochs, initial_epoch + 1))
        ]
        return functools.reduce(tf.data.Dataset.concatenate, epochs)

    if single_worker:
        train_data = make_training_data()
    else:
        train_data = strategy.distribute_datasets_from_function(make_training_data)
    validation_data = None
    if config.validation_pattern:
        drop_remainder = strategy.num_replicas_in_sync > 1
        validation_data = make_dataset(
            config.validation_pattern,
            training=False,
            drop_remainder=drop_remainder,
            **common,
        )
        if single_worker:
            batches = _count_batches(config.validation_pattern, config.batch_size, drop_remainder)
            validation_data = validation_data.apply(
                tf.data.experimental.assert_cardinality(batches)
            )
    return train_data, validation_data, steps


def _count_worker_batches(file_pattern, batch_size, strategy):
    """Whole batches of the worker with the fewest training clips, as `make_dataset` splits them.

    Each worker reads the shards `files[worker::num_workers]` (every
    num_workers-th clip when there are fewer shards than workers) in batches
    of `batch_size // num_workers` clips (its replicas' part of the global
    batch).
    """
    from tsm_tf.data.records import count_records
    from tsm_tf.data.records import list_shards

    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    # One input pipeline per worker; a chief, where there is one, is a worker too.
    num_workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
    if batch_size % strategy.num_replicas_in_sync:
        raise ValueError(
            f"batch_size={batch_size} does not split evenly between the "
            f"{strategy.num_replicas_in_sync} replicas of {num_workers} workers. "
            "Choose a multiple of the number of replicas."
        )
    worker_batch = batch_size // num_workers
    files = list_shards(file_pattern)
    videos = [count_records(path) for path in files]
    if len(files) >= num_workers:
        per_worker = [sum(videos[worker::num_workers]) for worker in range(num_workers)]
    else:
        per_worker = [len(range(worker, sum(videos), num_workers)) for worker in range(num_workers)]
    batches = min(per_worker) // worker_batch
    if batches == 0:
        raise ValueError(
            f"{file_pattern!r} gives a worker {min(per_worker)} videos (of {sum(videos)} in "
            f"{len(files)} shards for {num_workers} workers), fewer than its batch of {worker_batch}. "
            "Lower --batch_size, or write at least one shard per worker with more videos."
        )
    return batches


def _epoch_seed(seed, epoch):
    """The seed of epoch `epoch`'s shuffling and augmentation in a run seeded with `seed`."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _synchronize_batch_norm(model):
    """Batch statistics over the global batch, as on one device.

    Replicas then hold identical moving statistics, not each its own; the
    saved model still uses plain batch norm (the setting is not part of the
    model's configuration).
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def _clip_summed_gradients(optimizer):
    """Clips the gradient summed over replicas, as one device clips its gradient.

    Keras clips each replica's part of the gradient before it sums the parts
    (`BaseOptimizer.apply`, then the TensorFlow optimizer's
    `_backend_update_step`): with a global-norm clip each part is cut to the
    bound, so their sum could reach the bound times the replicas, and parts
    cut by different factors no longer add up to the gradient's direction.
    Here the parts are summed first and the sum clipped; Keras's own sum, a
    second one, is skipped. Only this optimizer instance changes.
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under a LossScaleOptimizer
    keras_clip = optimizer._clip_gradients
    keras_sum = optimizer._all_reduce_sum_gradients

    def clip(gradients):
        context = tf.distribute.get_replica_context()
        if context is None:
            return keras_clip(gradients)
        present = [gradient for gradient in gradients if gradient is not None]
        summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present) if present else [])
        return keras_clip([None if gradient is None else next(summed) for gradient in gradients])

    def already_summed(gradients_and_variables):
        if tf.distribute.get_replica_context() is None:
            return keras_sum(gradients_and_variables)
        return list(gradients_and_variables)

    optimizer._clip_gradients = clip
    optimizer._all_reduce_sum_gradients = already_summed


def _work_around_keras_multi_worker_bugs(model, strategy):
    """Works around Keras 3 failing `fit` under MultiWorkerMirroredStrategy.

    Both fixes are confined to this model instance. Before training, Keras peeks at one distributed batch to learn its shapes
    and averages it across workers with a collective op, which raises on
    multi-worker `PerReplica` values (keras-team/keras#20585). Shapes are all
    it needs, so this takes the local replica's part instead.
    """
    keras_build = model._maybe_symbolic_build

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: (
                        strategy.experimental_local_results(value)[0]
                        if isinstance(value, tf.distribute.DistributedValues)
                        else value
                    ),
                    next(batches),
                )
                break
        return keras_build(data_batch=data_batch)

    model._maybe_symbolic_build = build

    # Keras then averages each step's logged metrics across workers along
    # axis 0, which scalars lack: hand it one-element vectors instead.
    def vector_logs(step):
        def wrapped(data):
            return {name: tf.reshape(value, [1]) for name, value in step(data).items()}

        return wrapped

    model.train_step = vector_logs(model.train_step)
    model.test_step = vector_logs(model.test_step)


def _count_batches(file_pattern, batch_size, drop_remainder):
    """Batches in one pass over the shards (with or without the last partial batch)."""
    from tsm_tf.data.records import count_records

    videos = count_records(file_pattern)
    batches = videos // batch_size if drop_remainder else -(-videos // batch_size)
    if batches == 0:
        raise ValueError(
            f"{file_pattern!r} holds {videos} videos, fewer than one batch of "
            f"{batch_size}. Lower --batch_size or add data."
        )
    return batches


def _build_model(config, labels):
    weights = config.init_weights
    torch_checkpoint = weights is not None and weights.endswith((".pth", ".pth.tar", ".pt"))
    model = build_tsm(
        config.backbone,
        len(labels),
        num_segments=config.num_segments,
        image_size=config.image_size,
        shift_div=config.shift_div,
        bidirectional=config.bidirectional,
        width_multiplier=config.width_multiplier,
        dropout=config.dropout,
        weights=None if torch_checkpoint else weights,
        labels=labels,
    )
    if torch_checkpoint:
        from tsm_tf.interop.torch_import import load_torch_checkpoint

        load_torch_checkpoint(model, weights, strict=False)
    if config.zero_init_residual and weights is None:
        _zero_init_residual_branches(model)
    if config.partial_bn:
        _freeze_all_but_first_batch_norm(model)
    return model


def _zero_init_residual_branches(model):
    """Zeroes the scale of the last batch norm of every residual branch.

    Each block then starts as the identity, so a deep network trained from
    scratch behaves like a shallow one at first and learns faster (Goyal et
    al., 2017; torchvision's `zero_init_residual`).
    """
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Add):
            continue
        branch = layer.input[1]._keras_history.operation
        if isinstance(branch, keras.layers.BatchNormalization):
            branch.gamma.assign(keras.ops.zeros_like(branch.gamma))


def _freeze_all_but_first_batch_norm(model):
    """TSN's partial batch norm: every BN but the first runs on its stored statistics."""
    batch_norms = [
        layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    for layer in batch_norms[1:]:
        layer.trainable = False


def _metrics(num_classes):
    """Top-1 accuracy, and top-5 where it can miss (more than 5 classes)."""
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if num_classes > 5:
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"))
    return metrics


def _make_optimizer(config, steps_per_epoch):
    schedule = WarmupDecay(
        config.scaled_learning_rate,
        total_steps=max(1, config.epochs * steps_per_epoch),
        warmup_steps=int(math.floor(config.warmup_epochs * steps_per_epoch)),
        schedule=config.schedule,
        decay_steps=[epoch * steps_per_epoch for epoch in config.decay_epochs],
        decay_rate=config.decay_rate,
    )
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            schedule,
            momentum=config.momentum,
            weight_decay=config.weight_decay or None,
            global_clipnorm=config.clip_norm,
        )
    else:
        optimizer = keras.optimizers.AdamW(
            schedule, weight_decay=config.weight_decay, global_clipnorm=config.clip_norm
        )
    # Decay the kernels only: never biases or batch-norm scales and offsets.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
