"""The per-frame network both TSM models share: normalization, backbone, classifier head.

The clip model (`TSMClassifier`) and the online model (`OnlineTSM`) differ only
in how frames reach the backbone and what `shift` does; building the rest here
keeps their layer names identical, so weights copy between them by name.
"""

import keras

from tsm_tf.backbones.registry import BACKBONES
from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.image_normalization import ImageNormalization

# Layer names other parts of the library look up.
CLASSIFIER_LAYER = "classifier"
FRAME_LOGITS_LAYER = "frame_logits"


def apply_classifier_head(features, num_classes, dropout):
    """Global average pooling, dropout and the float32 `classifier` Dense layer.

    The head computes in float32 so logits stay exact under mixed precision.
    """
    features = keras.layers.GlobalAveragePooling2D(name="avgpool")(features)
    features = keras.layers.Dropout(dropout, name="dropout")(features)
    return keras.layers.Dense(num_classes, name=CLASSIFIER_LAYER, dtype="float32")(features)


def apply_frame_classifier(frames, config, shift, batch_norm_class=FusedBatchNormalization):
    """Frame logits of RGB frames in [0, 255]: normalize, run the backbone, classify.

    Args:
        frames: `(batch, image_size, image_size, 3)` tensor of a functional graph.
        config: the model's `TSMConfig`.
        shift: `shift(x, name) -> x`, the backbone's hook on every shifted
            residual branch (see `tsm_tf.backbones`).
        batch_norm_class: the backbone's normalization layer.

    Returns:
        `(batch, num_classes)` float32 logits.
    """
    x = ImageNormalization(name="normalize")(frames)
    x = BACKBONES[config.backbone](x, shift, config.width_multiplier, batch_norm_class)
    return apply_classifier_head(x, config.num_classes, config.dropout)
