"""Classifying video files with a trained clip model: per video, and as a timeline.

- `predict_videos`: one `VideoPrediction` per video, with the paper's test protocol.
- `predict_timelines`: windows through each video, merged into segments.
- `tsm-predict` (`tsm_tf.cli.predict`): the same from the command line, resumable.
"""

from tsm_tf.prediction.timeline import Timeline
from tsm_tf.prediction.video_prediction import VideoPrediction
from tsm_tf.prediction.video_prediction import load_clip_model
from tsm_tf.prediction.video_prediction import predict_timelines
from tsm_tf.prediction.video_prediction import predict_videos

__all__ = [
    "Timeline",
    "VideoPrediction",
    "load_clip_model",
    "predict_timelines",
    "predict_videos",
]
