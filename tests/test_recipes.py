"""The recipe files hold the numbers docs/training.md cites, and `tsm-train --recipe` runs them."""

import json
import pathlib

from tests.helpers import run_cli
from tsm_tf.data import MOTION_FLIP_LABEL_SWAPS
from tsm_tf.training import TrainConfig
from tsm_tf.training.config import read_recipe
from tsm_tf.training.config import read_settings
from tsm_tf.training.config import recipe_names
from tsm_tf.training.config import recipe_path

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "training.md"
AUTHORS = "github.com/mit-han-lab/temporal-shift-module"
YES_NO = {"yes": True, "no": False}


def documented_recipes():
    """The recipe table of docs/training.md: recipe name -> {column: cell}."""
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith("| ")]
    header = next(line for line in lines if line.startswith("| recipe |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    rows = lines[lines.index(header) + 1 :]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) != len(columns):
            break
        table[cells[0]] = dict(zip(columns, cells))
    return table


def test_every_recipe_holds_the_numbers_the_docs_cite():
    table = documented_recipes()
    assert sorted(table) == recipe_names()
    for name, row in table.items():
        settings = read_settings(recipe_path(name))
        config = TrainConfig(train_pattern="unused", run_dir="unused", **settings)
        notes = read_recipe(name)
        assert "tsm-eval" in notes["evaluation"], name
        if row["source"].startswith("authors'"):
            assert AUTHORS in notes["source"], name
        assert config.init_weights == (
            None if row["starts from"] == "random" else row["starts from"]
        )
        assert config.backbone == row["backbone"].split()[0], name
        assert config.num_segments == int(row["segments"]), name
        assert config.shift_div == int(row["shift_div"]), name
        assert config.bidirectional == YES_NO[row["bidirectional"]], name
        assert config.batch_size == int(row["batch"]), name
        assert config.epochs == int(row["epochs"]), name
        assert config.weight_decay == float(row["weight decay"]), name
        assert config.dropout == float(row["dropout"]), name
        assert config.partial_bn == YES_NO[row["partial BN"]], name
        assert config.flip == YES_NO[row["flip"]], name
        if row["decay epochs"] == "cosine":
            assert config.schedule == "cosine", name
        else:
            assert config.schedule == "step" and config.optimizer == "sgd", name
            assert config.decay_epochs == tuple(int(e) for e in row["decay epochs"].split(","))
            assert config.base_learning_rate == float(row["lr / 64"]), name
            assert config.learning_rate is None and config.momentum == 0.9, name
            assert config.clip_norm == 20.0 and config.decay_rate == 0.1, name
    demo = read_settings(recipe_path("motion_demo"))
    assert tuple(map(tuple, demo["flip_label_swaps"])) == MOTION_FLIP_LABEL_SWAPS


def test_dry_run_prints_a_recipe_with_its_source_and_explicit_flags_win():
    result = run_cli(
        "tsm_tf.cli.train", ["--recipe=ucf101_from_kinetics", "--dry_run", "--batch_size=32"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Recipe ucf101_from_kinetics: The authors' scripts/finetune_tsm_ucf101_rgb_8f.sh" in (
        result.stdout
    )
    assert "Evaluation: tsm-eval" in result.stdout
    config = json.loads(result.stdout[result.stdout.index("{") :])
    expected = read_settings(recipe_path("ucf101_from_kinetics"))
    assert config["batch_size"] == 32  # the flag over the recipe's 64
    assert TrainConfig(**config).scaled_learning_rate == 0.0005
    for key, value in expected.items():
        if key != "batch_size":
            assert config[key] == value, key
