"""The evaluation report: its confusion-matrix figure and its top-5."""

import numpy as np
from PIL import Image

from tsm_tf.training.evaluation import save_confusion_png
from tsm_tf.training.evaluation import summarize


def test_confusion_png_grows_with_the_class_count(tmp_path):
    rng = np.random.default_rng(0)
    sizes = {}
    for num_classes in (9, 120):
        confusion = rng.integers(0, 3, (num_classes, num_classes)) + 10 * np.eye(
            num_classes, dtype=int
        )
        path = tmp_path / f"confusion_{num_classes}.png"
        save_confusion_png(confusion, [f"class {index}" for index in range(num_classes)], str(path))
        with Image.open(path) as image:
            assert image.format == "PNG"
            sizes[num_classes] = image.size
    assert sizes[9][0] >= 600 and sizes[9][1] >= 600
    # 120 classes get a larger canvas, so thinned tick labels stay legible.
    assert sizes[120][0] > 2 * sizes[9][0] and sizes[120][1] > 2 * sizes[9][1]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "confusion_120.png",
        "confusion_9.png",
    ]


def test_top5_is_reported_only_where_it_can_miss():
    rng = np.random.default_rng(0)
    truths = np.arange(14) % 7
    seven_classes = summarize(rng.random((14, 7)), truths, [str(index) for index in range(7)])
    assert 0.0 < seven_classes["top5"] < 1.0
    three_classes = summarize(rng.random((6, 3)), truths[:6] % 3, ["a", "b", "c"])
    assert three_classes["top5"] is None
