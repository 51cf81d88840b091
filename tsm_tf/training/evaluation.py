"""Test-time evaluation: several clips and crops per video, averaged."""

import json
import logging

import keras
import numpy as np

from tsm_tf.utils.atomic_files import atomic_path
from tsm_tf.utils.atomic_files import write_atomically


def evaluate(
    model: keras.Model,
    file_pattern: str,
    num_clips: int = 1,
    num_crops: int = 1,
    batch_size: int = 8,
    sampling: str = "segment",
    resize_shorter_side: int | None = None,
    labels: list[str] | None = None,
) -> dict:
    """Evaluates a clip classifier on every video of the shards.

    Each video gives `num_clips` clips spread through it and `num_crops`
    crops of each (1: centre; 3: the paper's full-resolution test protocol);
    the softmax scores of all views are averaged into the video's score.

    Returns:
        A report: `top1`, `top5`, `per_class_accuracy` (by label name),
        `confusion_matrix` (rows: true class, columns: predicted), the number
        of videos and the protocol.
    """
    from tsm_tf.data import make_dataset

    num_segments, image_size = model.input.shape[1], model.input.shape[2]
    num_classes = model.output.shape[-1]
    if labels is None:
        labels = getattr(model, "labels", None) or [str(index) for index in range(num_classes)]
    dataset = make_dataset(
        file_pattern,
        num_segments=num_segments,
        image_size=image_size,
        training=False,
        batch_size=batch_size,
        sampling=sampling,
        num_clips=num_clips,
        num_crops=num_crops,
        resize_shorter_side=resize_shorter_side,
    )
    scores, truths = [], []
    num_views = num_clips * num_crops
    for clips, batch_labels in dataset:
        if num_views > 1:
            views = np.reshape(clips.numpy(), (-1, *clips.shape[2:]))
            probabilities = keras.ops.softmax(model.predict_on_batch(views)).numpy()
            probabilities = probabilities.reshape(-1, num_views, num_classes).mean(axis=1)
        else:
            probabilities = keras.ops.softmax(model.predict_on_batch(clips)).numpy()
        scores.append(probabilities)
        truths.append(batch_labels.numpy())
    if not scores:
        raise ValueError(f"No videos found in {file_pattern!r}.")
    scores = np.concatenate(scores)
    truths = np.concatenate(truths).astype(int)
    return summarize(scores, truths, labels, protocol={"num_clips": num_clips, "num_crops": num_crops})


def summarize(scores: np.ndarray, truths: np.ndarray, labels: list[str], protocol: dict | None = None) -> dict:
    """Top-1, top-5, per-class accuracy and the confusion matrix of video scores."""
    num_classes = scores.shape[1]
    predictions = scores.argmax(axis=1)
    top_k = min(5, num_classes)
    top5 = np.argsort(-scores, axis=1)[:, :top_k]
    confusion = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(confusion, (truths, predictions), 1)
    per_class = {}
    for index, name in enumerate(labels):
        total = confusion[index].sum()
        per_class[name] = None if total == 0 else float(confusion[index, index] / total)
    return {
        "num_videos": int(len(truths)),
        "top1": float(np.mean(predictions == truths)),
        "top5": float(np.mean([truth in row for truth, row in zip(truths, top5)])),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "labels": list(labels),
        "protocol": protocol or {},
    }


def write_report(report: dict, json_path: str, png_path: str | None = None) -> None:
    """Writes the report as JSON and, if asked, the confusion matrix as a PNG."""
    write_atomically(json_path, json.dumps(report, indent=2) + "\n")
    if png_path:
        save_confusion_png(np.array(report["confusion_matrix"]), report["labels"], png_path)
    logging.info("Wrote %s%s", json_path, f" and {png_path}" if png_path else "")


def save_confusion_png(confusion: np.ndarray, labels: list[str], path: str) -> None:
    """Renders a row-normalized confusion matrix with class names as a PNG."""
    from PIL import Image
    from PIL import ImageDraw

    num_classes = len(labels)
    cell = max(4, min(40, 800 // max(num_classes, 1)))
    show_text = cell >= 16
    margin = max(len(label) for label in labels) * 6 + 10 if show_text else 10
    size = margin + cell * num_classes + 10
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    rates = confusion / totals
    for row in range(num_classes):
        for column in range(num_classes):
            shade = int(255 * (1 - rates[row, column]))
            left, top = margin + column * cell, margin + row * cell
            draw.rectangle([left, top, left + cell - 1, top + cell - 1], fill=(shade, shade, 255))
            if show_text and confusion[row, column]:
                ink = "white" if rates[row, column] > 0.5 else "black"
                draw.text((left + 2, top + cell // 3), str(confusion[row, column]), fill=ink)
    if show_text:
        for index, label in enumerate(labels):
            draw.text((2, margin + index * cell + cell // 3), label, fill="black")
            column_label = Image.new("RGB", (margin, cell), "white")
            ImageDraw.Draw(column_label).text((2, cell // 3), label, fill="black")
            image.paste(column_label.rotate(90, expand=True), (margin + index * cell, 0))
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")
