"""The CLI output folders of couplings, compare and sca rebuilt from the Python API alone: results save themselves
(data files), plots draw them (figures), byte for byte apart from timings."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqvae
from seqvae.analysis.compare import compare_matrices
from seqvae.analysis.couplings import CouplingOptions, vae_couplings
from seqvae.cli.main import main
from seqvae.io.matrix_file import load_matrix_npz, save_matrix_npz
from seqvae.plots.matrices import plot_comparison, plot_coupling_matrix
from seqvae.report.sections import _holds
from test_couplings_cli import _toy_fasta

TIMINGS = {"elapsed_s", "neighbours_per_s", "timings_s"}


def same_folder(cli_dir, api_dir) -> None:
    cli_files = sorted(p.name for p in cli_dir.iterdir())
    assert cli_files == sorted(p.name for p in api_dir.iterdir())
    for name in cli_files:
        a, b = (cli_dir / name).read_bytes(), (api_dir / name).read_bytes()
        if name.endswith(".json"):
            a, b = ({k: v for k, v in json.loads(x).items() if k not in TIMINGS} for x in (a, b))
        assert a == b, name


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    fasta = _toy_fasta(root / "toy.fasta")
    cfg = seqvae.preset_config("explore").updated(
        {"model.encoder_hidden": [16], "model.decoder_hidden": [16], "training.max_steps": 5,
         "training.eval_every": 5, "training.batch_size": 16}
    )  # fmt: skip
    seqvae.train(fasta, cfg, out=root / "run", show_progress=False)
    return root, fasta


def test_couplings_folder_from_the_api(tiny_run):
    root, _ = tiny_run
    assert main(["couplings", str(root / "run"), "--out", str(root / "cli_couplings"), "--n-ref", "4"]) == 0
    run = seqvae.load(root / "run")
    result = vae_couplings(run, None, None, CouplingOptions(n_references=4))
    result.save(root / "api_couplings", run)
    plot_coupling_matrix(result, root / "api_couplings")
    same_folder(root / "cli_couplings", root / "api_couplings")


def test_compare_folder_from_the_api(tiny_run, tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 14, 14))
    save_matrix_npz(tmp_path / "a.npz", a + a.T, numbering=np.arange(1, 15), kind="a")
    save_matrix_npz(tmp_path / "b.npz", b + b.T + a + a.T, numbering=np.arange(1, 15), kind="b")
    cli = tmp_path / "cli_compare"
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--out", str(cli),
                 "--permutations", "20"]) == 0  # fmt: skip
    first, second = load_matrix_npz(tmp_path / "a.npz"), load_matrix_npz(tmp_path / "b.npz")
    comparison, a_sub, b_sub = compare_matrices(first, second, 3, 20, 0, "a", "b")
    comparison.save(tmp_path / "api_compare")
    plot_comparison(comparison, a_sub, b_sub, tmp_path / "api_compare")
    same_folder(cli, tmp_path / "api_compare")


def test_report_tells_a_potts_folder_from_vae_couplings(tiny_run, tmp_path):
    root, fasta = tiny_run
    potts = tmp_path / "potts"
    assert (
        main(
            ["baseline", "fit", str(fasta), "--model", "potts", "--max-iterations", "3", "--out", str(potts)]
        )
        == 0
    )
    assert (potts / "couplings.npz").exists() and not _holds(potts, "couplings.npz")
    assert main(["couplings", str(root / "run"), "--out", str(tmp_path / "vae"), "--n-ref", "2"]) == 0
    assert _holds(tmp_path / "vae", "couplings.npz")


def test_sca_folder_from_the_api(tiny_run):
    from seqvae.analysis.sca import SCAOptions, run_sca
    from seqvae.data.alignment import read_alignment
    from seqvae.plots.matrices import plot_sca

    root, fasta = tiny_run
    flags = ["--randomisations", "2", "--stability-seeds", "2", "--min-identity", "0", "--max-identity", "1"]
    assert main(["sca", str(fasta), "--out", str(root / "cli_sca"), *flags]) == 0
    options = SCAOptions(
        n_randomisations=2, n_stability_seeds=2, min_identity=0.0, max_identity=1.0
    ).validate()
    result = run_sca(read_alignment(fasta, nonstandard="drop"), options, None)
    result.save(root / "api_sca")
    plot_sca(result, root / "api_sca")
    same_folder(root / "cli_sca", root / "api_sca")
