"""What `tsm-prepare` reads: listings of videos or frame folders with their labels.

Three layouts:
- a folder of videos with one sub-folder per class (UCF101 style);
- an annotation list: CSV (Kinetics `label,youtube_id,time_start,time_end,...`,
  or `path,label`) or JSON (Something-Something V2 `[{"id", "template", ...}]`,
  or `[{"path", "label"}]`);
- extracted frames with TSM's list file, `folder num_frames label` per line.

Listing never opens a video; problems found later are reported per video.
"""

import csv
import dataclasses
import json
import os
import sys

from tsm_tf.data.video_io import VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class SourceItem:
    """One video to write.

    Attributes:
        video_id: id stored in the record: the path relative to the root for
            class folders, the list's reference (file name, Kinetics clip
            name, Something-Something id) for annotations, the folder for frames.
        path: the video file, or the frame folder.
        label: a class name (str), a class index (int), or None when the list has none.
        num_frames: frames listed for a frame folder; None for video files.
        size: source size (bytes, or frames for a folder); a changed file
            changes the resume fingerprint of its shard.
    """

    video_id: str
    path: str
    label: str | int | None
    num_frames: int | None = None
    size: int = 0


def list_sources(
    videos_dir: str | None = None,
    annotations: str | None = None,
    videos_root: str | None = None,
    frame_list: str | None = None,
    frames_root: str = "",
    reader=None,
) -> tuple[list[SourceItem], list[str]]:
    """The items of exactly one layout, and the class names found (tsm-prepare's inputs).

    Args:
        videos_dir: a folder with one sub-folder of videos per class.
        annotations: a CSV or JSON annotation list, its videos under `videos_root`.
        videos_root: the folder the annotation list's videos are under.
        frame_list: a TSM list file of frame folders, relative to `frames_root`.
        frames_root: the folder the frame list's folders are relative to.
        reader: what lists the files: None for this machine's (this module's
            functions); `beam_prepare` passes one for any file system.

    Returns:
        (items, class names: sorted folder or label names, or "0".."n-1" for a frame list).
    """
    reader = sys.modules[__name__] if reader is None else reader
    given = [
        name
        for name, value in (
            ("videos_dir", videos_dir),
            ("annotations", annotations),
            ("frame_list", frame_list),
        )
        if value
    ]
    if len(given) != 1:
        raise ValueError(
            "Give exactly one of videos_dir, annotations and frame_list (tsm-prepare: "
            f"--videos_dir, --annotations, --frame_list). Received: {given or 'none'}."
        )
    if videos_dir:
        return reader.list_video_folders(videos_dir)
    if annotations:
        if not videos_root:
            raise ValueError(
                "An annotation list needs videos_root (tsm-prepare: --videos_root), "
                "the folder its videos are under."
            )
        items = reader.list_annotations(annotations, videos_root)
        return items, sorted({item.label for item in items if isinstance(item.label, str)})
    items = reader.list_frame_folders(frame_list, frames_root)
    num_classes = max((item.label for item in items if item.label >= 0), default=-1) + 1
    return items, [str(index) for index in range(num_classes)]


def list_video_folders(root: str) -> tuple[list[SourceItem], list[str]]:
    """Videos in `root/<class name>/...`; returns (items, sorted class names)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"--videos_dir {root!r} is not a folder. Expected root/<class>/<video>."
        )
    classes = sorted(name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name)))
    if not classes:
        raise ValueError(f"No class sub-folders in {root!r}. Expected root/<class>/<video>.mp4.")
    items = []
    for name in classes:
        for folder, subfolders, files in os.walk(os.path.join(root, name)):
            subfolders.sort()
            for file in sorted(files):
                if file.lower().endswith(VIDEO_EXTENSIONS):
                    path = os.path.join(folder, file)
                    video_id = os.path.relpath(path, root)
                    items.append(SourceItem(video_id, path, name, size=os.path.getsize(path)))
    empty = sorted(set(classes) - {item.label for item in items})
    if empty:
        raise ValueError(
            f"Class folders with no videos in {root!r}: {', '.join(empty)}. Each sub-folder is a "
            f"class: add its videos ({', '.join(VIDEO_EXTENSIONS)}) or remove it."
        )
    return items, classes


def list_annotations(annotations: str, videos_root: str) -> list[SourceItem]:
    """Videos of a CSV or JSON annotation list, found under `videos_root`."""
    pairs = read_annotation_pairs(annotations)
    index = _index_videos(videos_root)
    items = []
    for reference, label in pairs:
        path = _find_video(reference, videos_root, index)
        video_id = reference
        size = os.path.getsize(path) if os.path.isfile(path) else 0
        items.append(SourceItem(video_id, path, label, size=size))
    return items


def read_annotation_pairs(annotations: str) -> list[tuple[str, str | None]]:
    """(video reference, label) pairs of a CSV or JSON annotation list, in list order."""
    if annotations.lower().endswith(".json"):
        with open(annotations, encoding="utf-8") as file:
            entries = json.load(file)
        if not isinstance(entries, list):
            raise ValueError(
                f"{annotations!r}: expected a JSON list of objects (Something-Something "
                f"V2 layout or [{{'path', 'label'}}]). Received a {type(entries).__name__}."
            )
        return [_json_entry(entry, annotations) for entry in entries]
    return _csv_entries(annotations)


def list_frame_folders(list_file: str, frames_root: str) -> list[SourceItem]:
    """Frame folders of a TSM list file: `folder num_frames label` per line."""
    items = []
    with open(list_file, encoding="utf-8") as file:
        for line_number, line in enumerate(file, 1):
            if not line.strip():
                continue
            parts = line.strip().rsplit(maxsplit=2)
            try:
                folder, num_frames, label = parts[0], int(parts[1]), int(parts[2])
            except (IndexError, ValueError) as error:
                raise ValueError(
                    f"{list_file}:{line_number}: expected 'folder num_frames label' "
                    f"with integer counts and labels. Received: {line.strip()!r}"
                ) from error
            path = os.path.join(frames_root, folder)
            items.append(
                SourceItem(folder, path, label, num_frames=num_frames, size=max(num_frames, 0))
            )
    return items


def _json_entry(entry, annotations):
    if isinstance(entry, dict) and "id" in entry and ("template" in entry or "label" in entry):
        # Something-Something V2: the class is the template without brackets.
        template = entry.get("template")
        label = template.replace("[", "").replace("]", "") if template else None
        return str(entry["id"]), label
    if isinstance(entry, dict) and ("path" in entry or "video" in entry):
        return str(entry.get("path", entry.get("video"))), entry.get("label")
    raise ValueError(
        f"{annotations!r}: each entry needs 'id' and 'template' (Something-Something V2) "
        f"or 'path' and 'label'. Received: {entry!r}"
    )


def _csv_entries(annotations):
    with open(annotations, encoding="utf-8", newline="") as file:
        rows = [row for row in csv.reader(file) if row]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    if "youtube_id" in header:
        column = {name: header.index(name) for name in header}
        pairs = []
        for row in rows[1:]:
            stem = row[column["youtube_id"]]
            if "time_start" in column and "time_end" in column:
                stem = f"{stem}_{int(float(row[column['time_start']])):06d}_{int(float(row[column['time_end']])):06d}"
            label = row[column["label"]] if "label" in column else None
            pairs.append((stem, label))
        return pairs
    path_column = next(
        (header.index(name) for name in ("path", "video", "filename") if name in header), None
    )
    if path_column is not None and "label" in header:
        label_column = header.index("label")
        return [
            (row[path_column], row[label_column] if len(row) > label_column else None)
            for row in rows[1:]
        ]
    if len(header) >= 2:
        return [(row[0], row[1] if len(row) > 1 else None) for row in rows]
    raise ValueError(
        f"{annotations!r}: expected a Kinetics CSV (youtube_id,time_start,time_end,label) "
        f"or 'path,label' rows. Received the first row {rows[0]!r}."
    )


def _index_videos(root):
    """Maps file stems and relative paths under `root` to their paths."""
    index = {}
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for file in sorted(files):
            if file.lower().endswith(VIDEO_EXTENSIONS):
                path = os.path.join(folder, file)
                index.setdefault(os.path.splitext(file)[0], path)
                index.setdefault(os.path.relpath(path, root), path)
    return index


def _find_video(reference, root, index):
    direct = reference if os.path.isabs(reference) else os.path.join(root, reference)
    if os.path.isfile(direct):
        return direct
    return (
        index.get(reference)
        or index.get(os.path.splitext(os.path.basename(reference))[0])
        or direct
    )
