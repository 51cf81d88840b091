"""What a user who passes the wrong thing sees: a clear error, and nothing left behind."""

import numpy as np
import pytest

from tests.data_helpers import textured_frames
from tests.data_helpers import write_records
from tests.helpers import require
from tsm_tf.training import TrainConfig
from tsm_tf.training.trainer import train

require("torch", "pip install -e '.[dev]'")
from tsm_tf.interop.torch_checkpoint import read_torch_checkpoint  # noqa: E402


@pytest.mark.parametrize(
    "content",
    [b"epoch,loss\n1,0.5\n", bytes(np.random.default_rng(0).integers(1, 127, 512, np.uint8))],
)
def test_a_file_that_is_no_checkpoint_is_named_as_such(tmp_path, content):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a PyTorch checkpoint"):
        read_torch_checkpoint(str(path))


def test_a_failed_start_leaves_no_folder_that_refuses_the_corrected_command(tmp_path):
    videos = [
        (textured_frames(6, 40, 40, seed=index), index % 2, f"v{index}") for index in range(4)
    ]
    write_records(tmp_path / "train-00000-of-00001.tfrecord", videos)
    (tmp_path / "labels.txt").write_text("left\nright\n")
    run_dir = tmp_path / "run"
    config = TrainConfig(
        train_pattern=str(tmp_path / "train-*.tfrecord"),
        run_dir=str(run_dir),
        backbone="mobilenet_v2",
        width_multiplier=0.35,
        image_size=32,
        num_segments=2,
        batch_size=2,
        epochs=1,
        init_weights=str(tmp_path / "missing.keras"),
    )
    with pytest.raises((FileNotFoundError, ValueError)):
        train(config)
    assert not (run_dir / "config.json").exists()
