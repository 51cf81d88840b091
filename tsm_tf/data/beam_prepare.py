"""tsm-prepare as an Apache Beam pipeline: the same shards, labels.txt and report, from many machines.

`tsm-prepare ... --runner=DataflowRunner|FlinkRunner|SparkRunner|PrismRunner|DirectRunner`
lands here. The launching process lists the sources, resolves the label map
and deals the videos to shards exactly as the local pool does
(`dataset_writer`: unknown labels skipped first, then round-robin in list
order), so both paths put the same videos in the same shards. The pipeline:

    task list (one JSON line per video) -> Reshuffle -> encode each video (PyAV,
    `dataset_writer.encode_record`) -> GroupByKey(shard) -> write each shard
    atomically, then its state file

Inputs and outputs may be on any file system Beam reads (`gs://`, `s3://`,
`hdfs://`, local) through `apache_beam.io.filesystems.FileSystems`; remote
videos are copied to a local temporary file before PyAV opens them. Counts
of written and skipped videos (per reason) are Beam metrics, also copied into
the report. Re-running resumes like the local path: a shard whose state file
records the same inputs and settings is kept.

Apache Beam is an optional extra: `pip install "tsm_tf[beam]"`.
"""

import contextlib
import dataclasses
import json
import logging
import os
import posixpath
import shutil
import tempfile
import uuid

try:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.runner import PipelineState
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'tsm-prepare --runner needs Apache Beam, which is not installed. Install it with: pip install "tsm_tf[beam]"'
    ) from error

from tsm_tf.data import dataset_writer
from tsm_tf.data import records
from tsm_tf.data import sources
from tsm_tf.data.dataset_writer import EncodeSettings
from tsm_tf.data.video_io import UNREADABLE
from tsm_tf.data.video_io import VIDEO_EXTENSIONS
from tsm_tf.data.video_io import SkipVideo
from tsm_tf.utils import atomic_files as atomic
from tsm_tf.utils.label_files import read_label_file

METRICS_NAMESPACE = "tsm_prepare"
WRITTEN_COUNTER = "videos_written"
SHARDS_COUNTER = "shards_written"
_STATE_FOLDER = ".prepare"
# Runners that run on this machine, where tsm-prepare's --num_workers means worker processes.
_LOCAL_RUNNERS = (
    "directrunner",
    "fnapirunner",
    "prismrunner",
    "switchingdirectrunner",
    "bundlebaseddirectrunner",
)


def skip_counter_name(reason: str) -> str:
    """The Beam counter of videos skipped for `reason` (e.g. `skipped: unreadable`)."""
    return f"skipped: {reason}"


def prepare_dataset_beam(
    items: list[sources.SourceItem],
    labels: list[str],
    output_dir: str,
    split: str = "train",
    num_shards: int = 8,
    settings: EncodeSettings = EncodeSettings(),
    overwrite: bool = False,
    pipeline_args: list[str] | None = None,
) -> dict:
    """`dataset_writer.prepare_dataset` as a Beam pipeline; returns the same report.

    Args:
        items, labels, output_dir, split, num_shards, settings, overwrite: as
            for `prepare_dataset`; `output_dir` may be any Beam file system.
        pipeline_args: Beam pipeline options, e.g. `["--runner=DirectRunner"]`.

    Returns:
        The report also written to `output_dir/{split}-report.json`, with
        `beam_metrics`: this run's counters (written, skipped per reason).
    """
    dataset_writer.check_num_classes(labels)
    labeled, skipped = dataset_writer._assign_labels(items, labels)
    num_shards = max(1, min(num_shards, len(labeled)))
    if not overwrite and is_local(output_dir):
        summary = dataset_writer.run_summary(items, labels, num_shards, settings)
        dataset_writer.check_same_run(output_dir, split, summary)
    _remove_other_shardings(output_dir, split, num_shards)
    plan, resumed_reports, task_lines = {}, [], []
    for index, shard_items in enumerate(dataset_writer._balance(labeled, num_shards)):
        path = records.shard_path(output_dir, split, index, num_shards)
        state = _join(output_dir, _STATE_FOLDER, posixpath.basename(path) + ".json")
        fingerprint = dataset_writer._fingerprint(shard_items, settings)
        previous = _finished_shard(path, state, fingerprint)
        if previous is not None and not overwrite:
            resumed_reports.append(dict(previous, resumed=True))
            continue
        plan[index] = (path, state, fingerprint)
        if not shard_items:
            _write_shard((index, []), plan)  # no element would reach this shard's writer
        for position, item_dict in enumerate(shard_items):
            task_lines.append(json.dumps({"shard": index, "position": position, "item": item_dict}))
    # Unknown labels travel through the pipeline too, only to be counted by its metrics.
    task_lines += [json.dumps({"shard": None, "skip": entry}) for entry in skipped]
    metrics = {}
    if plan:
        logging.info(
            "Beam: %d of %d shards to write, %d resumed",
            len(plan),
            num_shards,
            len(resumed_reports),
        )
        tasks_path = _join(output_dir, _STATE_FOLDER, f"{split}-beam-tasks.jsonl")
        write_file(tasks_path, "".join(line + "\n" for line in task_lines))
        metrics = _run_pipeline(tasks_path, plan, settings, pipeline_args or [])
    new_reports = [
        dict(json.loads(read_text(state)), resumed=False) for _, state, _ in plan.values()
    ]
    shard_reports = sorted(resumed_reports + new_reports, key=lambda r: r["path"])
    report = dataset_writer._final_report(
        items, labeled, labels, output_dir, split, skipped, shard_reports, settings
    )
    report["beam_metrics"] = metrics
    _write_labels(output_dir, labels)
    write_file(_join(output_dir, f"{split}-report.json"), json.dumps(report, indent=1))
    return report


def prepare_from_flags(flag_values, pipeline_args: list[str]) -> dict:
    """tsm-prepare's `--runner` path: lists, resolves labels, runs the pipeline."""
    items, found = sources.list_sources(
        flag_values.videos_dir,
        flag_values.annotations,
        flag_values.videos_root,
        flag_values.frame_list,
        flag_values.frames_root,
        reader=_AnyFileSystem,
    )
    labels = resolve_labels(flag_values.labels, flag_values.output_dir, found)
    pipeline_args = [f"--runner={flag_values.runner}", *pipeline_args]
    if flag_values["num_workers"].present:
        # Beam's own --num_workers has the same name; tsm-prepare's takes it and passes it on.
        pipeline_args.append(f"--num_workers={flag_values.num_workers}")
        if flag_values.runner.lower() in _LOCAL_RUNNERS and not any(
            argument.startswith("--direct_num_workers") for argument in pipeline_args
        ):
            pipeline_args.append(f"--direct_num_workers={flag_values.num_workers}")
    return prepare_dataset_beam(
        items,
        labels,
        flag_values.output_dir,
        flag_values.split,
        flag_values.num_shards,
        EncodeSettings.from_options(flag_values),
        flag_values.overwrite,
        pipeline_args,
    )


def resolve_labels(labels_flag: str | None, output_dir: str, found: list[str] | None) -> list[str]:
    """`tsm_tf.cli.prepare.resolve_labels` on any file system: --labels, else output_dir/labels.txt, else `found`."""
    existing = _join(output_dir, records.LABELS_FILE)
    if labels_flag:
        return _AnyFileSystem.read_label_file(labels_flag)
    if FileSystems.exists(existing):
        logging.info("Using the label map already in %s", existing)
        return [line for line in read_text(existing).splitlines() if line.strip()]
    if not found:
        raise ValueError("No class names found; pass --labels.")
    return found


class _AnyFileSystem:
    """The `sources` listings for inputs on any Beam file system (the `sources` code itself for local ones)."""

    @staticmethod
    def list_video_folders(root: str) -> tuple[list[sources.SourceItem], list[str]]:
        """`sources.list_video_folders`; on a remote root, class = first folder below it."""
        if is_local(root):
            return sources.list_video_folders(root)
        files = _list_files(root)
        classes = sorted({relative.split("/")[0] for relative, _ in files if "/" in relative})
        if not classes:
            raise ValueError(f"No class folders in {root!r}. Expected root/<class>/<video>.mp4.")
        items = [
            sources.SourceItem(relative, _join(root, relative), relative.split("/")[0], size=size)
            for relative, size in files
            if "/" in relative and relative.lower().endswith(VIDEO_EXTENSIONS)
        ]
        return items, classes

    @staticmethod
    def list_annotations(annotations: str, videos_root: str) -> list[sources.SourceItem]:
        """`sources.list_annotations`; a remote list is fetched, a remote root indexed by listing it."""
        if is_local(annotations) and is_local(videos_root):
            return sources.list_annotations(annotations, videos_root)
        with _local_copy(annotations) as local_annotations:
            pairs = sources.read_annotation_pairs(local_annotations)
        if is_local(videos_root):
            index = sources._index_videos(videos_root)
            sizes = {path: os.path.getsize(path) for path in index.values()}
        else:
            index, sizes = {}, {}
            for relative, size in _list_files(videos_root):
                if relative.lower().endswith(VIDEO_EXTENSIONS):
                    path = _join(videos_root, relative)
                    index.setdefault(posixpath.splitext(posixpath.basename(relative))[0], path)
                    index.setdefault(relative, path)
                    sizes[path] = size
        items = []
        for reference, label in pairs:
            stem = posixpath.splitext(posixpath.basename(reference))[0]
            path = index.get(reference) or index.get(stem) or _join(videos_root, reference)
            items.append(sources.SourceItem(reference, path, label, size=sizes.get(path, 0)))
        return items

    @staticmethod
    def list_frame_folders(list_file: str, frames_root: str) -> list[sources.SourceItem]:
        """`sources.list_frame_folders` (it only joins paths, so a remote root works as it is)."""
        with _local_copy(list_file) as local_list:
            items = sources.list_frame_folders(local_list, "")
        return [
            dataclasses.replace(
                item, path=_join(frames_root, item.path) if frames_root else item.path
            )
            for item in items
        ]

    @staticmethod
    def read_label_file(path: str) -> list[str]:
        """`read_label_file` on any file system."""
        with _local_copy(path) as local_path:
            return read_label_file(local_path)


def is_local(path: str) -> bool:
    """Whether `path` is on this machine's file system (no `scheme://`)."""
    return FileSystems.get_scheme(path) is None


def read_text(path: str) -> str:
    """A UTF-8 file's text, from any file system."""
    with FileSystems.open(path, compression_type="uncompressed") as file:
        return file.read().decode("utf-8")


def write_file(path: str, data: bytes | str) -> None:
    """Writes a file atomically on any file system: a temporary name beside it, then a rename."""
    if is_local(path):
        atomic.write_atomically(path, data)
        return
    data = data.encode("utf-8") if isinstance(data, str) else data
    _upload_atomically(path, lambda file: file.write(data))


def _join(root: str, *parts: str) -> str:
    return FileSystems.join(root, *parts) if not is_local(root) else os.path.join(root, *parts)


def _write_labels(output_dir, labels):
    """`records.write_labels` on any file system."""
    if is_local(output_dir):
        records.write_labels(output_dir, labels)
        return
    for name in labels:
        if not name or "\n" in name or name != name.strip():
            raise ValueError(
                f"Class names must be non-empty single lines without surrounding spaces. Received: {name!r}"
            )
    write_file(_join(output_dir, records.LABELS_FILE), "".join(f"{name}\n" for name in labels))


def _list_files(root):
    """(path relative to `root` with '/' separators, size) of every file below `root`, sorted."""
    root = root.rstrip("/")
    [match] = FileSystems.match([root + "/**"])
    return sorted(
        (metadata.path[len(root) + 1 :], metadata.size_in_bytes) for metadata in match.metadata_list
    )


@contextlib.contextmanager
def _local_copy(path):
    """Yields a local path holding `path`'s bytes (`path` itself when it is local)."""
    if is_local(path):
        yield path
        return
    folder = tempfile.mkdtemp(prefix="tsm-prepare-")
    try:
        local_path = os.path.join(folder, posixpath.basename(path.rstrip("/")) or "file")
        with (
            FileSystems.open(path, compression_type="uncompressed") as source,
            open(local_path, "wb") as target,
        ):
            shutil.copyfileobj(source, target, 1 << 20)
        yield local_path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _upload_atomically(path, write):
    temporary = _join(
        posixpath.dirname(path), f".tmp-{uuid.uuid4().hex}-{posixpath.basename(path)}"
    )
    try:
        with FileSystems.create(temporary, compression_type="uncompressed") as file:
            write(file)
        FileSystems.rename([temporary], [path])
    except BaseException:
        if FileSystems.exists(temporary):
            FileSystems.delete([temporary])
        raise


def _finished_shard(path, state, fingerprint):
    if not (FileSystems.exists(path) and FileSystems.exists(state)):
        return None
    try:
        previous = json.loads(read_text(state))
    except (OSError, ValueError):
        return None
    return previous if previous.get("fingerprint") == fingerprint else None


def _remove_other_shardings(output_dir, split, num_shards):
    """Deletes this split's shards from a run with another shard count (they would match its glob)."""
    if is_local(output_dir):
        os.makedirs(os.path.join(output_dir, _STATE_FOLDER), exist_ok=True)
    suffix = f"-of-{num_shards:05d}.tfrecord"
    [match] = FileSystems.match([_join(output_dir, f"{split}-?????-of-?????.tfrecord")])
    stale = [
        metadata.path for metadata in match.metadata_list if not metadata.path.endswith(suffix)
    ]
    for path in stale:
        logging.warning("Removing %s from a run with another --num_shards", path)
    if stale:
        FileSystems.delete(stale)


def _run_pipeline(tasks_path, plan, settings, pipeline_args):
    """Runs the encode-and-write pipeline; returns its counters by name."""
    options = PipelineOptions(pipeline_args)
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline
        | "ReadTasks" >> beam.io.ReadFromText(tasks_path)
        # The task list is one small file, read as one bundle: spread its videos over the workers.
        | "Spread" >> beam.Reshuffle()
        | "Encode" >> beam.FlatMap(_encode_task, dataclasses.asdict(settings))
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards" >> beam.Map(_write_shard, plan)
    )
    result = pipeline.run()
    state = result.wait_until_finish()
    if state != PipelineState.DONE:
        raise RuntimeError(
            f"The Beam pipeline ended in state {state}; the shards it finished are kept for a re-run."
        )
    counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    metrics = {}
    for counter in counters:
        value = counter.committed if counter.committed is not None else counter.attempted
        metrics[counter.key.metric.name] = metrics.get(counter.key.metric.name, 0) + value
    return metrics


def _encode_task(line, settings):
    """Worker: one task line -> `(shard, (position, video_id, record or None, skip entry or None))`."""
    task = json.loads(line)
    if task["shard"] is None:
        Metrics.counter(METRICS_NAMESPACE, skip_counter_name(task["skip"]["reason"])).inc()
        return
    record, skip = dataset_writer.encode_record(
        task["item"], EncodeSettings(**settings), _encode_anywhere
    )
    if skip is None:
        Metrics.counter(METRICS_NAMESPACE, WRITTEN_COUNTER).inc()
    else:
        Metrics.counter(METRICS_NAMESPACE, skip_counter_name(skip["reason"])).inc()
    yield task["shard"], (task["position"], task["item"]["video_id"], record, skip)


def _encode_anywhere(item, settings):
    """`dataset_writer._encode` after copying a remote video or frame folder to this worker."""
    if is_local(item.path):
        return dataset_writer._encode(item, settings)
    folder = tempfile.mkdtemp(prefix="tsm-prepare-")
    try:
        if item.num_frames is None:
            if not FileSystems.exists(item.path):
                raise SkipVideo(UNREADABLE, "file not found")
            local = os.path.join(folder, posixpath.basename(item.path))
        else:
            local = os.path.join(folder, "frames")
            os.makedirs(local)
        names = (
            [posixpath.basename(item.path)]
            if item.num_frames is None
            else [
                settings.frame_template.format(settings.first_frame_index + i)
                for i in range(max(item.num_frames, 0))
            ]
        )
        for name in names:
            remote = item.path if item.num_frames is None else _join(item.path, name)
            target = local if item.num_frames is None else os.path.join(local, name)
            if item.num_frames is not None and not FileSystems.exists(remote):
                continue  # left missing: encode_frame_folder reports it as a missing frame
            with (
                FileSystems.open(remote, compression_type="uncompressed") as source,
                open(target, "wb") as file,
            ):
                shutil.copyfileobj(source, file, 1 << 20)
        try:
            return dataset_writer._encode(dataclasses.replace(item, path=local), settings)
        except SkipVideo as error:
            raise SkipVideo(error.reason, error.detail.replace(local, item.path)) from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_shard(element, plan):
    """Worker: writes one shard's records atomically (then its state file); returns its path.

    Records go in the order the runner delivers them; the state file lists
    the written and skipped videos in list order.
    """
    shard, values = element
    path, state, fingerprint = plan[shard]
    written, skipped = [], []
    with _record_writer(path) as writer:
        for position, video_id, record, skip in values:
            if skip is not None:
                skipped.append((position, skip))
            else:
                writer.write(record)
                written.append((position, video_id))
    report = {
        "path": path,
        "fingerprint": fingerprint,
        "written": [video_id for _, video_id in sorted(written)],
        "skipped": [entry for _, entry in sorted(skipped, key=lambda pair: pair[0])],
    }
    write_file(state, json.dumps(report))
    Metrics.counter(METRICS_NAMESPACE, SHARDS_COUNTER).inc()
    return path


@contextlib.contextmanager
def _record_writer(path):
    """`records.AtomicRecordWriter` on any file system (remote: a local file, then an atomic upload)."""
    if is_local(path):
        with records.AtomicRecordWriter(path) as writer:
            yield writer
        return
    folder = tempfile.mkdtemp(prefix="tsm-prepare-")
    try:
        local = os.path.join(folder, posixpath.basename(path))
        with records.AtomicRecordWriter(local) as writer:
            yield writer
        with open(local, "rb") as source:
            _upload_atomically(path, lambda file: shutil.copyfileobj(source, file, 1 << 20))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
