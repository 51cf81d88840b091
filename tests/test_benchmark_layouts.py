"""benchmarks/benchmark_pytorch.py gives PyTorch the memory layout each of its columns names.

Its PyTorch inputs once carried NHWC strides from `np.moveaxis` while the figure
said "as the authors run it" (contiguous NCHW). These checks look where the
layout matters: the input the first convolution receives (seen by a hook while
the benchmark's own runner runs a small model) and the convolutions' kernels.
"""

import pathlib
import sys

import numpy as np
import pytest
import torch

from tests import torch_reference as reference

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))

import torch_layouts  # noqa: E402

IMAGE_SIZE = 32


def _is_channels_last(tensor):
    return tensor.is_contiguous(memory_format=torch.channels_last) and not tensor.is_contiguous()


def _has_layout(tensor, layout):
    if layout == torch_layouts.NCHW:
        return tensor.is_contiguous()
    return _is_channels_last(tensor)


def _first_convolution_input(runner, net):
    """Runs `runner` once; the input its first Conv2d receives."""
    seen = []
    first = next(module for module in net.modules() if isinstance(module, torch.nn.Conv2d))
    hook = first.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    try:
        runner()
    finally:
        hook.remove()
    return seen[0]


def _check_runner(runner, layout):
    """The input the model's first convolution receives, and every kernel whose layouts
    differ (more than one input channel and pixel), are stored in `layout`."""
    first_input = _first_convolution_input(runner, runner.net)
    assert _has_layout(first_input, layout), (layout, first_input.stride())
    kernels = [
        module.weight
        for module in runner.net.modules()
        if isinstance(module, torch.nn.Conv2d)
        and module.weight.shape[1] > 1
        and module.weight.shape[2] * module.weight.shape[3] > 1
    ]
    assert kernels and all(_has_layout(kernel, layout) for kernel in kernels)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (2, IMAGE_SIZE, IMAGE_SIZE, 3)).astype("float32")


def test_clip_runner_gives_each_layout_its_name(frames):
    net = reference.release_tsm("mobilenet_v2", num_classes=3, num_segments=2).eval()
    # The normalized clip as the tests build it carries NHWC strides: the runner must fix it.
    clip = reference.normalize_frames(frames[None])
    assert not clip.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).is_contiguous()
    for layout in torch_layouts.LAYOUTS:
        runner = torch_layouts.TorchClip(net, clip, layout)
        assert _has_layout(runner.clip.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE), layout), layout
        _check_runner(runner, layout)


def test_stream_runner_gives_each_layout_its_name(frames):
    net = reference.OnlineMobileNetV2(num_classes=3).eval()
    for layout in torch_layouts.LAYOUTS:
        runner = torch_layouts.TorchStream(net, reference.normalize_frames(frames), layout)
        assert _has_layout(runner.frames[0], layout), layout
        wide = [buffer for buffer in runner.initial if buffer.shape[2] > 1]
        assert wide and all(_has_layout(buffer, layout) for buffer in wide), layout
        _check_runner(runner, layout)


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="layout must be one of"):
        torch_layouts.tensor_in_layout(torch.zeros(1, 3, 2, 2), "NHWC")
