"""The demo: a tiny run produces the picture, the family files and a loadable run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import seqvae
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.workflows.demo import run_demo


def test_run_demo_tiny_then_cli_into_the_same_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    result = run_demo(out, seed=1, n_samples=200, max_steps=60, progress=False)
    for name in ("family.fasta", "family_truth.csv", "family_patterns.npz", "family_mcmc.json", "latent.csv"):
        assert (out / name).is_file(), name
    png = out / "latent.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    run = seqvae.load(result.run_dir)
    assert run.config.model.latent_dim == 2
    embedded = run.embed(out / "family.fasta")
    assert embedded.shape[0] == 200
    table = pd.read_csv(out / "latent.csv")
    assert {"z_mean_0", "z_mean_1", "nearest_pattern", "energy"} <= set(table.columns)
    np.testing.assert_allclose(table["z_mean_0"], embedded["z_mean_0"], atol=1e-5)
    assert 0.0 <= result.neighbour_agreement <= 1.0

    # `make demo` twice: the CLI replaces the earlier demo in the same folder
    code = main(["demo", "--out", str(out), "--samples", "120", "--steps", "5", "--no-progress"])
    assert code == 0
    assert "latent space picture" in capsys.readouterr().out
    assert seqvae.load(out / "run").summary["steps"] == 5
    assert (out / "family.fasta").read_text().count(">") == 120


@pytest.mark.parametrize("kwargs", [dict(max_steps=0), dict(threads=0), dict(beta=-1.0)])
def test_demo_bad_parameters(tmp_path, kwargs):
    with pytest.raises(InputError):
        run_demo(tmp_path / "x", n_samples=50, progress=False, **kwargs)
