"""Run configs: dict, YAML, TOML and JSON round trips; `seqvae config` then `seqvae train
--config`; precedence of preset, file and options; rejection of bad keys and values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from seqvae import ConfigError, RunConfig, preset_config
from seqvae.cli.main import main
from seqvae.io.config_files import read_config_file, write_config_file

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def write_family(path: Path, n: int = 40, length: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 20, (2, length))[rng.integers(0, 2, n)]
    rows = np.where(rng.random((n, length)) < 0.2, rng.integers(0, 20, (n, length)), rows)
    path.write_text("".join(f">s{i}\n{''.join(LETTERS[r])}\n" for i, r in enumerate(rows)))
    return path


def unusual_config() -> RunConfig:
    """Every kind of value: None, lists, booleans, strings, floats that look like ints."""
    cfg = preset_config("fitness").updated(
        {
            "data.reference": None,
            "data.theta": None,
            "data.max_column_gap_fraction": 0.3,
            "model.encoder_hidden": [64, 32, 16],
            "model.activation": "tanh",
            "model.model_gaps": True,
            "model.regulariser": "mmd",
            "training.max_steps": None,
            "training.max_time_s": 30.0,
            "training.early_stopping_patience": None,
            "training.threads": 1,
            "seed": 7,
        }
    )
    return cfg.validate()


@pytest.mark.parametrize("name", [None, "explore", "fitness"])
def test_presets_round_trip_through_dicts(name):
    cfg = preset_config(name)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
@pytest.mark.parametrize("make", [lambda: preset_config("explore"), unusual_config])
def test_config_files_round_trip(tmp_path, suffix, make):
    cfg = make()
    path = tmp_path / f"config{suffix}"
    write_config_file(path, cfg.to_dict())
    restored = RunConfig.from_dict(read_config_file(path)).validate()
    assert restored == cfg
    assert restored.to_dict() == cfg.to_dict()


def test_seqvae_config_then_train_with_it(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    for preset, suffix in (("fitness", ".yaml"), ("explore", ".toml")):
        path = tmp_path / f"{preset}{suffix}"
        assert main(["config", "--preset", preset, "--out", str(path)]) == 0
        assert RunConfig.from_dict(read_config_file(path)) == preset_config(preset)
        out = tmp_path / f"run_{preset}"
        args = [
            "train",
            str(aln),
            "--config",
            str(path),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--no-progress",
        ]
        assert main(args) == 0, capsys.readouterr().err
        saved = RunConfig.from_dict(json.loads((out / "config.json").read_text()))
        expected = preset_config(preset).updated({"training.max_steps": 2})
        assert saved.preset == preset
        assert saved.training == expected.training
        assert saved.data == expected.data
        # the model section is the preset's, with the data's size filled in
        assert saved.model.encoder_hidden == expected.model.encoder_hidden
        assert saved.model.latent_dim == expected.model.latent_dim
        assert (saved.model.length, saved.model.alphabet_size) == (10, 21)
    capsys.readouterr()


def test_config_printed_to_stdout_is_the_preset(capsys):
    assert main(["config", "--preset", "explore"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert RunConfig.from_dict(printed) == preset_config("explore")


def test_precedence_preset_file_options_set(tmp_path, capsys):
    aln = write_family(tmp_path / "family.fasta")
    path = tmp_path / "partial.yaml"
    path.write_text(
        "preset: explore\nmodel:\n  beta: 2.0\n  latent_dim: 3\ntraining:\n  learning_rate: 1e-3\n"
    )
    out = tmp_path / "run"
    args = ["train", str(aln), "--config", str(path), "--out", str(out), "--no-progress"]
    args += ["--beta", "0.5", "--set", "model.latent_dim=4", "--max-steps", "2"]
    assert main(args) == 0, capsys.readouterr().err
    saved = RunConfig.from_dict(json.loads((out / "config.json").read_text()))
    assert saved.preset == "explore"
    assert saved.model.beta == 0.5  # option beats file
    assert saved.model.latent_dim == 4  # --set beats file
    assert saved.training.learning_rate == 0.001  # YAML's '1e-3' is a string: read as a number
    assert saved.model.encoder_hidden == preset_config("explore").model.encoder_hidden  # from the preset


# an old run's config.json: every retired key at the one value that means what seqvae does now
OLD_MODEL_KEYS = {
    "decoder_last_activation": None,
    "mmd_kernel": "imq",
    "decoder_group_sparsity": 0.0,
    "decoder_logvar_init": -10.0,
    "free_bits": 0.0,
    "output_dictionary": 0,
}


def test_an_old_run_config_loads_where_retired_keys_hold_what_is_done_now():
    cfg = preset_config("fitness")
    old = cfg.to_dict()
    old["model"].update(OLD_MODEL_KEYS, input_dim=0)
    old["training"]["variance_learning_rate"] = None
    assert RunConfig.from_dict(old) == cfg
    # a count model's columns were its input_dim: now its length
    counts = {"likelihood": "negative_binomial", "length": 0, "input_dim": 15}
    assert RunConfig.from_dict({"model": counts}).model.length == 15


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model.free_bits", 0.1),
        ("model.output_dictionary", 40),
        ("model.decoder_group_sparsity", 1.0),
        ("model.decoder_logvar_init", -6.0),
        ("model.mmd_kernel", "rbf"),
        ("model.decoder_last_activation", "sigmoid"),
        ("training.variance_learning_rate", 0.01),
        ("model.input_dim", 7),
    ],
)
def test_a_retired_key_with_another_value_is_one_error_naming_it(key, value):
    section, name = key.split(".")
    old = preset_config("fitness").to_dict()
    old[section][name] = value
    if name == "input_dim":
        old["model"]["length"] = 12  # a sequence model's length set as well: which one is meant?
    with pytest.raises(ConfigError, match=f"^{key}: ") as err:
        RunConfig.from_dict(old)
    assert err.value.field == key and "\n" not in str(err.value)


def test_unknown_keys_and_bad_values_are_rejected():
    with pytest.raises(ConfigError, match="model: unknown key 'bta'") as err:
        RunConfig.from_dict({"model": {"bta": 1.0}})
    assert err.value.field == "model.bta"
    with pytest.raises(ConfigError, match="unknown config key 'trainig'"):
        RunConfig.from_dict({"trainig": {}})
    bad_values = {
        "model.beta": -1.0,
        "model.latent_dim": 0,
        "model.encoder_hidden": [32, -4],
        "model.dropout": 1.5,
        "model.regulariser": "l2",
        "training.batch_size": 0,
        "training.learning_rate": -1e-3,
        "training.max_steps": -5,
        "training.validation_fraction": 1.0,
        "training.threads": 0,
        "training.device": "tpu",
        "data.theta": 1.2,
        "data.max_sequence_gap_fraction": -0.1,
        "data.nonstandard": "keep",
        "data.alphabet": "AA",
        "model.model_gaps": "yes",
        "seed": -1,
    }
    for key, value in bad_values.items():
        with pytest.raises(ConfigError) as err:
            preset_config("explore").updated({key: value}).validate()
        assert err.value.field == key, (key, err.value)
        assert key in str(err.value) or key.split(".")[-1] in str(err.value)


def test_types_are_normalised():
    cfg = RunConfig.from_dict(
        {
            "model": {"beta": "2", "encoder_hidden": [8.0]},
            "training": {"max_steps": 1e3},
            "data": {"theta": "null"},
        }
    ).validate()
    assert cfg.model.beta == 2.0 and isinstance(cfg.model.beta, float)
    assert cfg.model.encoder_hidden == [8] and isinstance(cfg.model.encoder_hidden[0], int)
    assert cfg.training.max_steps == 1000 and isinstance(cfg.training.max_steps, int)
    assert cfg.data.theta is None


def test_the_retired_kernel_flag_names_what_seqvae_does_now(tmp_path, capsys):
    from builders import fails_cleanly, write_family

    aln = write_family(tmp_path / "family.fasta")
    line = fails_cleanly(
        capsys,
        ["train", aln, "--kernel", "rbf", "--out", tmp_path / "run"],
        "--kernel",
        "'imq'",
        folder=tmp_path,
    )
    assert "no longer an option" in line
