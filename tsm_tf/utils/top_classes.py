"""The best classes of a score vector, as every client reports them."""

import numpy as np


def top_classes(scores: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    """The `k` highest `scores` as `(label, score)`, best first (ties in label order)."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [(labels[index], float(scores[index])) for index in order]
