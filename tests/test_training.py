"""tsm-train, tsm-eval and the training recipe on the built-in motion data."""

import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import tsm_tf
from tests.data_helpers import falls_left_to_right
from tests.data_helpers import write_ramp_records
from tests.data_helpers import write_small_motion_dataset
from tests.helpers import fresh_process_environment
from tests.helpers import run_cli
from tsm_tf.training import TrainConfig
from tsm_tf.training import train
from tsm_tf.training.callbacks import StopOnNaN
from tsm_tf.training.losses import SparseCategoricalCrossentropyWithSmoothing
from tsm_tf.training.schedules import WarmupDecay

TINY = {
    "backbone": "mobilenet_v2",
    "width_multiplier": 0.35,
    "image_size": 32,
    "num_segments": 4,
    "batch_size": 4,
    "learning_rate": 0.01,
}


@pytest.fixture(scope="module")
def motion(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("motion")
    return write_small_motion_dataset(out_dir, num_clips=45)


def tiny_motion_model(motion):
    """An untrained model of TINY's architecture for the motion dataset's labels."""
    labels = tsm_tf.data.load_labels(motion["train"])
    return tsm_tf.build_tsm(
        TINY["backbone"],
        len(labels),
        num_segments=TINY["num_segments"],
        image_size=TINY["image_size"],
        width_multiplier=TINY["width_multiplier"],
        labels=labels,
    )


# A run that resumes: every source of randomness a resume must restore is on
# (shuffling, frame sampling, flips, reversal, dropout).
RESUMABLE = dict(
    TINY,
    epochs=3,
    steps_per_epoch=4,
    train_crop="centre",
    flip=True,
    flip_label_swaps=[[0, 1], [6, 7]],
    reverse_time=True,
    reverse_label_swaps=[[0, 1], [2, 3], [4, 5], [6, 7]],
)
# Weights of the same run repeat exactly on this machine (measured: 0.0); the
# bound leaves room for another CPU's rounding.
RESUME_TOLERANCE = 1e-5
# Two workers against one in the trainable weights after the run of
# test_two_workers_train_as_one_worker_with_the_same_global_batch: measured
# 2.4e-4 (7e-7 with the one worker in a fresh process: the first step's
# gradient turns rounding into differences of 1e-3 of the step); a clip of
# each worker's part instead of the sum moved them by 1.1e-2.
WORKER_TOLERANCE = 2e-3


def resumable_config(motion, run_dir):
    return TrainConfig(
        train_pattern=motion["train"],
        validation_pattern=motion["validation"],
        run_dir=str(run_dir),
        **RESUMABLE,
    )


@pytest.fixture(scope="module")
def uninterrupted(motion, tmp_path_factory):
    """The configuration and final weights of `RESUMABLE` trained without a break."""
    keras.utils.set_random_seed(
        0
    )  # train() seeds itself; this only keeps the fixture order-independent
    config = resumable_config(motion, tmp_path_factory.mktemp("uninterrupted"))
    return config, [weight.numpy() for weight in train(config).model.weights]


def largest_difference(weights, others):
    assert len(weights) == len(others) > 100
    return max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(weights, others, strict=True)
    )


def cli_flags(motion, run_dir, **overrides):
    values = dict(TINY, train_pattern=motion["train"], run_dir=str(run_dir))
    values.update(overrides)
    return [f"--{name}={value}" for name, value in values.items()]


def test_train_killed_mid_run_resumes_without_repeating_or_losing_epochs(
    motion, uninterrupted, tmp_path
):
    run_dir = tmp_path / "run"
    flags = cli_flags(
        motion,
        run_dir,
        epochs=3,
        steps_per_epoch=4,
        validation_pattern=motion["validation"],
        train_crop="centre",
        flip=True,
        flip_label_swaps="0:1,6:7",
        reverse_time=True,
        reverse_label_swaps="0:1,2:3,4:5,6:7",
    )
    env = fresh_process_environment()
    process = subprocess.Popen(
        [sys.executable, "-m", "tsm_tf.cli.train", *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_path = run_dir / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if state_path.exists() and json.loads(state_path.read_text())["epochs_completed"] >= 1:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_after = json.loads(state_path.read_text())["epochs_completed"]
    assert 1 <= killed_after < 3, "the run should have been killed before its last epoch"

    # Not a terminal, so a progress line per step (every 0 s) with the loss, up to the total.
    result = run_cli("tsm_tf.cli.train", flags, environment={"TSM_TF_PROGRESS_SECONDS": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Finished 3 epochs" in result.stdout
    assert re.search(r"^Epoch 3: 4/4 steps, loss \d+\.\d{4} \(", result.stderr, re.M)
    assert json.loads(state_path.read_text())["epochs_completed"] == 3
    with open(run_dir / "log.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    # The resumed run, a fresh process with only tsm_tf's classes, loaded the
    # killed run's checkpoint optimizer included: its step count carried on.
    resumed_model = keras.models.load_model(run_dir / "last.keras")
    assert int(resumed_model.optimizer.iterations) == 3 * 4  # every step ran exactly once
    # ... and the killed and resumed run ends where the same run without a break does.
    reference_config, reference_weights = uninterrupted
    assert dataclasses.replace(
        TrainConfig.load(run_dir / "config.json"), run_dir=reference_config.run_dir
    ) == (reference_config)
    assert largest_difference(resumed_model.weights, reference_weights) <= RESUME_TOLERANCE
    assert (run_dir / "best.keras").exists()
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["epochs"] == 3 and saved["train_crop"] == "centre"
    assert saved["flip"] and saved["flip_label_swaps"] == [[0, 1], [6, 7]]
    assert saved["reverse_time"] and saved["reverse_label_swaps"] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
    ]
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    assert not [name for name in os.listdir(run_dir) if name.startswith(".tmp-")]


class Interrupted(Exception):
    """Raised mid-epoch in place of a kill."""


def interrupt_in_epoch_two(monkeypatch):
    """Makes the next training stop at the second step of its second epoch, as a kill would."""
    original = StopOnNaN.on_train_batch_end

    def stop(self, batch, logs=None):
        original(self, batch, logs)
        if self._epoch == 1 and batch == 1:
            raise Interrupted

    monkeypatch.setattr(StopOnNaN, "on_train_batch_end", stop)


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    motion, uninterrupted, tmp_path, monkeypatch
):
    """Data stream, optimizer, schedule and dropout all carry on where the last epoch ended.

    The same interruption resumed with a planted fault (the data stream
    restarting from the first epoch) ends far outside the tolerance.
    """
    from tsm_tf.training import trainer

    reference_config, reference_weights = uninterrupted
    config = resumable_config(motion, tmp_path / "run")
    with monkeypatch.context() as patch:
        interrupt_in_epoch_two(patch)
        with pytest.raises(Interrupted):
            train(config)
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epochs_completed"] == 1
    shutil.copytree(tmp_path / "run", tmp_path / "interrupted")

    resumed = train(config)
    assert int(resumed.model.optimizer.iterations) == 3 * 4
    assert largest_difference(resumed.model.weights, reference_weights) <= RESUME_TOLERANCE

    shutil.rmtree(tmp_path / "run")
    shutil.copytree(tmp_path / "interrupted", tmp_path / "run")
    make_datasets = trainer._make_datasets
    monkeypatch.setattr(
        trainer,
        "_make_datasets",
        lambda config, strategy, initial_epoch=0: make_datasets(config, strategy),
    )
    restarted = train(config)
    assert largest_difference(restarted.model.weights, reference_weights) > 100 * RESUME_TOLERANCE


def test_nan_loss_stops_and_names_the_step(motion, tmp_path):
    broken = tiny_motion_model(motion)
    kernel, bias = broken.get_layer("classifier").get_weights()
    broken.get_layer("classifier").set_weights([kernel, np.full_like(bias, np.nan)])
    broken.save(tmp_path / "broken.keras")
    config = TrainConfig(
        train_pattern=motion["train"],
        run_dir=str(tmp_path / "run"),
        epochs=2,
        init_weights=str(tmp_path / "broken.keras"),
        **TINY,
    )
    with pytest.raises(
        FloatingPointError, match=r"became nan at epoch 1, step 1 of the epoch \(global step 1\)"
    ):
        train(config)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train_pattern": "/no/such/dir/train-*.tfrecord"}, "No record files match"),
        ({"backbone": "vgg16"}, "--backbone=vgg16: value should be one of"),
        ({"warmup_epochs": 5, "epochs": 2}, "warmup_epochs"),
        ({"train_crop": "random"}, "--train_crop=random: value should be one of"),
        ({"train_pattern": ""}, "--train_pattern is required"),
        (
            {"flip": True, "flip_label_swaps": "0-1"},
            "--flip_label_swaps takes pairs of class indices like 0:1,6:7",
        ),
        ({"flip": True, "flip_label_swaps": "0:1,1:2"}, "each index in one pair at most"),
        ({"flip_label_swaps": "0:1"}, "only applies with `flip=True`"),
        ({"flip": True, "flip_label_swaps": "0:9"}, "names a class index past the 9 classes"),
        (
            {"reverse_time": True, "reverse_label_swaps": "4:5,a:b"},
            "--reverse_label_swaps takes pairs",
        ),
        (
            {"reverse_time": True, "reverse_label_swaps": "4:9"},
            "`reverse_label_swaps` pair (4, 9) names a class",
        ),
    ],
)
def test_bad_flags_and_missing_files(motion, tmp_path, overrides, message):
    result = run_cli("tsm_tf.cli.train", cli_flags(motion, tmp_path / "run", **overrides))
    assert result.returncode != 0
    assert message in result.stderr


def test_config_names_a_bad_training_crop(motion):
    with pytest.raises(
        ValueError,
        match="`train_crop` must be one of 'multi_scale', 'center', 'centre'. Received: train_crop='random'",
    ):
        TrainConfig(train_pattern=motion["train"], run_dir="unused", train_crop="random", **TINY)


def test_config_checks_reversal_swaps(motion):
    with pytest.raises(
        ValueError, match="`reverse_label_swaps` only applies with `reverse_time=True`"
    ):
        TrainConfig(
            train_pattern=motion["train"], run_dir="unused", reverse_label_swaps=[[0, 1]], **TINY
        )
    with pytest.raises(
        ValueError, match="`reverse_label_swaps` holds pairs of distinct class indices"
    ):
        TrainConfig(
            train_pattern=motion["train"],
            run_dir="unused",
            reverse_time=True,
            reverse_label_swaps=[[0, 1], [1, 2]],
            **TINY,
        )
    config = TrainConfig(
        train_pattern=motion["train"],
        run_dir="unused",
        reverse_time=True,
        reverse_label_swaps=[[0, 1], [4, 5]],
        **TINY,
    )
    assert config.reverse_label_map == {0: 1, 1: 0, 4: 5, 5: 4}


def test_flipped_training_clips_swap_their_labels(tmp_path):
    """The trainer's input pipeline applies `flip_label_swaps` to flipped clips."""
    from tsm_tf.data.records import write_labels
    from tsm_tf.training.trainer import _make_datasets

    write_ramp_records(
        tmp_path / "ramp-00000-of-00001.tfrecord", num_videos=32, num_frames=4, height=48
    )
    write_labels(str(tmp_path), ["rising", "falling", "other"])
    config = TrainConfig(
        train_pattern=str(tmp_path / "ramp-*.tfrecord"),
        run_dir=str(tmp_path / "run"),
        flip=True,
        flip_label_swaps=[[0, 1]],
        train_crop="centre",
        **dict(TINY, batch_size=32),
    )
    assert config.flip_label_map == {0: 1, 1: 0}
    train_data, _, _ = _make_datasets(config, tf.distribute.get_strategy())
    clips, labels = next(iter(train_data))
    falling = falls_left_to_right(clips)
    np.testing.assert_array_equal(labels.numpy(), falling.astype(np.int32))
    assert 0 < falling.sum() < 32


def test_a_different_configuration_is_not_resumed_but_a_moved_or_longer_run_is(
    motion, tmp_path, monkeypatch, caplog
):
    config = TrainConfig(
        train_pattern=motion["train"], run_dir=str(tmp_path), epochs=1, steps_per_epoch=1, **TINY
    )
    train(config)
    changed = TrainConfig(
        train_pattern=motion["train"],
        run_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=1,
        **dict(TINY, image_size=48),
    )
    with pytest.raises(ValueError, match="image_size: 32 -> 48"):
        train(changed)
    # The folder moved and spelled another way, one epoch more: the same run resumes.
    moved = tmp_path.parent / f"{tmp_path.name}_moved"
    os.rename(tmp_path, moved)
    monkeypatch.chdir(moved.parent)
    more = dataclasses.replace(config, run_dir=f"./{moved.name}/", epochs=2)
    with caplog.at_level("INFO"):
        result = train(more)
    assert f"Resuming ./{moved.name}/ after epoch 1." in caplog.text
    assert result.epochs_completed == 2
    assert TrainConfig.load(moved / "config.json") == more


def test_eval_writes_report_and_confusion_png(motion, tmp_path):
    model = tiny_motion_model(motion)
    model.save(tmp_path / "model.keras")
    result = run_cli(
        "tsm_tf.cli.evaluate",
        [
            f"--model={tmp_path / 'model.keras'}",
            f"--pattern={motion['validation']}",
            "--num_clips=2",
            "--num_crops=3",
            "--batch_size=4",
            f"--out_dir={tmp_path / 'eval'}",
        ],
        environment={"TSM_TF_PROGRESS_SECONDS": "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    confusion = np.array(report["confusion_matrix"])
    assert report["num_videos"] == confusion.sum() == 9
    assert report["top1"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert report["top1"] <= report["top5"] <= 1.0
    assert set(report["per_class_accuracy"]) == set(report["labels"])
    assert report["protocol"] == {"num_clips": 2, "num_crops": 3}
    assert (tmp_path / "eval" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "9 videos, 2 clips x 3 crops: top-1" in result.stdout
    # Not a terminal: a line per batch of 4 (every 0 s), up to the total.
    assert "Evaluating 9 videos: 2 clips x 3 crops each, in batches of 4." in result.stderr
    counts = re.findall(r"^Evaluated: (\d+)/9 videos \(", result.stderr, re.M)
    assert counts == ["4", "8", "9"], result.stderr[-3000:]


def reserve_ports(count):
    """`count` free local ports, each held by a bound socket until the caller closes it."""
    sockets = []
    for _ in range(count):
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        sockets.append(held)
    return sockets


def run_two_workers(train_pattern, run_dir, settings, out_dir, attempts=3):
    """Trains `settings` on two worker processes (MultiWorkerMirroredStrategy); returns their weights.

    Ports are held until just before the workers start; the rare start that
    still loses one to another process is retried with new ports.
    """
    script = textwrap.dedent(
        f"""
        import json, os, sys
        index, ports = int(sys.argv[1]), sys.argv[2].split(",")
        os.environ["TF_CONFIG"] = json.dumps({{
            "cluster": {{"worker": [f"127.0.0.1:{{port}}" for port in ports]}},
            "task": {{"type": "worker", "index": index}},
        }})
        import numpy as np
        from tsm_tf.training import TrainConfig, train
        config = TrainConfig(train_pattern={train_pattern!r}, run_dir={str(run_dir)!r}, strategy="multi_worker",
                             **{settings!r})
        result = train(config)
        np.savez({str(out_dir)!r} + f"/worker{{index}}.npz", *[w.numpy() for w in result.model.weights],
                 iterations=result.model.optimizer.iterations.numpy())
        """
    )
    env = fresh_process_environment()
    for attempt in range(attempts):
        sockets = reserve_ports(2)
        ports = ",".join(str(held.getsockname()[1]) for held in sockets)
        for held in sockets:
            held.close()
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(index), ports],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for index in range(2)
        ]
        outputs = [worker.communicate(timeout=300) for worker in workers]
        failures = [
            stderr for worker, (_, stderr) in zip(workers, outputs) if worker.returncode != 0
        ]
        if not failures:
            break
        port_taken = any("Address already in use" in stderr for stderr in failures)
        if not port_taken or attempt == attempts - 1:
            raise AssertionError(failures[0][-3000:])
        shutil.rmtree(run_dir, ignore_errors=True)
    return [np.load(out_dir / f"worker{index}.npz") for index in range(2)]


def synchronize_batch_norm_on_one_worker(monkeypatch):
    """Makes the trainer's one-worker runs compute batch norm as its multi-worker runs do.

    Several workers need Keras's synchronized batch norm (statistics summed
    over workers as E[x^2] - E[x]^2); one worker trains with the fused
    kernel. That difference in arithmetic alone moved the weights of the run
    below by 2.2e-3 after one step, so the comparison of one and two workers
    takes the same arithmetic on both sides.
    """
    from tsm_tf.training import trainer

    build = trainer._build_model

    def build_synchronized(config, labels):
        model = build(config, labels)
        trainer._synchronize_batch_norm(model)
        return model

    monkeypatch.setattr(trainer, "_build_model", build_synchronized)


def learned_differences(weights, others):
    """Largest |difference| of each trainable weight (moving statistics left out), by path."""
    differences = {
        weight.path: float(np.max(np.abs(np.asarray(weight) - np.asarray(other))))
        for weight, other in zip(weights, others, strict=True)
        if "moving_" not in weight.path
    }
    assert len(differences) > 100
    return differences


def test_two_workers_train_as_one_worker_with_the_same_global_batch(tmp_path, monkeypatch):
    """Two workers (each its own shard and half of each global batch) match one worker.

    Two shards of two clips and a global batch of 4: every step sees all four
    clips, one worker or two, with no randomness left (clips of 4 frames for
    4 segments, centre crop, no dropout). The gradients exceed the default
    clip norm, so a clip of each worker's part instead of their sum shows.
    Both workers reading the same shard changes what is learned, as the
    guard shows.

    The first epoch learns at the recipe's rate; a step decay (and no
    momentum) then all but stops learning, so the next two epochs show that
    each worker has a batch in every epoch without compounding rounding:
    this tiny model amplifies it step by step (batch norms of 1x1 features
    with channels of nearly zero variance), and three steps at 1e-3 left
    1.7e-3 between one and two workers. Moving statistics are not compared:
    they follow the weights' rounding still more steeply (0.2 here).
    """
    data = write_small_motion_dataset(tmp_path / "data", num_clips=5, num_frames=4, num_workers=1)
    settings = dict(
        TINY,
        epochs=3,
        dropout=0.0,
        train_crop="centre",
        schedule="step",
        decay_epochs=[1],
        momentum=0.0,
        decay_rate=1e-5,
    )
    synchronize_batch_norm_on_one_worker(monkeypatch)
    one_worker = train(
        TrainConfig(train_pattern=data["train"], run_dir=str(tmp_path / "one"), **settings)
    )
    assert int(one_worker.model.optimizer.iterations) == 3

    # Guard: one worker on the first shard twice (what two workers reading the
    # same shard would train on) ends far from one worker on both shards
    # (measured 0.044, with one step of learning).
    same_shard = tmp_path / "same_shard"
    same_shard.mkdir()
    shards = sorted(tf.io.gfile.glob(data["train"]))
    for name in ("train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"):
        shutil.copyfile(shards[0], same_shard / name)
    shutil.copyfile(data["labels"], same_shard / "labels.txt")
    wrong = train(
        TrainConfig(
            train_pattern=str(same_shard / "train-*.tfrecord"),
            run_dir=str(tmp_path / "wrong"),
            **settings,
        )
    )
    assert (
        max(learned_differences(wrong.model.weights, one_worker.model.weights).values())
        > 10 * WORKER_TOLERANCE
    )

    first, second = run_two_workers(data["train"], tmp_path / "two", settings, tmp_path)
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert int(first["iterations"]) == 3
    assert (tmp_path / "two" / "last.keras").exists()
    two_workers = [first[name] for name in first.files if name != "iterations"]
    differences = learned_differences(one_worker.model.weights, two_workers)
    assert max(differences.values()) <= WORKER_TOLERANCE, max(
        differences.items(), key=lambda item: item[1]
    )


def test_warmup_then_cosine_and_step_decay():
    cosine = WarmupDecay(0.1, total_steps=100, warmup_steps=10)
    rates = [float(cosine(step)) for step in range(100)]
    assert rates[0] == pytest.approx(0.01) and rates[9] == pytest.approx(0.1)
    assert rates[10] == pytest.approx(0.1) and rates[55] == pytest.approx(0.05, abs=1e-6)
    assert rates[99] < 1e-3 and all(a >= b for a, b in zip(rates[10:], rates[11:]))
    step = WarmupDecay(0.1, total_steps=100, schedule="step", decay_steps=[30, 60], decay_rate=0.1)
    assert [float(step(s)) for s in (0, 29, 30, 59, 60)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001]
    )
    restored = WarmupDecay.from_config(step.get_config())
    assert float(restored(45)) == pytest.approx(0.01)


def test_label_smoothing_matches_the_formula():
    logits = np.array([[2.0, 0.5, -1.0]], "float32")
    loss = SparseCategoricalCrossentropyWithSmoothing(label_smoothing=0.3)(np.array([0]), logits)
    log_probabilities = logits - np.log(np.exp(logits).sum())
    target = np.array([0.7 + 0.1, 0.1, 0.1])
    assert float(loss) == pytest.approx(-(target * log_probabilities).sum(), rel=1e-5)


def test_recipe_decays_kernels_only_and_partial_bn(motion):
    from tsm_tf.training.trainer import _build_model
    from tsm_tf.training.trainer import _make_optimizer

    config = TrainConfig(train_pattern=motion["train"], run_dir="unused", partial_bn=True, **TINY)
    model = _build_model(config, [str(index) for index in range(9)])
    batch_norms = [
        layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert batch_norms[0].trainable and not any(layer.trainable for layer in batch_norms[1:])
    optimizer = _make_optimizer(config, steps_per_epoch=10)
    optimizer.build(model.trainable_variables)
    decayed = {
        variable.name
        for variable in model.trainable_variables
        if optimizer._use_weight_decay(variable)
    }
    assert decayed and all(name in ("kernel", "depthwise_kernel") for name in decayed)
    assert optimizer.global_clipnorm == 20.0


def test_zero_init_residual_silences_every_residual_branch(motion):
    from tsm_tf.training.trainer import _build_model

    config = TrainConfig(
        train_pattern=motion["train"], run_dir="unused", zero_init_residual=True, **TINY
    )
    model = _build_model(config, [str(index) for index in range(9)])
    silenced = [
        layer.name
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization) and not np.any(layer.gamma.numpy())
    ]
    assert silenced == [f"features_{index}_conv_3" for index in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16)]
    clips = np.random.default_rng(0).uniform(0, 255, (1, 4, 32, 32, 3)).astype("float32")
    tsn = tsm_tf.build_tsm(
        "mobilenet_v2", 9, num_segments=4, image_size=32, width_multiplier=0.35, shift_div=0
    )
    tsn.set_weights(model.get_weights())
    # With every shifted branch silenced, the shift cannot change the output yet.
    np.testing.assert_allclose(
        model.predict(clips, verbose=0), tsn.predict(clips, verbose=0), atol=1e-5
    )


def test_mixed_precision_run_leaves_no_global_policy_behind(motion, tmp_path):
    config = TrainConfig(
        train_pattern=motion["train"],
        run_dir=str(tmp_path),
        epochs=1,
        steps_per_epoch=2,
        precision="mixed_float16",
        **TINY,
    )
    result = train(config)
    assert np.isfinite(result.history["loss"][-1])
    assert (
        keras.backend.standardize_dtype(result.model.get_layer("features_3_shift").compute_dtype)
        == "float16"
    )
    assert keras.config.dtype_policy().name == "float32"


def test_single_worker_epochs_have_a_known_length(motion, tmp_path):
    """An epoch is one pass's whole batches, seeded by its index; validation declares its length."""
    from tsm_tf.training.trainer import _make_datasets

    config = TrainConfig(
        train_pattern=motion["train"],
        validation_pattern=motion["validation"],
        run_dir=str(tmp_path),
        **TINY,
    )
    train_data, validation_data, steps = _make_datasets(config, tf.distribute.get_strategy())
    train_videos = sum(1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(motion["train"])))
    validation_videos = sum(
        1 for _ in tf.data.TFRecordDataset(tf.io.gfile.glob(motion["validation"]))
    )
    batch_size = TINY["batch_size"]
    assert steps == train_videos // batch_size  # the partial batch is not a step
    # Two epochs of batches are all whole, and every class appears.
    two_epochs = [batch for batch in train_data.take(2 * steps)]
    labels = np.concatenate([batch[1].numpy() for batch in two_epochs])
    assert labels.shape == (2 * steps * batch_size,)
    assert np.bincount(labels).min() >= 1
    # Each epoch is a pass drawn from a seed of its own: a resumed run's
    # stream (from epoch 1) is the full stream from its second epoch on.
    resumed, _, _ = _make_datasets(config, tf.distribute.get_strategy(), initial_epoch=1)
    for full, resumed_batch in zip(two_epochs[steps:], resumed.take(steps), strict=True):
        np.testing.assert_array_equal(full[0].numpy(), resumed_batch[0].numpy())
        np.testing.assert_array_equal(full[1].numpy(), resumed_batch[1].numpy())
    assert not np.array_equal(two_epochs[0][0].numpy(), two_epochs[steps][0].numpy())
    assert int(validation_data.cardinality()) == -(-validation_videos // batch_size)
    # The declared length is the real one (assert_cardinality would raise otherwise).
    assert sum(1 for _ in validation_data) == -(-validation_videos // batch_size)
    # Autotuning off: releasing a long-lived iterator with it on stalled for up to a minute.
    assert train_data.options().autotune.enabled is False
    assert validation_data.options().autotune.enabled is False
    _, _, configured = _make_datasets(
        dataclasses.replace(config, steps_per_epoch=3), tf.distribute.get_strategy()
    )
    assert configured == 3


def test_jit_compile_warns_on_cpus_only(caplog):
    from tsm_tf.training.trainer import warn_if_jit_compile_on_cpu

    cpu = [tf.config.LogicalDevice("/device:CPU:0", "CPU")]
    gpu = cpu + [tf.config.LogicalDevice("/device:GPU:0", "GPU")]
    with caplog.at_level("WARNING"):
        assert warn_if_jit_compile_on_cpu(True, cpu)
    assert "benchmarks/benchmark_jit.py" in caplog.text and "--nojit_compile" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert not warn_if_jit_compile_on_cpu(False, cpu)
        assert not warn_if_jit_compile_on_cpu(True, gpu)
    assert caplog.text == ""


@pytest.mark.parametrize("jit_compile", [True, False])
def test_train_warns_about_jit_compile_before_reading_data(tmp_path, caplog, jit_compile):
    # A missing dataset stops the run right after the device check, so no training runs.
    config = TrainConfig(
        train_pattern=str(tmp_path / "train-*.tfrecord"),
        run_dir=str(tmp_path / "run"),
        jit_compile=jit_compile,
        **TINY,
    )
    with caplog.at_level("WARNING"), pytest.raises(FileNotFoundError):
        train(config)
    on_cpus_only = not tf.config.list_logical_devices("GPU")
    assert ("measured slower" in caplog.text) == (jit_compile and on_cpus_only)
