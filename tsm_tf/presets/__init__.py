"""The authors' TSM checkpoints and torchvision's backbones by name.

    model = tsm_tf.TSMClassifier.from_preset("tsm_resnet50_kinetics400_8f")
    model.labels[:3]  # class names in the checkpoint's order

The first call downloads the file into the Keras cache (`~/.keras/models/
tsm_tf`, or `$KERAS_HOME`), later calls read it from there. See
`registry.py` for what each preset records and `labels/README.md` for where
each class order comes from.
"""

from tsm_tf.presets.download import DownloadError
from tsm_tf.presets.download import fetch
from tsm_tf.presets.loading import from_preset
from tsm_tf.presets.loading import get_preset
from tsm_tf.presets.loading import load_preset_weights
from tsm_tf.presets.loading import preset_file
from tsm_tf.presets.loading import preset_labels
from tsm_tf.presets.registry import PRESETS

__all__ = [
    "PRESETS",
    "DownloadError",
    "fetch",
    "from_preset",
    "get_preset",
    "load_preset_weights",
    "preset_file",
    "preset_labels",
]
