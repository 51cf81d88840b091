"""Files written by older tsm_tf versions still load and give the outputs they gave then.

The fixtures in tests/fixtures/ were made by tests/fixtures/make_fixtures.py
before the package was reorganized (issue 15); the expected outputs are what
that code computed, so these tests catch a renamed registered class, a changed
layer name or a changed numeric path.
"""

import os

import keras
import numpy as np
import pytest

import tsm_tf
from tsm_tf.lite import streaming
from tsm_tf.lite.metadata import read_metadata
from tsm_tf.lite.streaming import logits_of
from tsm_tf.lite.tflite_model import TFLiteModel

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
LABELS = ["wave", "push", "idle"]


def fixture(name):
    return os.path.join(FIXTURES, name)


def load(name):
    return np.load(fixture(name))


@pytest.fixture(scope="module")
def clip_model():
    return keras.models.load_model(fixture("clip_model.keras"), compile=False)


def stream_keras(online, frames):
    return logits_of(streaming.stream_keras(online, frames))


def test_old_clip_model_loads_with_its_config_and_outputs(clip_model):
    assert isinstance(clip_model, tsm_tf.TSMClassifier)
    assert clip_model.labels == LABELS
    assert (clip_model.num_segments, clip_model.image_size, clip_model.bidirectional) == (
        4,
        32,
        False,
    )
    clips = load("clips.npy")
    logits = np.asarray(clip_model.predict(clips, verbose=0))
    np.testing.assert_allclose(logits, load("clip_logits.npy"), atol=1e-4, rtol=1e-4)
    # Sensitivity: the recorded logits are far from those of another input.
    other = np.asarray(clip_model.predict(clips[::-1], verbose=0))
    assert np.max(np.abs(other - load("clip_logits.npy"))) > 0.5


def test_old_online_model_loads_and_streams_as_before():
    online = keras.models.load_model(fixture("online_model.keras"), compile=False)
    frames = load("clips.npy")[0]
    expected = load("online_logits.npy")
    np.testing.assert_allclose(stream_keras(online, frames), expected, atol=1e-4, rtol=1e-4)
    assert np.max(np.abs(stream_keras(online, frames[::-1]) - expected)) > 0.5


def test_old_clip_model_rebuilds_the_old_online_model(clip_model):
    online = tsm_tf.build_online_tsm(clip_model)
    np.testing.assert_allclose(
        stream_keras(online, load("clips.npy")[0]), load("online_logits.npy"), atol=1e-4, rtol=1e-4
    )


def test_old_online_model_cannot_export_and_says_how_to_rebuild(tmp_path):
    # The old online model is a plain functional model: its configuration was not saved.
    online = keras.models.load_model(fixture("online_model.keras"), compile=False)
    with pytest.raises(ValueError, match="rebuild it with tsm_tf.build_online_tsm"):
        tsm_tf.export_tflite(online, tmp_path / "model.tflite")


def test_online_model_saved_today_reloads_as_online_tsm_and_exports(clip_model, tmp_path):
    online = tsm_tf.build_online_tsm(clip_model)
    online.save(tmp_path / "online.keras")
    reloaded = keras.models.load_model(tmp_path / "online.keras", compile=False)
    assert isinstance(reloaded, tsm_tf.OnlineTSM)
    assert reloaded.tsm_config == clip_model.tsm_config
    metadata = tsm_tf.export_tflite(reloaded, tmp_path / "model.tflite")
    assert metadata["labels"] == LABELS
    assert metadata["num_segments"] == 4
    logits = logits_of(
        streaming.stream_tflite(str(tmp_path / "model.tflite"), load("clips.npy")[0])
    )
    np.testing.assert_allclose(logits, load("online_logits.npy"), atol=1e-3)


def test_old_tflite_metadata_reads():
    metadata = read_metadata(fixture("streaming_float32.tflite"))
    assert metadata["mode"] == "streaming"
    assert metadata["precision"] == "float32"
    assert metadata["labels"] == LABELS
    assert metadata["preprocessing"]["crop"] == "center"
    assert metadata["input"]["shape"] == [1, 32, 32, 3]
    # At width 0.1 the first block is 8 -> 8 channels too, so 11 blocks shift.
    assert len(metadata["states"]) == 11


def test_old_tflite_gives_the_recorded_logits():
    model = TFLiteModel(fixture("streaming_float32.tflite"), num_threads=1)
    frames = load("clips.npy")[0]
    logits = np.stack([model(frame) for frame in frames])
    np.testing.assert_allclose(logits, load("tflite_logits.npy"), atol=1e-5)
    # The same file also agrees with the Keras online model it was exported from.
    np.testing.assert_allclose(logits, load("online_logits.npy"), atol=1e-3)


def test_old_tflite_streaming_classifier_gives_the_recorded_scores():
    classifier = tsm_tf.StreamingClassifier(
        fixture("streaming_float32.tflite"), num_threads=1, smoothing_window=2
    )
    raw_frames = load("raw_frames.npy")
    scores = np.stack([classifier.classify(frame).scores for frame in raw_frames])
    np.testing.assert_allclose(scores, load("classifier_scores.npy"), atol=1e-5)
    assert np.max(np.abs(scores[-1] - scores[0])) > 0.1
