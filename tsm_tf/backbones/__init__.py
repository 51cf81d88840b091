"""Frame backbones laid out as their PyTorch references, with a hook for the shift.

Each backbone is a function
`apply_<name>(frames, shift, width_multiplier, batch_norm_class)`
that adds its layers to a functional graph and returns the last feature map.
`shift(x, name)` is called on the input of every residual branch that TSM
shifts and returns the tensor the branch should see: the identity for TSN, a
`TemporalShift` for the offline TSM, a cached-state shift for online TSM.

Keras layer names are the PyTorch module paths with dots replaced by
underscores (`layer1.0.conv1` -> `layer1_0_conv1`,
`features.3.conv.0.0` -> `features_3_conv_0_0`), so a state-dict key maps
to a Keras weight mechanically: see `tsm_tf/interop/torch_import.py`.
`batch_norm_class` is the normalization layer of every block
(`FusedBatchNormalization` unless a caller such as a benchmark swaps it).
`registry.py` names them.
"""

from tsm_tf.backbones.registry import BACKBONES
from tsm_tf.backbones.registry import SHIFT_BLOCKS

__all__ = ["BACKBONES", "SHIFT_BLOCKS"]
