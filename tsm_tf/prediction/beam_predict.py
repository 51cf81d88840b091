"""`tsm-predict --runner=...`: the same per-video results as `predict_videos`, on Apache Beam.

    videos -> decode and make the test views (workers; unusable videos become
    error rows) -> RunInference (Beam's transform, with a model handler that
    loads the clip model once per worker and batches videos) -> rows ->
    sharded JSONL written by Beam (`<output>-00000-of-0000n.jsonl`)

The views, the model call and the rows are `predict_videos`' own functions
(`video_views`, `average_view_scores`, `make_prediction`).
"""

import json
from collections.abc import Sequence

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler
from apache_beam.ml.inference.base import ModelHandler
from apache_beam.ml.inference.base import PredictionResult
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions

# Videos per model call in RunInference.
MAX_BATCH_VIDEOS = 8
# What MakeViews emits: (VIEWS, key, views) or (ERRORS, path, reason, detail).
VIEWS = "views"
ERRORS = "errors"


def run_beam_prediction(
    model_path: str,
    videos: Sequence[str],
    output_prefix: str,
    beam_args: Sequence[str],
    top_k: int = 5,
    num_clips: int = 1,
    num_crops: int = 1,
    sampling: str = "segment",
    resize_shorter_side: int | None = None,
    num_shards: int = 1,
) -> list[str]:
    """Runs the pipeline to the end on the runner `beam_args` name; returns the shard paths.

    Args:
        model_path: a `.keras` clip model (or a preset name) that every worker can read.
        videos: video paths every worker can read (any Beam file system).
        output_prefix: shards are `output_prefix-SSSSS-of-NNNNN.jsonl`, each
            video's row in shard `crc32(path) % num_shards`, sorted by path.
        beam_args: Beam's pipeline options, e.g. `["--runner=DirectRunner"]`, or
            `["--runner=DaskRunner", "--dask_client_address=tcp://..."]`.
        num_shards: output files; every shard is written, empty or not.
        The rest: as `tsm_tf.predict_videos`.
    """
    from tsm_tf.lite.preprocessing import default_resize_shorter_side
    from tsm_tf.prediction.video_prediction import ClipContract
    from tsm_tf.prediction.video_prediction import load_clip_model
    from tsm_tf.prediction.video_prediction import model_labels

    model = load_clip_model(model_path)  # refused here, before the pipeline starts
    image_size = model.input.shape[2]
    contract = ClipContract(
        model.input.shape[1],
        image_size,
        resize_shorter_side or default_resize_shorter_side(image_size),
    )
    settings = dict(
        labels=model_labels(model),
        top_k=top_k,
        protocol={"num_clips": num_clips, "num_crops": num_crops, "sampling": sampling},
    )
    handler = KeyedModelHandler(ClipModelHandler(model_path, num_clips * num_crops))
    options = PipelineOptions(list(_runner_names(beam_args)))
    pipeline = beam.Pipeline(options=options)
    # One output, split by two filters: DaskRunner (Beam 2.78) hands a ParDo's
    # main outputs to its tagged outputs too (`with_outputs`, measured).
    decoded = (
        pipeline
        | "Videos" >> beam.Create(list(videos))
        | "Reshuffle" >> beam.Reshuffle()
        | "Views" >> beam.ParDo(MakeViews(contract, num_clips, num_crops, sampling))
    )
    predicted = (
        decoded
        | "Decoded" >> beam.Filter(lambda element: element[0] == VIEWS)
        | "Keyed" >> beam.Map(lambda element: element[1:])
        | "RunInference" >> RunInference(handler)
        | "Rows" >> beam.Map(_prediction_row, **settings)
    )
    errors = (
        decoded
        | "Unusable" >> beam.Filter(lambda element: element[0] == ERRORS)
        | "ErrorRows" >> beam.Map(_error_row, settings["protocol"])
    )
    # Beam's WriteToText fails on DaskRunner (its finalize step recomputes the
    # writes and finds other temporary files, measured), so each shard is written
    # whole, atomically, by one worker: a recomputed shard is the same file again.
    keyed_rows = (
        (predicted, errors)
        | "All" >> beam.Flatten()
        | "Shard" >> beam.Map(lambda row: (_shard_of(row, num_shards), row))
    )
    # One empty entry per shard, so that a shard no video hashes to is written too.
    every_shard = pipeline | "Shards" >> beam.Create([(index, None) for index in range(num_shards)])
    (
        (keyed_rows, every_shard)
        | "AllShards" >> beam.Flatten()
        | "Group" >> beam.GroupByKey()
        | "Write" >> beam.Map(_write_shard, output_prefix, num_shards)
    )
    result = pipeline.run()
    try:
        result.wait_until_finish()
    finally:
        # DaskRunner's client stays connected, and retries when the cluster goes away.
        client = getattr(result, "client", None)
        if client is not None:
            client.close()
    return [shard_path(output_prefix, index, num_shards) for index in range(num_shards)]


def shard_path(output_prefix: str, index: int, num_shards: int) -> str:
    """`<output_prefix>-00001-of-00004.jsonl`, Beam's shard names."""
    return f"{output_prefix}-{index:05d}-of-{num_shards:05d}.jsonl"


def _shard_of(row, num_shards):
    import zlib

    return zlib.crc32(json.loads(row)["video"].encode("utf-8")) % num_shards


def _write_shard(shard, output_prefix, num_shards):
    """Writes a shard's rows, sorted by video, atomically (local) or in one write (tf.io.gfile)."""
    import tensorflow as tf

    from tsm_tf.utils.atomic_files import write_atomically

    index, rows = shard
    rows = [row for row in rows if row is not None]
    path = shard_path(output_prefix, index, num_shards)
    text = "".join(row + "\n" for row in sorted(rows, key=lambda row: json.loads(row)["video"]))
    if "://" in path:
        with tf.io.gfile.GFile(path, "w") as file:
            file.write(text)
    else:
        write_atomically(path, text)


class ClipModelHandler(ModelHandler):
    """Beam's model handler for a clip model: loaded once per worker, videos batched.

    An example is one video's views `(num_views, num_segments, S, S, 3)`; its
    inference is the views' averaged softmax scores over every class.
    """

    def __init__(self, model_path: str, num_views: int):
        super().__init__()
        self.model_path, self.num_views = model_path, num_views

    def load_model(self):
        from tsm_tf.prediction.video_prediction import load_clip_model

        return load_clip_model(self.model_path)

    def run_inference(self, batch, model, inference_args=None):
        from tsm_tf.training.evaluation import average_view_scores

        clips = np.stack(batch)
        scores = average_view_scores(
            model, clips[:, 0] if self.num_views == 1 else clips, self.num_views
        )
        return [PredictionResult(views, score) for views, score in zip(batch, scores)]

    def batch_elements_kwargs(self):
        return {"max_batch_size": MAX_BATCH_VIDEOS}


class MakeViews(beam.DoFn):
    """A video's test views keyed by (path, frames, frame rate), or why it has none."""

    def __init__(self, contract, num_clips, num_crops, sampling):
        super().__init__()
        self.settings = (contract, num_clips, num_crops, sampling)

    def process(self, path):
        from tsm_tf.data.video_io import SkipVideo
        from tsm_tf.prediction.video_prediction import video_views

        try:
            views, num_frames, frame_rate = video_views(path, *self.settings)
        except SkipVideo as error:
            yield ERRORS, path, error.reason, error.detail
            return
        yield VIEWS, (path, num_frames, frame_rate), views


def _runner_names(beam_args):
    """Beam's arguments, with `--runner=DaskRunner` spelled as Beam 2.78 finds it."""
    for argument in beam_args:
        if argument == "--runner=DaskRunner":
            argument = "--runner=apache_beam.runners.dask.dask_runner.DaskRunner"
        yield argument


def _prediction_row(keyed, labels, top_k, protocol):
    from tsm_tf.prediction.video_prediction import make_prediction

    (path, num_frames, frame_rate), result = keyed
    prediction = make_prediction(
        path, labels, np.asarray(result.inference), top_k, protocol, num_frames, frame_rate
    )
    return json.dumps(prediction.to_dict(), ensure_ascii=False)


def _error_row(error, protocol):
    from tsm_tf.prediction.video_prediction import VideoPrediction

    _, path, reason, detail = error
    row = VideoPrediction(path, protocol=protocol, error=reason, detail=detail).to_dict()
    return json.dumps(row, ensure_ascii=False)
