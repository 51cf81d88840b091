"""Test-time evaluation: several clips and crops per video, averaged."""

import json
import logging

import keras
import numpy as np

from tsm_tf.utils.atomic_files import atomic_path
from tsm_tf.utils.atomic_files import write_atomically
from tsm_tf.utils.progress import Progress
from tsm_tf.utils.progress import plural


def evaluate(
    model: keras.Model,
    file_pattern: str,
    num_clips: int = 1,
    num_crops: int = 1,
    batch_size: int = 8,
    sampling: str = "segment",
    resize_shorter_side: int | None = None,
    labels: list[str] | None = None,
    progress: bool = False,
) -> dict:
    """Evaluates a clip classifier on every video of the shards.

    Each video gives `num_clips` clips spread through it and `num_crops`
    crops of each (1: centre; 3: the paper's full-resolution test protocol);
    the softmax scores of all views are averaged into the video's score.
    With `progress=True` the videos are counted first (one read of the
    shards, without decoding) and a bar (on a terminal) or a line every
    `TSM_TF_PROGRESS_SECONDS` (elsewhere) follows them; see
    `tsm_tf.utils.progress`.

    Returns:
        A report: `top1`, `top5` (None for 5 classes or fewer, where it is
        always 1), `per_class_accuracy` (by label name),
        `confusion_matrix` (rows: true class, columns: predicted), the number
        of videos and the protocol.
    """
    from tsm_tf.data.records import check_labels_match

    num_classes = model.output.shape[-1]
    if labels is None and getattr(model, "labels", None):
        labels = list(model.labels)
        check_labels_match(file_pattern, labels, "the model")
    elif labels is None:
        check_labels_match(file_pattern, num_classes, "the model")
        labels = [str(index) for index in range(num_classes)]
    else:
        check_labels_match(file_pattern, labels, "the labels passed to evaluate")
    scores, truths = score_records(
        model,
        file_pattern,
        num_clips,
        num_crops,
        batch_size,
        sampling,
        resize_shorter_side,
        progress,
    )
    return summarize(
        scores, truths, labels, protocol={"num_clips": num_clips, "num_crops": num_crops}
    )


def score_records(
    model: keras.Model,
    file_pattern: str,
    num_clips: int = 1,
    num_crops: int = 1,
    batch_size: int = 8,
    sampling: str = "segment",
    resize_shorter_side: int | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Each video's averaged softmax scores `(videos, classes)` and its label, in shard order."""
    from tsm_tf.data import make_dataset
    from tsm_tf.data.records import count_records

    num_segments, image_size = model.input.shape[1], model.input.shape[2]
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
    num_videos = count_records(file_pattern) if progress else None
    if progress:
        logging.info(
            "Evaluating %s: %s x %s each, in batches of %d.",
            plural(num_videos, "video"),
            plural(num_clips, "clip"),
            plural(num_crops, "crop"),
            batch_size,
        )
    reporter = Progress(num_videos, "video", "Evaluated", enabled=progress)
    done = 0
    for clips, batch_labels in dataset:
        scores.append(average_view_scores(model, clips.numpy(), num_views))
        truths.append(batch_labels.numpy())
        done += len(truths[-1])
        reporter.update(done)
    reporter.close()
    if not scores:
        raise ValueError(f"No videos found in {file_pattern!r}.")
    return np.concatenate(scores), np.concatenate(truths).astype(int)


def average_view_scores(model: keras.Model, clips: np.ndarray, num_views: int) -> np.ndarray:
    """Each video's softmax scores, averaged over its views (the paper's test protocol).

    Args:
        model: a clip classifier.
        clips: `(videos, num_segments, H, W, 3)` for one view a video, else
            `(videos, num_views, num_segments, H, W, 3)`.
        num_views: clips times crops per video.

    Returns:
        float32 `(videos, num_classes)`.
    """
    views = np.reshape(clips, (-1, *clips.shape[2:])) if num_views > 1 else clips
    probabilities = keras.ops.softmax(model.predict_on_batch(views)).numpy()
    return probabilities.reshape(-1, num_views, probabilities.shape[-1]).mean(axis=1)


def summarize(
    scores: np.ndarray, truths: np.ndarray, labels: list[str], protocol: dict | None = None
) -> dict:
    """Top-1, top-5 (None for 5 classes or fewer), per-class accuracy and the confusion matrix."""
    num_classes = scores.shape[1]
    if len(truths) and truths.max() >= num_classes:
        raise ValueError(
            f"A video is labelled class {truths.max()}, but the model has {num_classes} classes "
            f"(0-{num_classes - 1}): the data was prepared with another label map."
        )
    predictions = scores.argmax(axis=1)
    top5 = np.argsort(-scores, axis=1)[:, :5]
    confusion = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(confusion, (truths, predictions), 1)
    per_class = {}
    for index, name in enumerate(labels):
        total = confusion[index].sum()
        per_class[name] = None if total == 0 else float(confusion[index, index] / total)
    return {
        "num_videos": int(len(truths)),
        "top1": float(np.mean(predictions == truths)),
        "top5": (
            float(np.mean([truth in row for truth, row in zip(truths, top5)]))
            if num_classes > 5
            else None
        ),
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
    """Draws the row-normalized confusion matrix with matplotlib and saves it as a PNG.

    Rows are the true classes and columns the predictions, both titled; the
    title gives the number of videos and the top-1 accuracy. Counts are written
    in the cells for up to 20 classes; with more, the figure grows with the
    class count and at most about 60 tick labels are drawn per axis.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and safe in worker threads
    from matplotlib import pyplot

    confusion = np.asarray(confusion)
    num_classes = len(labels)
    totals = confusion.sum(axis=1, keepdims=True)
    rates = confusion / np.maximum(totals, 1)
    num_videos = int(confusion.sum())
    accuracy = np.trace(confusion) / max(num_videos, 1)
    side = min(40.0, max(6.0, 0.25 * num_classes + 3.0))
    figure, axes = pyplot.subplots(figsize=(side + 1.5, side), dpi=100)
    try:
        image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
        step = max(1, int(np.ceil(num_classes / 60)))
        ticks = np.arange(0, num_classes, step)
        font_size = 10 if num_classes <= 20 else 7
        axes.set_xticks(ticks, [labels[index] for index in ticks], rotation=90, fontsize=font_size)
        axes.set_yticks(ticks, [labels[index] for index in ticks], fontsize=font_size)
        title_size = max(12.0, side * 0.6)
        axes.set_xlabel("predicted class", fontsize=title_size)
        axes.set_ylabel("true class", fontsize=title_size)
        axes.set_title(
            f"Confusion matrix: top-1 {100 * accuracy:.1f}% on {num_videos} videos",
            fontsize=title_size,
        )
        if num_classes <= 20:
            for row in range(num_classes):
                for column in range(num_classes):
                    if confusion[row, column]:
                        color = "white" if rates[row, column] > 0.5 else "black"
                        axes.text(
                            column,
                            row,
                            str(confusion[row, column]),
                            ha="center",
                            va="center",
                            color=color,
                            fontsize=8,
                        )
        figure.tight_layout()
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png")
    finally:
        pyplot.close(figure)
