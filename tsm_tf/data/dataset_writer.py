"""Writing videos into TFRecord shards: balanced, parallel, atomic, resumable.

The engine behind `tsm-prepare` (which only parses flags and lists sources).
Per-shard state files in `output_dir/.prepare/` record what each finished
shard holds, so a re-run keeps the shards whose inputs and settings did not
change.
"""

import collections
import dataclasses
import glob
import hashlib
import json
import logging
import os
import re

from tsm_tf.data import records
from tsm_tf.data import sources
from tsm_tf.data.video_io import UNKNOWN_LABEL
from tsm_tf.data.video_io import UNREADABLE
from tsm_tf.data.video_io import SkipVideo
from tsm_tf.data.video_io import encode_frame_folder
from tsm_tf.data.video_io import encode_video
from tsm_tf.data.workers import report_progress
from tsm_tf.data.workers import run_tasks
from tsm_tf.utils.argument_checks import check_positive_int
from tsm_tf.utils.atomic_files import discard_temporaries_in
from tsm_tf.utils.atomic_files import write_atomically

_STATE_FOLDER = ".prepare"


@dataclasses.dataclass(frozen=True)
class EncodeSettings:
    """How frames are stored (part of the resume fingerprint).

    Attributes:
        shorter_side: resize so the shorter side is this long; 0 keeps the size.
        jpeg_quality: JPEG quality, 1-100.
        frame_template: file name of frame `i` in a frame folder (`str.format`).
        first_frame_index: index of the first frame file.
        frame_rate: frame rate recorded for frame folders (0: unknown).
    """

    shorter_side: int = 256
    jpeg_quality: int = 90
    frame_template: str = "img_{:05d}.jpg"
    first_frame_index: int = 1
    frame_rate: float = 0.0

    @classmethod
    def from_options(cls, options) -> "EncodeSettings":
        """The settings of the same names in `options` (tsm-prepare's flags, or any such object)."""
        return cls(
            **{field.name: getattr(options, field.name) for field in dataclasses.fields(cls)}
        )

    def __post_init__(self):
        if isinstance(self.shorter_side, bool) or not isinstance(self.shorter_side, int):
            raise ValueError(f"`shorter_side` must be an integer. Received: {self.shorter_side!r}")
        if self.shorter_side < 0:
            raise ValueError(
                "`shorter_side` must be a length in pixels, or 0 to keep each video's size. "
                f"Received: shorter_side={self.shorter_side}"
            )
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(
                f"`jpeg_quality` must be from 1 to 100. Received: jpeg_quality={self.jpeg_quality}"
            )


def prepare_dataset(
    items: list[sources.SourceItem],
    labels: list[str],
    output_dir: str,
    split: str = "train",
    num_shards: int = 8,
    num_workers: int = 1,
    settings: EncodeSettings = EncodeSettings(),
    overwrite: bool = False,
) -> dict:
    """Writes `items` into `num_shards` shards of `split`; returns the report.

    Videos whose label is not in `labels` are skipped before any decoding;
    the others are dealt to the shards in turn, so shards hold the same number
    of videos (give or take one). Each shard is written atomically by one
    worker; a finished shard with the same inputs and settings is kept.

    Returns:
        The report also written to `output_dir/{split}-report.json`: counts,
        every skipped video with its reason and detail, and the shards.
    """
    check_positive_int("num_shards", num_shards)
    check_positive_int("num_workers", num_workers)
    check_num_classes(labels)
    labeled, skipped = _assign_labels(items, labels)
    num_shards = max(1, min(num_shards, len(labeled)))
    if not overwrite:
        check_same_run(output_dir, split, run_summary(items, labels, num_shards, settings))
    os.makedirs(os.path.join(output_dir, _STATE_FOLDER), exist_ok=True)
    _remove_other_shardings(output_dir, split, num_shards)
    tasks, resumed_reports = [], []
    for index, shard_items in enumerate(_balance(labeled, num_shards)):
        path = records.shard_path(output_dir, split, index, num_shards)
        state = os.path.join(output_dir, _STATE_FOLDER, os.path.basename(path) + ".json")
        fingerprint = _fingerprint(shard_items, settings)
        previous = _finished_shard(path, state, fingerprint)
        if previous is not None and not overwrite:
            resumed_reports.append(dict(previous, resumed=True))
        else:
            tasks.append((path, state, fingerprint, shard_items, dataclasses.asdict(settings)))
    if resumed_reports:
        logging.info("Resuming: %d of %d shards already finished", len(resumed_reports), num_shards)
    total = sum(len(task[3]) for task in tasks)
    try:
        new_reports = run_tasks(
            _write_shard,
            tasks,
            num_workers,
            total,
            f"{split} videos",
            task_names=[f"the shard {task[0]}" for task in tasks],
        )
    except BaseException:
        # Workers stopped mid-shard (Ctrl-C, SIGTERM, a dead worker) end at once, leaving their temporaries.
        discard_temporaries_in(output_dir)
        raise
    shard_reports = sorted(
        resumed_reports + [dict(r, resumed=False) for r in new_reports], key=lambda r: r["path"]
    )
    report = _final_report(
        items, labeled, labels, output_dir, split, skipped, shard_reports, settings
    )
    records.write_labels(output_dir, labels)
    write_atomically(os.path.join(output_dir, f"{split}-report.json"), json.dumps(report, indent=1))
    return report


def run_summary(items, labels, num_shards, settings) -> dict:
    """What a split was prepared from, in its report: a re-run that differs must say so."""
    try:
        folder = os.path.commonpath(
            [item.path if "://" in item.path else os.path.abspath(item.path) for item in items]
        )
    except ValueError:  # no items, or paths on different drives
        folder = None
    return {
        "source_folder": folder,
        "num_listed": len(items),
        "labels": list(labels),
        "num_shards": num_shards,
        "settings": dataclasses.asdict(settings),
    }


def check_same_run(output_dir, split, summary: dict) -> None:
    """Refuses to replace a split prepared from other inputs or settings, saying what differs."""
    report_path = os.path.join(output_dir, f"{split}-report.json")
    if not os.path.isfile(report_path):
        return
    with open(report_path, encoding="utf-8") as file:
        previous = json.load(file)
    differences = []
    for key, value in summary.items():
        if key not in previous or previous[key] == value:
            continue
        if key == "settings":
            differences += [
                f"{name} {previous[key].get(name)!r} then, {setting!r} now"
                for name, setting in value.items()
                if previous[key].get(name) != setting
            ]
        elif key == "labels":
            differences.append(f"{len(previous[key])} classes then, {len(value)} now")
        else:
            differences.append(f"{key} {previous[key]!r} then, {value!r} now")
    if differences:
        raise ValueError(
            f"{output_dir!r} already holds a {split!r} split prepared otherwise "
            f"({'; '.join(differences)}; see {report_path}). Pass --overwrite "
            "(`overwrite=True`) to replace it, or choose another --output_dir or --split."
        )


def check_num_classes(labels: list[str]) -> None:
    """Refuses a label map of fewer than two classes: a classifier of one calls every video that."""
    if len(labels) < 2:
        raise ValueError(
            f"A classifier needs at least 2 classes. Received {len(labels)}: {labels}. Add "
            "the videos of the other classes (a class folder each), or a --labels map naming them."
        )


def classes_without_videos(file_pattern: str) -> tuple[list[str], str | None]:
    """(Classes no video was written for, the report saying so) for shards `tsm-prepare` wrote
    (`{split}-report.json` beside them); ([], None) where there is no such report."""
    first_shard = records.list_shards(file_pattern)[0]
    split = re.sub(r"-\d{5}-of-\d{5}\.tfrecord$", "", os.path.basename(first_shard))
    report_path = os.path.join(os.path.dirname(first_shard), f"{split}-report.json")
    if not os.path.isfile(report_path):
        return [], None
    with open(report_path, encoding="utf-8") as file:
        per_class = json.load(file).get("videos_per_class", {})
    return [name for name, count in per_class.items() if count == 0], report_path


def _assign_labels(items, labels):
    """(items with a known label as (item, index), skip entries for the others)."""
    positions = {name: index for index, name in enumerate(labels)}
    labeled, skipped = [], []
    for item in items:
        label = item.label
        if isinstance(label, int) and 0 <= label < len(labels):
            labeled.append((item, label))
        elif isinstance(label, str) and label in positions:
            labeled.append((item, positions[label]))
        else:
            detail = f"label {label!r} is not in the label map of {len(labels)} classes"
            skipped.append(_skip_entry(item, UNKNOWN_LABEL, detail))
    return labeled, skipped


def _balance(labeled, num_shards):
    """Round-robin in list order: shard counts differ by at most one, and each
    shard mixes the classes of a class-sorted list."""
    return [
        [
            dict(dataclasses.asdict(item), label_index=label)
            for item, label in labeled[shard::num_shards]
        ]
        for shard in range(num_shards)
    ]


def _fingerprint(shard_items, settings):
    text = json.dumps([shard_items, dataclasses.asdict(settings)], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _finished_shard(path, state, fingerprint):
    if not (os.path.isfile(path) and os.path.isfile(state)):
        return None
    try:
        with open(state, encoding="utf-8") as file:
            previous = json.load(file)
    except (OSError, ValueError):
        return None
    return previous if previous.get("fingerprint") == fingerprint else None


def _remove_other_shardings(output_dir, split, num_shards):
    """Deletes shards of this split from a run with another shard count (they would match its glob)."""
    pattern = re.compile(rf"{re.escape(split)}-\d{{5}}-of-(\d{{5}})\.tfrecord$")
    for path in glob.glob(os.path.join(output_dir, f"{split}-*-of-*.tfrecord")):
        match = pattern.search(os.path.basename(path))
        if match and int(match.group(1)) != num_shards:
            logging.warning("Removing %s from a run with another --num_shards", path)
            os.remove(path)


def _write_shard(task):
    """Worker: encodes a shard's videos, writes it atomically, then its state file."""
    path, state, fingerprint, shard_items, settings = task
    settings = EncodeSettings(**settings)
    written, skipped = [], []
    with records.AtomicRecordWriter(path) as writer:
        for item_dict in shard_items:
            record, skip = encode_record(item_dict, settings)
            if skip is not None:
                skipped.append(skip)
            else:
                writer.write(record)
                written.append(item_dict["video_id"])
            report_progress()
    report = {"path": path, "fingerprint": fingerprint, "written": written, "skipped": skipped}
    write_atomically(state, json.dumps(report))
    return report


def encode_record(
    item_dict: dict, settings: EncodeSettings, encode=None
) -> tuple[bytes | None, dict | None]:
    """Decodes and encodes one shard item (a `SourceItem` as a dict, plus `label_index`).

    The one per-video step of every writer (the local pool and the Beam
    pipeline). `encode(item, settings)` replaces the local-file encoder
    (Beam uses it to fetch remote files first).

    Returns:
        (the serialized example, None), or (None, the report's skip entry).
    """
    item_dict = dict(item_dict)
    label_index = item_dict.pop("label_index")
    item = sources.SourceItem(**item_dict)
    try:
        frames, frame_rate, (height, width) = (encode or _encode)(item, settings)
    except SkipVideo as error:
        return None, _skip_entry(item, error.reason, error.detail)
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the run
        return None, _skip_entry(item, UNREADABLE, f"{type(error).__name__}: {error}")
    return records.serialize_video(
        frames, label_index, item.video_id, frame_rate, height, width
    ), None


def _encode(item, settings):
    if item.num_frames is None:
        return encode_video(item.path, settings.shorter_side, settings.jpeg_quality)
    frames, size = encode_frame_folder(
        item.path,
        item.num_frames,
        settings.frame_template,
        settings.first_frame_index,
        settings.shorter_side,
        settings.jpeg_quality,
    )
    return frames, settings.frame_rate, size


def _skip_entry(item, reason, detail):
    return {"video_id": item.video_id, "path": item.path, "reason": reason, "detail": detail}


def _final_report(items, labeled, labels, output_dir, split, skipped, shard_reports, settings):
    skipped = skipped + [entry for report in shard_reports for entry in report["skipped"]]
    written = {video_id for report in shard_reports for video_id in report["written"]}
    per_class = collections.Counter(
        labels[label] for item, label in labeled if item.video_id in written
    )
    return {
        "split": split,
        "output_dir": output_dir,
        "num_written": sum(len(report["written"]) for report in shard_reports),
        "num_skipped": len(skipped),
        "skipped_by_reason": dict(collections.Counter(entry["reason"] for entry in skipped)),
        "skipped": skipped,
        "num_classes": len(labels),
        **run_summary(items, labels, len(shard_reports), settings),
        "videos_per_class": {name: per_class[name] for name in labels},
        "shards": [
            {
                "path": r["path"],
                "num_videos": len(r["written"]),
                "num_skipped": len(r["skipped"]),
                "resumed": r["resumed"],
            }
            for r in shard_reports
        ],
    }
