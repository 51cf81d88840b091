"""The PyTorch side of benchmark_pytorch.py in both memory layouts, each named.

The authors' data loader gives PyTorch contiguous NCHW clips, and their models
keep PyTorch's default (contiguous) weights: that is PyTorch as the authors run
it. On a CPU, PyTorch's convolutions are faster in channels_last (NHWC in memory),
which a user gets by converting both the model and its input; that is the best
PyTorch offers here. A figure that names neither misleads one way or the other,
so the benchmark times both.
"""

import copy

import torch

NCHW = "NCHW"
CHANNELS_LAST = "channels_last"
LAYOUTS = (NCHW, CHANNELS_LAST)
DESCRIPTIONS = {
    NCHW: "contiguous NCHW model and input, as the authors run it",
    CHANNELS_LAST: "model and input converted to channels_last",
}
_MEMORY_FORMATS = {NCHW: torch.contiguous_format, CHANNELS_LAST: torch.channels_last}


def _memory_format(layout):
    if layout not in _MEMORY_FORMATS:
        raise ValueError(f"layout must be one of {LAYOUTS}. Received: layout={layout!r}")
    return _MEMORY_FORMATS[layout]


def tensor_in_layout(tensor, layout):
    """`tensor` of shape `(..., C, H, W)` with each `(C, H, W)` image stored in `layout`.

    The leading dimensions are flattened to one batch dimension for the
    conversion (PyTorch's memory formats are defined for 4-D tensors) and split
    again as a view, so the model's own reshape back to 4-D keeps the layout.
    """
    images = tensor.reshape(-1, *tensor.shape[-3:])
    return images.contiguous(memory_format=_memory_format(layout)).view(tensor.shape)


def model_in_layout(net, layout):
    """A copy of `net` with its 4-D weights stored in `layout`."""
    return copy.deepcopy(net).to(memory_format=_memory_format(layout))


class TorchClip:
    """The release's model on one normalized clip `(1, frames, 3, H, W)`, both in `layout`."""

    def __init__(self, net, clip, layout):
        self.net = model_in_layout(net, layout)
        self.clip = tensor_in_layout(clip, layout)

    def __call__(self):
        with torch.inference_mode():
            return self.net(self.clip).numpy()


class TorchStream:
    """The online demo's network run frame by frame on normalized `(frames, 3, H, W)`,
    carrying its shift buffers; the model, the frames and the buffers in `layout`."""

    def __init__(self, net, frames, layout):
        self.net = model_in_layout(net, layout)
        self.frames = tensor_in_layout(frames[:, None], layout)  # (frames, 1, 3, H, W)
        self.initial = [
            tensor_in_layout(buffer, layout) for buffer in net.initial_buffers(frames.shape[-1])
        ]
        self.reset()

    def reset(self):
        self.buffers, self.index = self.initial, 0

    def __call__(self):
        with torch.inference_mode():
            logits, *self.buffers = self.net(self.frames[self.index], *self.buffers)
        self.index = (self.index + 1) % len(self.frames)
        return logits.numpy().reshape(-1)
