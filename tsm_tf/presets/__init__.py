"""The authors' TSM checkpoints and torchvision's backbones by name.

    model = tsm_tf.TSMClassifier.from_preset("tsm_resnet50_kinetics400_8f")
    model.labels[:3]  # class names in the checkpoint's order

The first call downloads the file into the Keras cache (`~/.keras/models/
tsm_tf`, or `$KERAS_HOME`), later calls read it from there. See
`registry.py` for what each preset records and `labels/README.md` for where
each class order comes from.

This package sits below the models (it knows no model builder): the models
call `preset_architecture` and `load_preset_weights`; only `export.py`, a
user of models, sits above them.
"""

from tsm_tf.presets.download import DownloadError
from tsm_tf.presets.download import fetch
from tsm_tf.presets.loading import get_preset
from tsm_tf.presets.loading import is_preset
from tsm_tf.presets.loading import load_preset_weights
from tsm_tf.presets.loading import preset_architecture
from tsm_tf.presets.loading import preset_file
from tsm_tf.presets.loading import preset_labels
from tsm_tf.presets.registry import PRESETS

__all__ = [
    "PRESETS",
    "DownloadError",
    "fetch",
    "get_preset",
    "is_preset",
    "load_preset_weights",
    "preset_architecture",
    "preset_file",
    "preset_labels",
]
