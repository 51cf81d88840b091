"""Class names: label files in every accepted format, and label swaps as maps."""

import functools
import json
import os
from collections.abc import Callable
from collections.abc import Iterable


def read_label_file(
    path: str | os.PathLike, num_classes: int | None = None, open_file: Callable | None = None
) -> list[str]:
    """Class names from a label file, the index of a name being its label.

    Accepted formats: `labels.txt` (one name per line, blank lines ignored), a
    JSON list of names, or a JSON `{name: index}` map (Something-Something
    V2's labels file).

    Args:
        path: the label file.
        num_classes: when given, the number of names the file must hold.
        open_file: opens `path` for reading text (`tf.io.gfile.GFile` for
            `gs://`, `s3://` or `hdfs://` paths).

    Raises:
        ValueError: a malformed file, or not `num_classes` names.
    """
    path = os.fspath(path)
    opener = open_file or functools.partial(open, encoding="utf-8")
    with opener(path) as file:
        if not path.lower().endswith(".json"):
            labels = [line.strip() for line in file if line.strip()]
        else:
            labels = _json_labels(json.load(file), path)
    if num_classes is not None and len(labels) != num_classes:
        raise ValueError(
            f"{path!r} names {len(labels)} classes; the model has {num_classes}. "
            "Pass a label file with one name per class."
        )
    return labels


def _json_labels(data, path):
    if isinstance(data, list):
        return [str(name) for name in data]
    if isinstance(data, dict):
        ordered = sorted(data.items(), key=lambda item: int(item[1]))
        if [int(index) for _, index in ordered] != list(range(len(ordered))):
            raise ValueError(
                f"{path!r}: label indices must be 0 .. {len(ordered) - 1} with no gaps."
            )
        return [name for name, _ in ordered]
    raise ValueError(f"{path!r}: expected a JSON list of names or a {{name: index}} object.")


def label_swaps_to_map(swaps: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Pairs of labels that trade places -> a map both ways: `((0, 1),)` -> `{0: 1, 1: 0}`."""
    mapping = {}
    for first, second in swaps:
        mapping[first], mapping[second] = second, first
    return mapping
