"""``--device`` for score, embed, couplings and generate: the same numbers as on the CPU.

Stated tolerance: on another device scores, latent means and couplings agree with the CPU's to
1e-4 (absolute, float32 arithmetic in another order); designs drawn with the same seed are equal
on the CPU. Tests never need a GPU: where CUDA is missing, ``--device cuda`` must fail in one line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import seqvae
from conftest import shared_file
from seqvae.cli.main import main

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("devices")
    aln = seqvae.read_alignment(shared_file("blat/BLAT_ECOLX_test.a2m"))
    config = seqvae.preset_config("explore").updated(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "training.max_steps": 30,
            "training.eval_every": 10,
            "training.device": "cpu",
        }
    )
    seqvae.train(aln, config, out=folder / "run", progress=False)
    scan = pd.read_csv(shared_file("blat/BLAT_ECOLX_Ranganathan2015.csv")).iloc[:200]
    scan[["mutant", "2500"]].to_csv(folder / "scan.csv", index=False)
    return folder


def _outputs(folder, device: list[str], tag: str) -> dict:
    run, scan = str(folder / "run"), str(folder / "scan.csv")
    assert main(["score", run, scan, "--samples", "8", "--out", str(folder / f"s{tag}.csv"), *device]) == 0
    assert main(["embed", run, "--out", str(folder / f"z{tag}.csv"), *device]) == 0
    out = folder / f"c{tag}"
    assert main(["couplings", run, "--n-ref", "3", "--out", str(out), "--no-figures", *device]) == 0
    assert main(["generate", run, "-n", "4", "--out", str(folder / f"g{tag}.fasta"), *device]) == 0
    with np.load(out / "couplings.npz") as data:
        matrix = data[data.files[0]]
    return {
        "scores": pd.read_csv(folder / f"s{tag}.csv")["score"].to_numpy(),
        "z": pd.read_csv(folder / f"z{tag}.csv").filter(like="z_mean").to_numpy(),
        "couplings": matrix,
        "designs": (folder / f"g{tag}.fasta").read_text(),
    }


def test_device_option_gives_the_cpu_numbers(tiny_run):
    default = _outputs(tiny_run, [], "default")
    cpu = _outputs(tiny_run, ["--device", "cpu"], "cpu")
    for key in ("scores", "z", "couplings"):
        np.testing.assert_array_equal(default[key], cpu[key])
    assert default["designs"] == cpu["designs"]
    assert np.isfinite(default["scores"][~np.isnan(default["scores"])]).all()
    if torch.cuda.is_available():  # on a GPU machine: the stated tolerance
        gpu = _outputs(tiny_run, ["--device", "cuda"], "cuda")
        for key in ("scores", "z", "couplings"):
            np.testing.assert_allclose(gpu[key], cpu[key], atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("command", ["score", "embed", "couplings", "generate"])
def test_unavailable_or_unknown_device_is_one_line_exit_2(tiny_run, capsys, command):
    run = str(tiny_run / "run")
    extra = {"score": [str(tiny_run / "scan.csv")], "generate": ["-n", "2"]}.get(command, [])
    out = tiny_run / f"bad_{command}"
    assert main([command, run, *extra, "--out", str(out), "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device: unknown device 'tpu'" in err, err
    if not torch.cuda.is_available():
        assert main([command, run, *extra, "--out", str(out), "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--device: cuda is not available" in err, err
    assert not out.exists()
