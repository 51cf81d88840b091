"""An exported TSM on the TFLite interpreter, driven by its metadata."""

import os

import numpy as np

from tsm_tf.lite.metadata import read_metadata
from tsm_tf.lite.stream_step import StreamStep
from tsm_tf.utils.native_stderr import captured_native_stderr


class TFLiteModel:
    """Runs a `.tflite` exported by `tsm_tf.export_tflite`, carrying its states.

    Reads `model.json` beside the model, checks that the interpreter's
    signature has exactly the names, shapes and dtypes it promises, and then
    takes float inputs in [0, 255] and returns float logits whatever the
    precision: quantized tensors are converted with the metadata's scale and
    zero point (`q = clip(floor(x / scale + 0.5) + zero_point)`,
    `x = scale * (q - zero_point)`). In streaming mode each call feeds the
    states the previous call returned, as stored (quantized or not);
    `reset()` sets them back to zero (the zero point when quantized).

    Runs on `ai_edge_litert`'s interpreter through its signature runner.

    Args:
        tflite_path: the `.tflite` file; its metadata must sit beside it.
        num_threads: interpreter threads; `None` lets TFLite choose.
        check_sha256: refuse a model whose bytes do not match the metadata.

    Example:

    >>> model = TFLiteModel("model.tflite", num_threads=2)
    >>> for frame in frames:          # (H, W, 3) at the model's image_size
    ...     logits = model(frame)
    """

    def __init__(
        self,
        tflite_path: str | os.PathLike,
        num_threads: int | None = None,
        check_sha256: bool = True,
    ):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise ImportError(
                "Running a .tflite needs ai-edge-litert (LiteRT's interpreter), an optional "
                "dependency of tsm_tf: pip install 'tsm_tf[litert]'."
            ) from error

        self.path = os.fspath(tflite_path)
        self.metadata = read_metadata(self.path, check_sha256=check_sha256)
        if num_threads is not None and (
            isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1
        ):
            raise ValueError(
                f"`num_threads` must be a positive int or None. Received: "
                f"num_threads={num_threads!r}"
            )
        self._interpreter = Interpreter(model_path=self.path, num_threads=num_threads)
        # Allocation applies the XNNPACK delegate, which announces itself on native stderr.
        with captured_native_stderr():
            self._interpreter.allocate_tensors()
        self._runner = self._interpreter.get_signature_runner(self.metadata["signature_key"])
        self._check_signature()
        self.input_name = self.metadata["input"]["name"]
        self.input_shape = tuple(self.metadata["input"]["shape"])
        self.states = {}
        self.reset()

    @property
    def mode(self) -> str:
        """`"streaming"` or `"clip"`."""
        return self.metadata["mode"]

    def reset(self) -> None:
        """Restarts the stream: every state back to zero."""
        self.states = self.zero_states()

    def zero_states(self) -> dict[str, np.ndarray]:
        """The states that start a stream, as stored (zero, or the zero point when quantized)."""
        return {
            state["input"]: _quantize(
                np.zeros(state["shape"], "float32"), state["dtype"], state.get("quantization")
            )
            for state in self.metadata["states"]
        }

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Runs one frame (streaming) or one clip (clip mode).

        Args:
            inputs: float RGB values in [0, 255], of the metadata's input
                shape, with or without its leading batch axis of 1.

        Returns:
            float32 logits `(num_classes,)`.
        """
        step, self.states = self.run_frame(inputs, self.states)
        return step.logits

    def run_frame(self, inputs: np.ndarray, states: dict) -> tuple[StreamStep, dict]:
        """Runs one frame (or clip) with the given states, keeping no state itself.

        Args:
            inputs: as for `__call__`.
            states: the states to feed, as stored (`zero_states()` to start).

        Returns:
            The `StreamStep` (what was fed, what came back, float32 logits)
            and the states for the next frame, by input name.
        """
        inputs = np.asarray(inputs)
        if inputs.shape == self.input_shape[1:]:
            inputs = inputs[None]
        if inputs.shape != self.input_shape:
            raise ValueError(
                f"The model's {self.input_name!r} input takes shape "
                f"{self.input_shape} (or {self.input_shape[1:]}). Received: "
                f"shape {inputs.shape}. Resize and crop frames with "
                "tsm_tf.lite.preprocessing.resize_and_center_crop first."
            )
        if not np.issubdtype(inputs.dtype, np.number):
            raise ValueError(
                f"Expected numeric RGB values in [0, 255]. Received dtype {inputs.dtype}."
            )
        feed = {
            self.input_name: _quantize(
                inputs.astype("float32"),
                self.metadata["input"]["dtype"],
                self.metadata["input"].get("quantization"),
            ),
            **states,
        }
        outputs = self._runner(**feed)
        new_states = {state["input"]: outputs[state["output"]] for state in self.metadata["states"]}
        output = self.metadata["output"]
        logits = _dequantize(outputs[output["name"]], output.get("quantization")).reshape(-1)
        return StreamStep(feed, dict(outputs), logits), new_states

    def state_bytes(self) -> int:
        """Memory held by the states between frames, in bytes."""
        return int(sum(state.nbytes for state in self.states.values()))

    def _check_signature(self):
        inputs = self._runner.get_input_details()
        outputs = self._runner.get_output_details()
        expected_inputs = [(self.metadata["input"]["name"], self.metadata["input"])]
        expected_outputs = [(self.metadata["output"]["name"], self.metadata["output"])]
        for state in self.metadata["states"]:
            expected_inputs.append((state["input"], state))
            expected_outputs.append((state["output"], state))
        for kind, actual, expected in (
            ("input", inputs, expected_inputs),
            ("output", outputs, expected_outputs),
        ):
            names = {name for name, _ in expected}
            if names != set(actual):
                raise ValueError(
                    f"The metadata of {self.path!r} lists the {kind}s "
                    f"{sorted(names)}, the model's signature has "
                    f"{sorted(actual)}. The metadata does not belong to this "
                    "model: re-export both together."
                )
            for name, tensor in expected:
                shape = [int(size) for size in actual[name]["shape"]]
                dtype = np.dtype(actual[name]["dtype"]).name
                if shape != list(tensor["shape"]) or dtype != tensor["dtype"]:
                    raise ValueError(
                        f"The metadata of {self.path!r} says {kind} {name!r} is "
                        f"{tensor['dtype']} {tensor['shape']}; the model has "
                        f"{dtype} {shape}. Re-export the model and its metadata "
                        "together."
                    )


def _quantize(values, dtype, quantization):
    if quantization is None:
        return values.astype(dtype)
    info = np.iinfo(dtype)
    quantized = np.floor(values / quantization["scale"] + 0.5) + quantization["zero_point"]
    return np.clip(quantized, info.min, info.max).astype(dtype)


def _dequantize(values, quantization):
    if quantization is None:
        return np.asarray(values, "float32")
    return ((values.astype("float32") - quantization["zero_point"]) * quantization["scale"]).astype(
        "float32"
    )
