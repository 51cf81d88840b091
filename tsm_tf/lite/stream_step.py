"""One frame of a stream: what was fed, what came back, the logits."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class StreamStep:
    """One frame of a stream.

    Attributes:
        inputs: exactly what was fed (the frame and the states, by name).
        outputs: exactly what came back (the logits and the new states).
        logits: float32 `(num_classes,)`, dequantized where the model is quantized.
    """

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    logits: np.ndarray
