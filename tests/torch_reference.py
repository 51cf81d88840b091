"""An independent PyTorch TSM, written for the tests from the paper and the reference layouts.

Nothing here is imported from tsm_tf: the modules are written the way the
public reference code builds them, so their `state_dict()` keys *are* the
layouts the importer must understand, and their forward passes are the
numbers the Keras models must reproduce.

- `TemporalShiftWrapper`: the release's `TemporalShift(net)` (wraps a
  convolution as `.net`, shifts its input). Bidirectional convention of
  ops/temporal_shift.py: `out[:, t, :fold] = x[:, t + 1, :fold]`,
  `out[:, t, fold:2 fold] = x[:, t - 1, fold:2 fold]`, zeros at the ends.
- ResNet50 (torchvision's v1.5 bottleneck, stride in the 3x3 conv) with the
  residual shift on `conv1` (`layerX.Y.conv1.net`).
- MobileNetV2 in two layouts: the release's archs/mobilenet_v2.py
  (`features.N.conv.K` flat Sequential, shift wraps `conv.0`), and
  torchvision's (`features.N.conv.0.0` nested Sequentials,
  `classifier.1`).
- `TSNWrapper` + `DataParallelLike`: `module.base_model.*`, `module.new_fc.*`.
- `OnlineMobileNetV2`: the online demo's network, which takes and returns
  explicit shift buffers.
"""

import math

import numpy as np
import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (expansion t, channels c, repeats n, stride s), the MobileNetV2 paper's table 2.
MOBILENET_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


# ---------------------------------------------------------------- the shift


def temporal_shift(x, num_segments, shift_div, bidirectional=True, mirrored=False):
    """The TSM shift on `(batch * num_segments, C, H, W)`, by index assignment.

    `mirrored=True` is a planted bug for the tests: time runs backwards around
    the shift, so every fold moves the other way.
    """
    frames, channels, height, width = x.shape
    clips = x.view(frames // num_segments, num_segments, channels, height, width)
    if mirrored:
        clips = clips.flip(1)
    fold = channels // shift_div
    out = torch.zeros_like(clips)
    if bidirectional:
        out[:, :-1, :fold] = clips[:, 1:, :fold]  # from the next frame
        out[:, 1:, fold : 2 * fold] = clips[:, :-1, fold : 2 * fold]  # from the previous
        out[:, :, 2 * fold :] = clips[:, :, 2 * fold :]
    else:
        out[:, 1:, :fold] = clips[:, :-1, :fold]  # from the previous frame only
        out[:, :, fold:] = clips[:, :, fold:]
    if mirrored:
        out = out.flip(1)
    return out.reshape(frames, channels, height, width)


class TemporalShiftWrapper(nn.Module):
    """Shifts the input of `net` in time: the release's `TemporalShift(net)`."""

    def __init__(self, net, num_segments, shift_div=8, bidirectional=True):
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.bidirectional = bidirectional
        self.mirrored = False

    def forward(self, x):
        return self.net(
            temporal_shift(x, self.num_segments, self.shift_div, self.bidirectional, self.mirrored)
        )


# ---------------------------------------------------------------- ResNet50


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5 bottleneck: 1x1, 3x3 (strided), 1x1, x4 channels."""

    def __init__(self, in_channels, width, stride):
        super().__init__()
        out_channels = width * 4
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


RESNET_STAGE_BLOCKS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


class ResNet(nn.Module):
    """torchvision's ResNet module tree for any bottleneck depth (`resnet101`: 3, 4, 23, 3)."""

    def __init__(self, blocks_per_stage, num_classes=1000, base_width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, base_width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_channels = base_width
        for stage, blocks in enumerate(blocks_per_stage, 1):
            stride = 1 if stage == 1 else 2
            width = base_width * 2 ** (stage - 1)
            layers = []
            for index in range(blocks):
                layers.append(Bottleneck(in_channels, width, stride if index == 0 else 1))
                in_channels = width * 4
            setattr(self, f"layer{stage}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ResNet50(ResNet):
    """torchvision's ResNet50 module tree; `base_width` 64 is the real one."""

    def __init__(self, num_classes=1000, base_width=64):
        super().__init__(RESNET_STAGE_BLOCKS["resnet50"], num_classes, base_width)


def add_resnet_shift(net, num_segments, shift_div=8):
    """The release's 'blockres' placement: every bottleneck's conv1 is wrapped."""
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in stage:
            block.conv1 = TemporalShiftWrapper(block.conv1, num_segments, shift_div)


# ---------------------------------------------------------------- MobileNetV2


def ceil_to_8(value):
    """archs/mobilenet_v2.py's `make_divisible`: round up to a multiple of 8."""
    return int(math.ceil(value / 8) * 8)


def round_to_8(value):
    """torchvision's `_make_divisible`: nearest multiple of 8, never below 90%."""
    rounded = max(8, int(value + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * value else rounded


class ReferenceInvertedResidual(nn.Module):
    """archs/mobilenet_v2.py's block: one flat Sequential `conv`."""

    def __init__(self, in_channels, out_channels, stride, expansion):
        super().__init__()
        hidden = int(in_channels * expansion)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers = []
        if expansion != 1:
            layers += [
                nn.Conv2d(in_channels, hidden, 1, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU6(inplace=True),
            ]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def conv_bn_relu6(in_channels, out_channels, kernel_size, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            kernel_size // 2,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU6(inplace=True),
    )


class TorchvisionInvertedResidual(nn.Module):
    """torchvision's block: `conv` = [ConvBNReLU(pw)], ConvBNReLU(dw), conv, BN."""

    def __init__(self, in_channels, out_channels, stride, expansion):
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers = []
        if expansion != 1:
            layers.append(conv_bn_relu6(in_channels, hidden, 1, 1))
        layers += [
            conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 in the release's layout (`"reference"`) or torchvision's.

    The reference layout follows archs/mobilenet_v2.py exactly, including its
    channel rule (stem always 32, block 1 always 16, ceil to 8), which equals
    torchvision's at width 1.0, the width of every released checkpoint.
    """

    def __init__(self, num_classes=1000, width=1.0, layout="reference"):
        super().__init__()
        self.layout = layout
        if layout == "reference":
            block, in_channels = ReferenceInvertedResidual, 32
            last = ceil_to_8(1280 * width) if width > 1.0 else 1280
        else:
            block, in_channels = TorchvisionInvertedResidual, round_to_8(32 * width)
            last = round_to_8(1280 * max(1.0, width))
        features = [conv_bn_relu6(3, in_channels, 3, 2)]
        for expansion, channels, repeats, stride in MOBILENET_V2_SETTING:
            if layout == "reference":
                out_channels = ceil_to_8(channels * width) if expansion > 1 else channels
            else:
                out_channels = round_to_8(channels * width)
            for index in range(repeats):
                features.append(
                    block(in_channels, out_channels, stride if index == 0 else 1, expansion)
                )
                in_channels = out_channels
        features.append(conv_bn_relu6(in_channels, last, 1, 1))
        self.features = nn.Sequential(*features)
        linear = nn.Linear(last, num_classes)
        self.classifier = (
            linear if layout == "reference" else nn.Sequential(nn.Dropout(0.2), linear)
        )

    def forward(self, x):
        x = self.features(x).mean(3).mean(2)
        return self.classifier(x)


def add_mobilenet_shift(net, num_segments, shift_div=8):
    """The release's placement: `conv[0]` of expanded blocks with a shortcut."""
    for module in net.modules():
        if (
            isinstance(module, ReferenceInvertedResidual)
            and len(module.conv) == 8
            and module.use_res_connect
        ):
            module.conv[0] = TemporalShiftWrapper(module.conv[0], num_segments, shift_div)


# ---------------------------------------------------------------- TSN wrapper


class TSNWrapper(nn.Module):
    """ops/models.py's TSN: base model with its classifier replaced by dropout,
    `new_fc` on top, average over the segments."""

    def __init__(self, base_model, num_classes, num_segments, last_layer_name):
        super().__init__()
        self.base_model = base_model
        self.num_segments = num_segments
        feature_dim = getattr(base_model, last_layer_name).in_features
        setattr(base_model, last_layer_name, nn.Dropout(0.5))
        self.new_fc = nn.Linear(feature_dim, num_classes)

    def frame_logits(self, clips):
        batch, segments = clips.shape[:2]
        frames = clips.reshape(batch * segments, *clips.shape[2:])
        return self.new_fc(self.base_model(frames)).view(batch, segments, -1)

    def forward(self, clips):
        return self.frame_logits(clips).mean(1)


class DataParallelLike(nn.Module):
    """Stands in for nn.DataParallel: its state dict prefixes keys with `module.`."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args):
        return self.module(*args)


def release_tsm(backbone, num_classes, num_segments, shift_div=8, base_width=64):
    """A TSM (or TSN with shift_div=0) as the release trains it, ready to save."""
    if backbone == "resnet50":
        base = ResNet50(base_width=base_width)
        if shift_div:
            add_resnet_shift(base, num_segments, shift_div)
        tsn = TSNWrapper(base, num_classes, num_segments, "fc")
    else:
        base = MobileNetV2(layout="reference")
        if shift_div:
            add_mobilenet_shift(base, num_segments, shift_div)
        tsn = TSNWrapper(base, num_classes, num_segments, "classifier")
    return DataParallelLike(tsn)


# ---------------------------------------------------------------- online demo


class ShiftBufferInvertedResidual(nn.Module):
    """The online demo's shifted block: takes and returns the shift buffer."""

    def __init__(self, in_channels, out_channels, stride, expansion):
        super().__init__()
        hidden = int(in_channels * expansion)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x, shift_buffer):
        fold = x.shape[1] // 8
        shifted = torch.cat((shift_buffer, x[:, fold:]), dim=1)
        return x + self.conv(shifted), x[:, :fold]


class OnlineMobileNetV2(nn.Module):
    """online_demo/mobilenet_v2_tsm.py: a ModuleList whose shifted blocks carry buffers."""

    def __init__(self, num_classes=27):
        super().__init__()
        features = [conv_bn_relu6(3, 32, 3, 2)]
        in_channels = 32
        for expansion, channels, repeats, stride in MOBILENET_V2_SETTING:
            for index in range(repeats):
                block_stride = stride if index == 0 else 1
                residual = block_stride == 1 and in_channels == channels
                kind = (
                    ShiftBufferInvertedResidual
                    if residual and expansion > 1
                    else ReferenceInvertedResidual
                )
                features.append(kind(in_channels, channels, block_stride, expansion))
                in_channels = channels
        features.append(conv_bn_relu6(in_channels, 1280, 1, 1))
        self.features = nn.ModuleList(features)
        self.classifier = nn.Linear(1280, num_classes)

    def initial_buffers(self, image_size):
        """Zero buffers, one per shifted block, for a batch of one."""
        buffers, x = [], torch.zeros(1, 3, image_size, image_size)
        # In eval mode, so that finding the shapes cannot touch batch-norm statistics.
        modes = [(module, module.training) for module in self.modules()]
        self.eval()
        with torch.no_grad():
            for feature in self.features:
                if isinstance(feature, ShiftBufferInvertedResidual):
                    buffers.append(torch.zeros(1, x.shape[1] // 8, *x.shape[2:]))
                    x, _ = feature(x, buffers[-1])
                else:
                    x = feature(x)
        for module, training in modes:
            module.training = training
        return buffers

    def stream(self, clips, carry_states=True):
        """Per-frame logits `(clips, frames, classes)` of normalized `(clips, frames, 3, H, W)`,
        streamed one frame at a time from zero buffers. `carry_states=False`
        starts every frame from zero buffers again (for the tests' sensitivity
        check: the states must matter)."""
        batch, num_frames, _, height, width = clips.shape
        initial = [buffer.expand(batch, -1, -1, -1) for buffer in self.initial_buffers(height)]
        buffers, logits = initial, []
        for index in range(num_frames):
            frame_logits, *new_buffers = self(clips[:, index], *buffers)
            logits.append(frame_logits)
            buffers = new_buffers if carry_states else initial
        return torch.stack(logits, 1)

    def forward(self, x, *shift_buffers):
        new_buffers, index = [], 0
        for feature in self.features:
            if isinstance(feature, ShiftBufferInvertedResidual):
                x, buffer = feature(x, shift_buffers[index])
                new_buffers.append(buffer)
                index += 1
            else:
                x = feature(x)
        return (self.classifier(x.mean(3).mean(2)), *new_buffers)


# ---------------------------------------------------------------- helpers


def randomize(module, seed, calibration_clips):
    """Random weights, then batch-norm statistics measured on `calibration_clips`.

    Random running statistics leave the activations of a deep network off
    scale, so its logits barely depend on the input and no comparison
    against it could fail; statistics of real forward passes keep every
    layer near unit scale, as in a trained network. `calibration_clips` are
    RGB [0, 255] clips `(clips, frames, H, W, 3)` of the size the module will
    see. Returns the module in eval mode.
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(shape, low, high):
        return torch.rand(shape, generator=generator) * (high - low) + low

    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Conv2d):
                fan_in = layer.weight[0].numel()
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=generator) / math.sqrt(fan_in)
                )
            elif isinstance(layer, nn.BatchNorm2d):
                layer.weight.copy_(uniform(layer.weight.shape, 0.5, 1.0))
                layer.bias.copy_(uniform(layer.bias.shape, -0.2, 0.2))
            elif isinstance(layer, nn.Linear):
                layer.weight.copy_(
                    torch.randn(layer.weight.shape, generator=generator)
                    / math.sqrt(layer.in_features)
                )
                layer.bias.copy_(uniform(layer.bias.shape, -0.5, 0.5))
    return calibrate_batch_norm(module, calibration_clips)


def calibrate_batch_norm(module, calibration_clips):
    """Sets every batch norm's running statistics to the average over `calibration_clips`.

    Each clip is one training-mode forward pass (its frames are the batch;
    the online network streams it); `momentum=None` makes PyTorch keep the
    cumulative average of the passes. Only the batch norms train, so dropout
    stays off.
    """
    batch_norms = [layer for layer in module.modules() if isinstance(layer, nn.BatchNorm2d)]
    momenta = [layer.momentum for layer in batch_norms]
    module.eval()
    for layer in batch_norms:
        layer.reset_running_stats()
        layer.momentum = None
        layer.train()
    with torch.no_grad():
        for clip in calibration_clips:
            frames = normalize_frames(clip)
            if isinstance(module, OnlineMobileNetV2):
                module.stream(frames[None])
            elif isinstance(module, (TSNWrapper, DataParallelLike)):
                module(frames[None])
            else:
                module(frames)
    for layer, momentum in zip(batch_norms, momenta):
        layer.momentum = momentum
    return module.eval()


def normalize_frames(frames):
    """RGB [0, 255] `(..., H, W, 3)` NumPy -> normalized `(..., 3, H, W)` float32 tensor."""
    frames = (np.asarray(frames, np.float64) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.moveaxis(frames, -1, -3).astype(np.float32))


# ---------------------------------------------------------------- deeper ResNets
def add_resnet_shift_blockres(net, num_segments, shift_div=8):
    """make_temporal_shift(place="blockres") of the release, ops/temporal_shift.py:
    with 23 or more blocks in layer3, n_round = 2 and only blocks whose index
    i satisfies i % n_round == 0 are wrapped, in every stage."""
    n_round = 2 if len(list(net.layer3.children())) >= 23 else 1
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        for index, block in enumerate(stage):
            if index % n_round == 0:
                block.conv1 = TemporalShiftWrapper(block.conv1, num_segments, shift_div)


def release_resnet_tsm(depth, num_classes, num_segments, shift_div=8, base_width=64):
    """A release-layout TSM (or TSN with shift_div=0) on ResNet `depth`, ready to save."""
    base = ResNet(RESNET_STAGE_BLOCKS[depth], base_width=base_width)
    if shift_div:
        add_resnet_shift_blockres(base, num_segments, shift_div)
    return DataParallelLike(TSNWrapper(base, num_classes, num_segments, "fc"))
