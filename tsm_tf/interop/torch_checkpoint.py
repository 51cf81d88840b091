"""Reading PyTorch checkpoints safely and naming their tensors the torchvision way.

A checkpoint is read with `torch.load(..., weights_only=True)` (no arbitrary
unpickling) into NumPy arrays, then every key is rewritten to a *canonical*
name: the torchvision module path of the tensor, with the classifier called
`classifier`. The canonical name of a Keras layer is its name with
underscores turned into dots (`layer1_0_conv1` -> `layer1.0.conv1`), so the
import in `tsm_tf/interop/torch_import.py` is a dictionary lookup.

Layouts understood (facts about the public reference code,
github.com/mit-han-lab/temporal-shift-module):

- `"tsm_release"`: the authors' offline checkpoints (`TSM_*.pth`). A dict
  with `state_dict`; keys prefixed `module.base_model.` (DataParallel around
  the TSN wrapper); a shifted convolution is wrapped, `...conv1.net.weight`
  (ResNet50, ops/temporal_shift.py) or `features.N.conv.0.net.weight`
  (MobileNetV2, ops/models.py); the classifier is `module.new_fc.*` when
  trained with dropout, else the backbone's own `fc` / `classifier`. The
  MobileNetV2 is archs/mobilenet_v2.py (from tonylins/pytorch-mobilenet-v2),
  whose blocks index their Sequential differently from torchvision.
- `"mobilenet_v2_reference"`: a plain state dict of that same MobileNetV2
  (`features.N.conv.K.*`, `classifier.*`): the online demo's Jester model
  (online_demo/mobilenet_v2_tsm.py, whose shift holds no weights) and the
  tonylins ImageNet file.
- `"torchvision"`: torchvision's ResNet50 and MobileNetV2 state dicts.
"""

import dataclasses
import os
import pickle
import re

import numpy as np

TSM_RELEASE = "tsm_release"
MOBILENET_V2_REFERENCE = "mobilenet_v2_reference"
TORCHVISION = "torchvision"
LAYOUTS = (TSM_RELEASE, MOBILENET_V2_REFERENCE, TORCHVISION)

# The ResNets the backbones implement, by blocks per stage.
RESNET_BLOCKS = {(3, 4, 6, 3): "resnet50", (3, 4, 23, 3): "resnet101"}

# archs/mobilenet_v2.py Sequential index -> torchvision's, per block kind.
_REFERENCE_TO_TORCHVISION_EXPANDED = {
    "0": "0.0",  # pointwise expansion conv
    "1": "0.1",  # its batch norm
    "3": "1.0",  # depthwise conv
    "4": "1.1",  # its batch norm
    "6": "2",  # pointwise projection conv
    "7": "3",  # its batch norm
}
_REFERENCE_TO_TORCHVISION_NO_EXPANSION = {
    "0": "0.0",  # depthwise conv
    "1": "0.1",  # its batch norm
    "3": "1",  # pointwise projection conv
    "4": "2",  # its batch norm
}

_TORCHVISION_MOBILENET_KEY = re.compile(r"^features\.\d+\.conv\.\d+\.\d+\.")
_REFERENCE_BLOCK_KEY = re.compile(r"^features\.(\d+)\.conv\.(\d+)\.(.+)$")
_WRAPPED_SHIFT_KEY = re.compile(r"^(.+?)\.(?:conv1|conv\.0)\.net\.")


@dataclasses.dataclass(frozen=True)
class TorchCheckpoint:
    """The tensors of a checkpoint under canonical names, and what it says about itself.

    Attributes:
        path: the file read.
        layout: one of `LAYOUTS`.
        backbone: `"resnet50"`, `"resnet101"` or `"mobilenet_v2"`.
        tensors: canonical name -> float32 (or integer) NumPy array.
        original_names: canonical name -> the key in the file.
        shifted_blocks: Keras block names (`"layer1_0"`, `"features_3"`)
            whose convolution the file wraps in a temporal shift; empty for
            files that do not record the shift (`mobilenet_v2_reference`,
            `torchvision`) and for TSN files.
        name_hints: settings read from the reference release's file names:
            `shift_div` (`shift8`), `num_segments` (`segment8`), `online`.
        arch: the `arch` entry of a reference training checkpoint, if any.
    """

    path: str
    layout: str
    backbone: str
    tensors: dict
    original_names: dict
    shifted_blocks: list
    name_hints: dict
    arch: str | None = None

    @property
    def num_classes(self) -> int | None:
        """Rows of the classifier, or None if the file has none."""
        classifier = self.tensors.get("classifier.weight")
        return None if classifier is None else int(classifier.shape[0])


def read_torch_checkpoint(path: str | os.PathLike) -> TorchCheckpoint:
    """Reads a PyTorch checkpoint safely and canonicalizes its key names.

    Args:
        path: a `.pth` / `.pth.tar` file in one of the layouts of this
            module's docstring.

    Returns:
        A `TorchCheckpoint`.

    Raises:
        ImportError: torch is not installed (`pip install tsm_tf[torch]`).
        FileNotFoundError: no such file.
        ValueError: the file is truncated or corrupt, needs unsafe
            unpickling, holds no state dict, or is not a ResNet50 / ResNet101 / MobileNetV2
            in a known layout.
    """
    path = os.fspath(path)
    raw = _torch_load(path)
    arch = raw.get("arch") if isinstance(raw, dict) else None
    state = _state_dict(raw, path)
    arrays = {key: _to_numpy(key, value, path) for key, value in state.items()}
    layout, backbone, canonical, shifted_blocks = _canonicalize(arrays, path)
    tensors = {name: arrays[key] for name, key in canonical.items()}
    _check_supported(tensors, canonical, path)
    return TorchCheckpoint(
        path=path,
        layout=layout,
        backbone=backbone,
        tensors=tensors,
        original_names=canonical,
        shifted_blocks=shifted_blocks,
        name_hints=file_name_hints(path),
        arch=arch if isinstance(arch, str) else None,
    )


def file_name_hints(path: str | os.PathLike) -> dict:
    """Settings encoded in the reference release's file names.

    `TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth` gives
    `{"shift_div": 8, "num_segments": 8, "place": "blockres", "online": False}`;
    `mobilenetv2_jester_online.pth.tar` gives `{"online": True}`.

    Args:
        path: a checkpoint file name (directories are ignored).

    Returns:
        A dict with whichever of `shift_div`, `num_segments`, `place`,
        `online` the name states (`online` is always present).
    """
    name = os.path.basename(os.fspath(path)).lower()
    hints = {"online": "online" in name}
    shift = re.search(r"(?:^|_)shift(\d+)(?:_([a-z]+))?", name)
    if shift:
        hints["shift_div"] = int(shift.group(1))
        if shift.group(2):
            hints["place"] = shift.group(2)
    segments = re.search(r"(?:^|_)segment(\d+)", name)
    if segments:
        hints["num_segments"] = int(segments.group(1))
    return hints


def _torch_load(path):
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "Reading a PyTorch checkpoint needs torch, an optional dependency "
            "of tsm_tf. Install it with `pip install tsm_tf[torch]` (or `pip "
            "install torch`). The converted Keras model runs without it."
        ) from error
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No checkpoint file at {path!r}.")
    with open(path, "rb") as file:
        header = file.read(4)
    # torch.save writes a zip archive; older PyTorch wrote a pickle (protocol byte 0x80).
    if not (header.startswith(b"PK\x03\x04") or header.startswith(b"\x80")):
        raise ValueError(
            f"{path!r} is not a PyTorch checkpoint: a file written by torch.save starts as a "
            f"zip archive or a pickle, and this one starts with {header!r}. Pass the .pth or "
            ".pth.tar file of a checkpoint (see the presets in docs/pretrained.md)."
        )
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Weights only load failed" in message and "truncated" not in message:
            raise ValueError(
                f"{path!r} cannot be read safely: it holds Python objects "
                "beyond tensors and plain containers, and unpickling them "
                "could run arbitrary code, so tsm_tf refuses (it reads with "
                "torch.load(weights_only=True)). If you trust the file, "
                "re-save its weights alone in PyTorch: torch.save("
                "torch.load(path, weights_only=False)['state_dict'], "
                f"'weights.pth'). PyTorch said: {message.splitlines()[0]}"
            ) from error
        raise _corrupt_file_error(path, error) from error
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError) as error:
        raise _corrupt_file_error(path, error) from error


def _numpy_scalar_globals():
    """NumPy scalars and dtypes, allowed on top of torch's weights-only set.

    Training checkpoints often store metrics such as `best_prec1` as NumPy
    scalars. Rebuilding one takes a dtype and raw bytes and runs no code, so
    allowing them keeps the reader as safe as `weights_only=True`.
    """
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import scalar
    dtype_classes = {type(np.dtype(code)) for code in "?bhilqBHILQefdgFD"}
    return [
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),  # pickled by NumPy 1.x
        np.dtype,
        *sorted(dtype_classes, key=lambda cls: cls.__name__),
    ]


def _corrupt_file_error(path, error):
    size = os.path.getsize(path)
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return ValueError(
        f"{path!r} ({size} bytes) is not a readable PyTorch checkpoint: it is "
        "truncated or corrupt (an interrupted download is the usual cause). "
        f"Download it again and compare its size and hash. PyTorch said: {detail}"
    )


def _state_dict(raw, path):
    state = raw
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        state = raw["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ValueError(
            f"{path!r} holds no state dict: expected a dict of tensors, or a "
            "training checkpoint with a 'state_dict' entry. Received: "
            f"{type(raw).__name__}"
            + (f" with keys {sorted(map(str, raw))[:10]}" if isinstance(raw, dict) else "")
        )
    return state


def _to_numpy(key, value, path):
    if not hasattr(value, "detach") or not hasattr(value, "numpy"):
        raise ValueError(
            f"{path!r}: entry {key!r} of the state dict is a "
            f"{type(value).__name__}, expected a tensor. Is this a state dict "
            "of a ResNet50 or MobileNetV2 TSM?"
        )
    value = value.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    return value.numpy().copy()


def _canonicalize(arrays, path):
    """Returns (layout, backbone, {canonical: original key}, shifted blocks)."""
    keys = list(arrays)
    stripped = {key: key for key in keys}
    if all(key.startswith("module.") for key in keys):
        stripped = {key: key[len("module.") :] for key in keys}
    is_release = any(name.startswith(("base_model.", "new_fc.")) for name in stripped.values())
    if is_release:
        renamed = {}
        for key, name in stripped.items():
            if name.startswith("base_model."):
                name = name[len("base_model.") :]
            elif name.startswith("new_fc."):
                name = "classifier." + name[len("new_fc.") :]
            renamed[key] = name
        stripped = renamed
    backbone = _detect_backbone(stripped.values(), path)

    shifted_blocks = set()
    canonical = {}
    for key, name in stripped.items():
        match = _WRAPPED_SHIFT_KEY.match(name)
        if match:
            shifted_blocks.add(match.group(1).replace(".", "_"))
            name = name.replace(".net.", ".", 1)
        canonical[key] = name

    if backbone.startswith("resnet"):
        canonical = {
            key: "classifier." + name[len("fc.") :] if name.startswith("fc.") else name
            for key, name in canonical.items()
        }
        layout = TSM_RELEASE if is_release else TORCHVISION
    elif any(_TORCHVISION_MOBILENET_KEY.match(name) for name in canonical.values()):
        if is_release:
            raise ValueError(
                f"{path!r} mixes the reference release's prefixes with "
                "torchvision's MobileNetV2 layout: an unknown layout."
            )
        canonical = {
            key: "classifier." + name[len("classifier.1.") :]
            if name.startswith("classifier.1.")
            else name
            for key, name in canonical.items()
        }
        layout = TORCHVISION
    else:
        canonical = _reference_mobilenet_to_torchvision(canonical)
        layout = TSM_RELEASE if is_release else MOBILENET_V2_REFERENCE

    by_name = {}
    for key, name in canonical.items():
        if name in by_name:
            raise ValueError(
                f"{path!r}: keys {by_name[name]!r} and {key!r} name the same "
                f"tensor ({name!r}): an unknown layout."
            )
        by_name[name] = key
    return layout, backbone, by_name, sorted(shifted_blocks)


def _check_supported(tensors, canonical, path):
    """Clear errors for released variants the backbones do not implement."""
    non_local = [key for name, key in canonical.items() if ".nl." in f".{name}"]
    if non_local:
        raise ValueError(
            f"{path!r} is a non-local TSM (keys such as {non_local[0]!r}); "
            "tsm_tf implements the plain TSM only."
        )
    stem = tensors.get("conv1.weight", tensors.get("features.0.0.weight"))
    if stem is not None and stem.ndim == 4 and stem.shape[1] != 3:
        raise ValueError(
            f"{path!r} takes {stem.shape[1]} input channels (an optical-flow or "
            "RGB-difference model); tsm_tf models take RGB frames (3 channels)."
        )


def _detect_backbone(names, path):
    names = list(names)
    if any(name.startswith("layer1.") for name in names):
        blocks = []
        for stage in range(1, 5):
            indices = {
                int(name.split(".")[1]) for name in names if name.startswith(f"layer{stage}.")
            }
            blocks.append(len(indices))
        if tuple(blocks) not in RESNET_BLOCKS:
            raise ValueError(
                f"{path!r} is a ResNet with {tuple(blocks)} blocks per stage; "
                "tsm_tf implements "
                + " and ".join(f"{name} {stages}" for stages, name in RESNET_BLOCKS.items())
                + " only."
            )
        return RESNET_BLOCKS[tuple(blocks)]
    if any(name.startswith("features.") for name in names):
        return "mobilenet_v2"
    raise ValueError(
        f"{path!r} is neither a ResNet50 (keys `layer1.*`) nor a MobileNetV2 "
        f"(keys `features.*`), the two backbones tsm_tf implements. Its first "
        f"keys: {names[:5]}"
    )


def _reference_mobilenet_to_torchvision(canonical):
    """Renames archs/mobilenet_v2.py's `features.N.conv.K` to torchvision's."""
    expanded_blocks = set()
    for name in canonical.values():
        match = _REFERENCE_BLOCK_KEY.match(name)
        if match and match.group(2) in ("6", "7"):
            expanded_blocks.add(match.group(1))
    renamed = {}
    for key, name in canonical.items():
        match = _REFERENCE_BLOCK_KEY.match(name)
        if match:
            block, index, rest = match.groups()
            table = (
                _REFERENCE_TO_TORCHVISION_EXPANDED
                if block in expanded_blocks
                else _REFERENCE_TO_TORCHVISION_NO_EXPANSION
            )
            if index in table:
                name = f"features.{block}.conv.{table[index]}.{rest}"
        renamed[key] = name
    return renamed


def infer_build_config(checkpoint: TorchCheckpoint) -> dict:
    """The `build_tsm` settings a checkpoint states or implies.

    Args:
        checkpoint: from `read_torch_checkpoint`.

    Returns:
        A dict with `backbone`, `num_classes`, `width_multiplier`,
        `shift_div`, `bidirectional` and `num_segments`; a value is None
        where the file does not say (for example the shift of a plain
        MobileNetV2 state dict that is not named `*online*`).
    """
    hints = checkpoint.name_hints
    config = {
        "backbone": checkpoint.backbone,
        "num_classes": checkpoint.num_classes,
        "width_multiplier": _infer_width(checkpoint),
        "num_segments": hints.get("num_segments"),
        "shift_div": None,
        "bidirectional": None,
    }
    if checkpoint.layout == TSM_RELEASE:
        if checkpoint.shifted_blocks:
            # The release's shift is bidirectional, 1/8 each way by default.
            config["shift_div"] = hints.get("shift_div", 8)
            config["bidirectional"] = True
        else:
            config["shift_div"] = 0
            config["bidirectional"] = True
    elif checkpoint.layout == MOBILENET_V2_REFERENCE and hints["online"]:
        # online_demo/mobilenet_v2_tsm.py shifts c // 8 channels from the past.
        config["shift_div"] = 8
        config["bidirectional"] = False
    elif checkpoint.layout == TORCHVISION:
        config["shift_div"] = 0
        config["bidirectional"] = True
    return config


def _infer_width(checkpoint):
    tensors = checkpoint.tensors
    if checkpoint.backbone.startswith("resnet"):
        stem = tensors.get("conv1.weight")
        if stem is None:
            return None
        return stem.shape[0] / 64.0
    stem = tensors.get("features.0.0.weight")
    first = tensors.get("features.1.conv.1.weight")
    if stem is not None and first is not None and stem.shape[0] == 32 and first.shape[0] == 16:
        return 1.0
    return None
