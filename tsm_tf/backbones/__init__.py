"""Frame backbones laid out as their PyTorch references, with a hook for the shift.

Each backbone is a function `apply_<name>(frames, shift, width_multiplier)`
that adds its layers to a functional graph and returns the last feature map.
`shift(x, name)` is called on the input of every residual branch that TSM
shifts and returns the tensor the branch should see: the identity for TSN, a
`TemporalShift` for the offline TSM, a cached-state shift for online TSM.

Keras layer names are the PyTorch module paths with dots replaced by
underscores (`layer1.0.conv1` -> `layer1_0_conv1`,
`features.3.conv.0.0` -> `features_3_conv_0_0`), so a state-dict key maps
to a Keras weight mechanically: see `tsm_tf/interop/torch_import.py`.
"""

from tsm_tf.backbones.mobilenet_v2 import apply_mobilenet_v2
from tsm_tf.backbones.mobilenet_v2 import mobilenet_v2_shift_blocks
from tsm_tf.backbones.resnet50 import apply_resnet50
from tsm_tf.backbones.resnet50 import resnet50_shift_blocks

BACKBONES = {
    "mobilenet_v2": apply_mobilenet_v2,
    "resnet50": apply_resnet50,
}

SHIFT_BLOCKS = {
    "mobilenet_v2": mobilenet_v2_shift_blocks,
    "resnet50": resnet50_shift_blocks,
}
