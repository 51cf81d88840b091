"""tsm-prepare: turn videos or extracted frames into TFRecord shards for `make_dataset`.

Usage:
    tsm-prepare --videos_dir=UCF101/ --output_dir=data/ --split=train
    tsm-prepare --annotations=kinetics400/train.csv --videos_root=videos/ --output_dir=data/
    tsm-prepare --annotations=ssv2/train.json --videos_root=20bn/ --labels=ssv2/labels.json --output_dir=data/
    tsm-prepare --frame_list=train_list.txt --frames_root=frames/ --output_dir=data/
    tsm-prepare --videos_dir=gs://bucket/UCF101 --output_dir=gs://bucket/data \
        --runner=DataflowRunner --project=P --region=R --temp_location=gs://bucket/tmp ...

Writes `output_dir/{split}-0000i-of-0000n.tfrecord`, `output_dir/labels.txt`
and `output_dir/{split}-report.json` (every video written or skipped, with the
reason). The label map is `--labels` if given, else an existing
`output_dir/labels.txt` (so a second split shares the first one's), else the
sorted class names found. Re-running resumes: shards already finished with
the same inputs and settings are kept; a split prepared from another folder,
video count, label map, shard count or settings is replaced only with
--overwrite (the error says what differs).

With `--runner` the same work runs as an Apache Beam pipeline
(`tsm_tf.data.beam_prepare`); flags tsm-prepare does not know are passed to
Beam's PipelineOptions. Without it, a process pool on this machine does it.
"""

import logging
import os

from absl import app
from absl import flags

from tsm_tf.cli.tool import parse_known_flags
from tsm_tf.cli.tool import run_tool
from tsm_tf.data import records
from tsm_tf.data import sources
from tsm_tf.data.dataset_writer import EncodeSettings
from tsm_tf.data.dataset_writer import prepare_dataset
from tsm_tf.utils.label_files import read_label_file


def define_flags() -> None:
    """Defines the command-line flags (at start-up, so importing this module defines none)."""
    flags.DEFINE_string(
        "videos_dir", None, "Folder of videos with one sub-folder per class (UCF101 style)."
    )
    flags.DEFINE_string(
        "annotations", None, "CSV (Kinetics, or path,label) or JSON (Something-Something V2) list."
    )
    flags.DEFINE_string("videos_root", None, "Folder the --annotations videos are found under.")
    flags.DEFINE_string(
        "frame_list", None, "TSM list file of frame folders: 'folder num_frames label' per line."
    )
    flags.DEFINE_string("frames_root", "", "Folder the --frame_list folders are relative to.")
    flags.DEFINE_string(
        "frame_template", "img_{:05d}.jpg", "File name of frame i in a frame folder."
    )
    flags.DEFINE_integer("first_frame_index", 1, "Index of the first frame file.")
    flags.DEFINE_float("frame_rate", 0.0, "Frame rate recorded for frame folders (0: unknown).")
    flags.DEFINE_string(
        "labels", None, "Label map: labels.txt, a JSON list, or a JSON {name: index} map."
    )
    flags.DEFINE_string("output_dir", None, "Where the shards, labels.txt and the report go.")
    flags.DEFINE_string("split", "train", "Shard name prefix, e.g. train or validation.")
    flags.DEFINE_integer(
        "num_shards", 8, "Number of shards (fewer if there are fewer videos).", lower_bound=1
    )
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Worker processes.", lower_bound=1)
    flags.DEFINE_integer(
        "shorter_side",
        256,
        "Resize frames so the shorter side is this long; 0 keeps the size.",
        lower_bound=0,
    )
    flags.DEFINE_integer(
        "jpeg_quality", 90, "JPEG quality of the stored frames.", lower_bound=1, upper_bound=100
    )
    flags.DEFINE_bool(
        "overwrite",
        False,
        "Rewrite finished shards instead of resuming, and replace a split prepared from other "
        "inputs or settings (refused without it).",
    )
    flags.DEFINE_string(
        "runner",
        None,
        "Run as an Apache Beam pipeline on this runner (DirectRunner, PrismRunner, "
        "DataflowRunner, FlinkRunner, SparkRunner); other flags go to Beam. Default: a local process pool.",
    )
    flags.mark_flag_as_required("output_dir")


def resolve_labels(labels_flag: str | None, output_dir: str, found: list[str]) -> list[str]:
    """--labels, else an existing output_dir/labels.txt, else the class names found."""
    existing = os.path.join(output_dir, records.LABELS_FILE)
    if labels_flag:
        return read_label_file(labels_flag)
    if os.path.isfile(existing):
        logging.info("Using the label map already in %s", existing)
        return records.load_labels(existing)
    if not found:
        raise app.UsageError("No class names found; pass --labels.")
    return found


def print_summary(report: dict) -> None:
    """The CLI's primary output: what was written and what was skipped, and why."""
    resumed = sum(shard["resumed"] for shard in report["shards"])
    print(
        f"{report['split']}: wrote {report['num_written']} of {report['num_listed']} videos "
        f"to {len(report['shards'])} shards ({resumed} resumed) in {report['output_dir']}"
    )
    for reason, count in sorted(report["skipped_by_reason"].items()):
        print(f"  skipped {count} ({reason})")
    for entry in report["skipped"][:20]:
        print(f"    {entry['video_id']}: {entry['reason']}: {entry['detail']}")
    if report["num_skipped"] > 20:
        print(f"    ... {report['num_skipped'] - 20} more")
    print(f"report: {os.path.join(report['output_dir'], report['split'] + '-report.json')}")


def main(argv):
    flag_values = flags.FLAGS
    other_flags = argv[1:]
    if flag_values.runner:
        # Imported here: Apache Beam is an optional extra.
        from tsm_tf.data import beam_prepare

        print_summary(beam_prepare.prepare_from_flags(flag_values, other_flags))
        return
    if other_flags:
        raise app.UsageError(
            f"Unknown arguments {other_flags}. Flags for Apache Beam need --runner "
            "(e.g. --runner=DirectRunner); see tsm-prepare --helpfull."
        )
    items, found = sources.list_sources(
        flag_values.videos_dir,
        flag_values.annotations,
        flag_values.videos_root,
        flag_values.frame_list,
        flag_values.frames_root,
    )
    labels = resolve_labels(flag_values.labels, flag_values.output_dir, found)
    report = prepare_dataset(
        items,
        labels,
        flag_values.output_dir,
        flag_values.split,
        flag_values.num_shards,
        flag_values.num_workers,
        EncodeSettings.from_options(flag_values),
        flag_values.overwrite,
    )
    print_summary(report)


def run():
    """Console-script entry point."""
    run_tool(main, define_flags, flags_parser=parse_known_flags)


if __name__ == "__main__":
    run()
