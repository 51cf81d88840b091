"""tsm_tf: the Temporal Shift Module (Lin, Gan, Han, ICCV 2019) for Keras 3.

Build a video classifier, train it with `model.fit`, stream it frame by frame
on TFLite. See README.md.
"""

from tsm_tf.utils.native_stderr import captured_native_stderr

with captured_native_stderr():
    import keras  # noqa: F401  (TensorFlow loads here, with its native start-up chatter)
    import tensorflow as _tensorflow

    # Finding the devices now keeps a CPU-only machine's "failed call to cuInit" quiet too.
    _tensorflow.config.list_physical_devices()

from tsm_tf.interop.torch_import import load_imagenet_weights
from tsm_tf.interop.torch_import import load_torch_checkpoint
from tsm_tf.layers.cached_shift import CachedShift
from tsm_tf.layers.fused_batch_normalization import FusedBatchNormalization
from tsm_tf.layers.image_normalization import ImageNormalization
from tsm_tf.layers.merge_segments import MergeSegments
from tsm_tf.layers.split_segments import SplitSegments
from tsm_tf.layers.temporal_shift import TemporalShift
from tsm_tf.lite.export import export_tflite
from tsm_tf.lite.frame_pacer import FramePacer
from tsm_tf.lite.parity import check_parity
from tsm_tf.lite.streaming_classifier import StreamingClassifier
from tsm_tf.models.builders import build_tsm
from tsm_tf.models.builders import per_frame_model
from tsm_tf.models.flops import count_flops
from tsm_tf.models.online_tsm import OnlineTSM
from tsm_tf.models.online_tsm import build_online_tsm
from tsm_tf.models.online_tsm import causal_frame_logits
from tsm_tf.models.online_tsm import initial_states
from tsm_tf.models.tsm_classifier import TSMClassifier
from tsm_tf.models.tsm_config import TSMConfig
from tsm_tf.prediction.video_prediction import VideoPrediction
from tsm_tf.prediction.video_prediction import predict_timelines
from tsm_tf.prediction.video_prediction import predict_videos

# Registers the learning-rate schedule, so that checkpoints written by
# `tsm-train` (which keep their optimizer) load after `import tsm_tf` alone.
from tsm_tf.training import schedules as _schedules  # noqa: F401
from tsm_tf.version import __version__

__all__ = [
    "CachedShift",
    "FramePacer",
    "FusedBatchNormalization",
    "ImageNormalization",
    "MergeSegments",
    "OnlineTSM",
    "SplitSegments",
    "StreamingClassifier",
    "TSMClassifier",
    "TSMConfig",
    "TemporalShift",
    "VideoPrediction",
    "__version__",
    "build_online_tsm",
    "build_tsm",
    "causal_frame_logits",
    "check_parity",
    "count_flops",
    "export_tflite",
    "initial_states",
    "load_imagenet_weights",
    "load_torch_checkpoint",
    "per_frame_model",
    "predict_timelines",
    "predict_videos",
]
