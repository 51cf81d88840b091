"""The authors' released checkpoints and torchvision's ImageNet backbones, by name.

Plain dicts of facts, from the authors' README (github.com/mit-han-lab/
temporal-shift-module) and their test code (test_models.py):

- `url`: where the file is published; `sha256` / `size`: recorded once known
  (None: not yet; the downloader then checks torchvision's hash-named files by
  their name and the authors' against the hash of their first download).
- `architecture`: the `build_tsm` arguments of the checkpoint.
- `labels`: the file in `tsm_tf/presets/labels/` naming its classes in the
  checkpoint's order (see the README there for where each order comes from),
  or None.
- `preprocessing`: the authors' evaluation input (their test_models.py: frames
  resized to a shorter side of 256 and centre-cropped to 224, or 3 crops of
  256 for "full resolution"; ImageNet mean and std, applied inside tsm_tf's
  models, which take RGB in [0, 255]).
- `accuracy`: the top-1 the authors report, with its protocol; `tsm_eval` is
  the matching `tsm-eval` flags where tsm-eval implements the protocol.
"""

RELEASE_URL = "https://hanlab.mit.edu/projects/tsm/models/"
TORCHVISION_URL = "https://download.pytorch.org/models/"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Layouts of the files, as tsm_tf/interop/torch_checkpoint.py names them.
TSM_RELEASE = "tsm_release"
TORCHVISION = "torchvision"


def _preprocessing(sampling, frames_per_clip):
    return {
        "input": "RGB frames in [0, 255]; mean/std normalization is inside the model",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "resize_shorter_side": 256,
        "crop_size": 224,
        "sampling": sampling,
        "frames_per_clip": frames_per_clip,
    }


def _release(
    file_name,
    dataset,
    backbone,
    num_classes,
    num_segments,
    labels,
    accuracy,
    sampling="segment",
    shift_div=8,
    bidirectional=True,
):
    return {
        "dataset": dataset,
        "url": RELEASE_URL + file_name,
        "sha256": None,
        "size": None,
        "layout": TSM_RELEASE,
        "architecture": {
            "backbone": backbone,
            "num_classes": num_classes,
            "num_segments": num_segments,
            "shift_div": shift_div,
            "bidirectional": bidirectional,
            "width_multiplier": 1.0,
            "image_size": 224,
        },
        "labels": labels,
        "preprocessing": _preprocessing(sampling, num_segments),
        "accuracy": accuracy,
    }


def _accuracy(top1, protocol, num_clips=None, num_crops=None, sampling="segment"):
    tsm_eval = None
    if num_clips is not None:
        tsm_eval = {"num_clips": num_clips, "num_crops": num_crops, "sampling": sampling}
    return {"top1": top1, "protocol": protocol, "tsm_eval": tsm_eval}


_UNIFORM_1_CROP = "{} frames, 1 clip, centre crop 224 (uniform sampling)"
_UNIFORM_10_CROP = (
    "{} frames, 1 clip, 10 crops (uniform sampling; tsm-eval has no 10-crop protocol)"
)
_DENSE_10_CLIPS = "{} frames x 10 clips, dense sampling, full resolution (3 crops of 256)"
_CENTRE_1_CLIP = "{} frames, 1 clip, centre crop 224"
_FULL_RES_2_CLIPS = "{} frames x 2 clips, full resolution (3 crops of 256)"

PRESETS = {
    # Kinetics-400 classes in the authors' order: class i is line i of their
    # tools/kinetics_label_map.txt, as tools/gen_label_kinetics.py numbers them.
    "tsm_resnet50_kinetics400_8f": _release(
        "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth",
        "Kinetics-400",
        "resnet50",
        400,
        8,
        "kinetics400",
        [
            _accuracy(71.2, _UNIFORM_1_CROP.format(8), 1, 1),
            _accuracy(72.8, _UNIFORM_10_CROP.format(8)),
        ],
    ),
    "tsm_resnet50_kinetics400_16f": _release(
        "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment16_e50.pth",
        "Kinetics-400",
        "resnet50",
        400,
        16,
        "kinetics400",
        [
            _accuracy(72.6, _UNIFORM_1_CROP.format(16), 1, 1),
            _accuracy(73.7, _UNIFORM_10_CROP.format(16)),
        ],
    ),
    "tsm_resnet50_kinetics400_dense_8f": _release(
        "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e100_dense.pth",
        "Kinetics-400",
        "resnet50",
        400,
        8,
        "kinetics400",
        [_accuracy(74.1, _DENSE_10_CLIPS.format(8), 10, 3, "dense")],
        sampling="dense",
    ),
    "tsm_mobilenetv2_kinetics400_dense_8f": _release(
        "TSM_kinetics_RGB_mobilenetv2_shift8_blockres_avg_segment8_e100_dense.pth",
        "Kinetics-400",
        "mobilenet_v2",
        400,
        8,
        "kinetics400",
        [_accuracy(69.5, _DENSE_10_CLIPS.format(8), 10, 3, "dense")],
        sampling="dense",
    ),
    # The authors' TSN baseline was trained with 5 segments and tested with 8
    # (its frames never meet, so any count is the same network).
    "tsn_resnet50_kinetics400_8f": _release(
        "TSM_kinetics_RGB_resnet50_avg_segment5_e50.pth",
        "Kinetics-400",
        "resnet50",
        400,
        8,
        "kinetics400",
        [
            _accuracy(68.8, _UNIFORM_1_CROP.format(8), 1, 1),
            _accuracy(69.9, _UNIFORM_10_CROP.format(8)),
            _accuracy(70.6, _DENSE_10_CLIPS.format(8), 10, 3, "dense"),
        ],
        shift_div=0,
    ),
    "tsm_resnet50_sthv1_8f": _release(
        "TSM_something_RGB_resnet50_shift8_blockres_avg_segment8_e45.pth",
        "Something-Something V1",
        "resnet50",
        174,
        8,
        "something_something_v1",
        [
            _accuracy(45.6, _CENTRE_1_CLIP.format(8), 1, 1),
            _accuracy(47.2, _FULL_RES_2_CLIPS.format(8), 2, 3),
        ],
    ),
    "tsm_resnet50_sthv1_16f": _release(
        "TSM_something_RGB_resnet50_shift8_blockres_avg_segment16_e45.pth",
        "Something-Something V1",
        "resnet50",
        174,
        16,
        "something_something_v1",
        [
            _accuracy(47.2, _CENTRE_1_CLIP.format(16), 1, 1),
            _accuracy(48.4, _FULL_RES_2_CLIPS.format(16), 2, 3),
        ],
    ),
    "tsm_resnet101_sthv1_8f": _release(
        "TSM_something_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth",
        "Something-Something V1",
        "resnet101",
        174,
        8,
        "something_something_v1",
        [
            _accuracy(46.9, _CENTRE_1_CLIP.format(8), 1, 1),
            _accuracy(48.7, _FULL_RES_2_CLIPS.format(8), 2, 3),
        ],
    ),
    "tsm_resnet50_sthv2_8f": _release(
        "TSM_somethingv2_RGB_resnet50_shift8_blockres_avg_segment8_e45.pth",
        "Something-Something V2",
        "resnet50",
        174,
        8,
        "something_something_v2",
        [_accuracy(61.2, _FULL_RES_2_CLIPS.format(8), 2, 3)],
    ),
    "tsm_resnet50_sthv2_16f": _release(
        "TSM_somethingv2_RGB_resnet50_shift8_blockres_avg_segment16_e45.pth",
        "Something-Something V2",
        "resnet50",
        174,
        16,
        "something_something_v2",
        [_accuracy(63.1, _FULL_RES_2_CLIPS.format(16), 2, 3)],
    ),
    "tsm_resnet101_sthv2_8f": _release(
        "TSM_somethingv2_RGB_resnet101_shift8_blockres_avg_segment8_e45.pth",
        "Something-Something V2",
        "resnet101",
        174,
        8,
        "something_something_v2",
        [_accuracy(63.3, _FULL_RES_2_CLIPS.format(8), 2, 3)],
    ),
    # online_demo/: 1/8 of the channels shifted from the past only; one frame
    # per step, resized to 256 and centre-cropped to 224 (online_demo/main.py).
    "tsm_mobilenetv2_jester_online": _release(
        "mobilenetv2_jester_online.pth.tar",
        "Jester (27 gestures)",
        "mobilenet_v2",
        27,
        8,
        "jester",
        [_accuracy(None, "not reported by the authors")],
        sampling="online (every frame, streamed)",
        bidirectional=False,
    ),
}


def _torchvision(file_name, backbone, top1):
    return {
        "dataset": "ImageNet-1k (torchvision IMAGENET1K_V1)",
        "url": TORCHVISION_URL + file_name,
        "sha256": None,
        "size": None,
        "layout": TORCHVISION,
        # A TSN over ImageNet's classifier; build_tsm(..., weights=name) with
        # another num_classes or a shift keeps the backbone, as the paper starts.
        "architecture": {
            "backbone": backbone,
            "num_classes": 1000,
            "num_segments": 8,
            "shift_div": 0,
            "bidirectional": True,
            "width_multiplier": 1.0,
            "image_size": 224,
        },
        "labels": None,  # ImageNet's class names are not shipped with tsm_tf.
        "preprocessing": _preprocessing("per image", 1),
        "accuracy": [
            _accuracy(top1, "ImageNet val, 1 image, resize 256, centre crop 224 (torchvision)")
        ],
    }


PRESETS.update(
    {
        "resnet50_imagenet": _torchvision("resnet50-0676ba61.pth", "resnet50", 76.13),
        "resnet101_imagenet": _torchvision("resnet101-63fe2227.pth", "resnet101", 77.374),
        "mobilenetv2_imagenet": _torchvision("mobilenet_v2-b0353104.pth", "mobilenet_v2", 71.878),
    }
)
