"""The evaluation report's confusion-matrix figure."""

import numpy as np
from PIL import Image

from tsm_tf.training.evaluation import save_confusion_png


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
