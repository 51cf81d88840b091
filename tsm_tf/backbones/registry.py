"""The backbones by name, and the names of the blocks each one shifts."""

from tsm_tf.backbones.mobilenet_v2 import apply_mobilenet_v2
from tsm_tf.backbones.mobilenet_v2 import mobilenet_v2_shift_blocks
from tsm_tf.backbones.resnet50 import apply_resnet50
from tsm_tf.backbones.resnet50 import apply_resnet101
from tsm_tf.backbones.resnet50 import resnet50_shift_blocks
from tsm_tf.backbones.resnet50 import resnet101_shift_blocks

BACKBONES = {
    "mobilenet_v2": apply_mobilenet_v2,
    "resnet50": apply_resnet50,
    "resnet101": apply_resnet101,
}

SHIFT_BLOCKS = {
    "mobilenet_v2": mobilenet_v2_shift_blocks,
    "resnet50": resnet50_shift_blocks,
    "resnet101": resnet101_shift_blocks,
}
