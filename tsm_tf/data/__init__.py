"""Video input for tsm_tf: TFRecord shards, TSN sampling, augmentation, a built-in dataset.

- `make_dataset`: shards -> batches of `(clips, labels)` for `model.fit`.
- `load_labels`, `read_videos`: the label map and fully decoded videos.
- `write_motion_dataset`: a download-free dataset of camera motions.
- `tsm-prepare` (`tsm_tf.cli.prepare`): videos or frame folders -> shards.
"""

from tsm_tf.data.motion import MOTION_CLASSES
from tsm_tf.data.motion import MOTION_FLIP_LABEL_MAP
from tsm_tf.data.motion import MOTION_FLIP_LABEL_SWAPS
from tsm_tf.data.motion import MOTION_REVERSE_LABEL_MAP
from tsm_tf.data.motion import MOTION_REVERSE_LABEL_SWAPS
from tsm_tf.data.motion import write_motion_dataset
from tsm_tf.data.pipeline import make_dataset
from tsm_tf.data.records import load_labels
from tsm_tf.data.records import read_videos

__all__ = [
    "MOTION_CLASSES",
    "MOTION_FLIP_LABEL_MAP",
    "MOTION_FLIP_LABEL_SWAPS",
    "MOTION_REVERSE_LABEL_MAP",
    "MOTION_REVERSE_LABEL_SWAPS",
    "load_labels",
    "make_dataset",
    "read_videos",
    "write_motion_dataset",
]
