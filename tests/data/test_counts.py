"""Count matrices (cells × genes): the negative-binomial likelihood, its readers and checks,
and train → load → embed → latent → report on cells.

The group-separation check trains on a 2,000 × 500 matrix of 4 groups simulated here from a
seeded negative-binomial model with per-cell library sizes, and sets the NB latent beside a
Gaussian likelihood on log(1 + counts).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse, stats

import seqvae
from builders import TINY, fails_cleanly, snapshot, write_family
from seqvae.analysis.latent import cross_validated_accuracy
from seqvae.cli.main import main
from seqvae.data.counts import SparseRows, count_matrix, read_counts
from seqvae.data.synthetic.counts import simulate_counts
from seqvae.errors import InputError
from seqvae.models.likelihoods import (
    LIKELIHOOD_CLASSES,
    NegativeBinomialLikelihood,
    negative_binomial_log_prob,
)
from seqvae.models.vae import VAE, ModelConfig
from seqvae.training.config import RunConfig

SMALL = {
    "model.latent_dim": 2,
    "model.encoder_hidden": [32],
    "model.decoder_hidden": [32],
    "training.max_steps": 60,
    "training.batch_size": 32,
    "training.eval_every": 30,
    "training.log_every": 10,
    "training.device": "cpu",
}


def small_config(**overrides) -> RunConfig:
    return RunConfig().updated({**SMALL, **overrides})


def write_csv(path: Path, counts, id_header: str = "cell") -> Path:
    table = pd.DataFrame(counts.counts.toarray().astype(int), columns=counts.genes)
    table.insert(0, id_header, counts.cells)
    table.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


# -- the likelihood ---------------------------------------------------------------------------
def test_negative_binomial_log_prob_matches_scipy():
    rng = np.random.default_rng(0)
    n = 4000
    mean = np.exp(rng.uniform(-6, 8, n))
    theta = np.exp(rng.uniform(-4, 9, n))
    x = rng.poisson(rng.gamma(theta, mean / theta)).astype(np.float64)
    x[:50] = 0.0
    x[50:100] = rng.integers(0, 2000, 50)  # counts far from the mean
    expected = stats.nbinom.logpmf(x, theta, theta / (theta + mean))
    got = negative_binomial_log_prob(
        torch.from_numpy(x), torch.from_numpy(np.log(mean)), torch.from_numpy(np.log(theta))
    ).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-8)
    # float32, as in training: still close, and a zero count with mean 0 has probability 1
    got32 = negative_binomial_log_prob(
        torch.tensor(x, dtype=torch.float32),
        torch.tensor(np.log(mean), dtype=torch.float32),
        torch.tensor(np.log(theta), dtype=torch.float32),
    ).numpy()
    np.testing.assert_allclose(got32, expected, rtol=2e-4, atol=2e-2)
    zero = negative_binomial_log_prob(torch.zeros(1), torch.tensor([-float("inf")]), torch.zeros(1))
    assert float(zero) == 0.0


def test_negative_binomial_likelihood_uses_library_size_and_draws_match_its_moments():
    config = ModelConfig(likelihood="negative_binomial", length=3, encoder_hidden=[4], decoder_hidden=[4])
    likelihood = NegativeBinomialLikelihood(config)
    log_rho = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    log_theta = torch.log(torch.tensor([2.0, 5.0, 50.0]))
    x = torch.tensor([[20.0, 25.0, 55.0]])  # library 100: mean 20, 30, 50
    terms = likelihood.log_prob(x, log_rho, {"log_inverse_dispersion": log_theta})
    mean = np.array([20.0, 30.0, 50.0])
    theta = np.array([2.0, 5.0, 50.0])
    expected = stats.nbinom.logpmf([20, 25, 55], theta, theta / (theta + mean))
    np.testing.assert_allclose(terms.numpy()[0], expected, rtol=1e-5)
    draws = likelihood.sample(
        log_rho.expand(40000, 3).double(),
        {"log_inverse_dispersion": log_theta.double()},
        torch.Generator().manual_seed(0),
        library=torch.full((40000,), 100.0),
    ).numpy()
    np.testing.assert_allclose(draws.mean(axis=0), mean, rtol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), mean + mean**2 / theta, rtol=0.06)
    with pytest.raises(seqvae.ConfigError, match="library size"):
        likelihood.sample(log_rho, {"log_inverse_dispersion": log_theta})


@pytest.mark.parametrize("name", sorted(LIKELIHOOD_CLASSES))
def test_each_likelihood_is_a_strategy_of_the_one_vae(name):
    config = ModelConfig(likelihood=name, length=5, encoder_hidden=[8], decoder_hidden=[8], latent_dim=2)
    model = VAE(config)
    strategy = model.likelihood
    assert strategy.name == name
    generator = torch.Generator().manual_seed(0)
    if name == "categorical":
        x = torch.randint(0, 21, (6, 5), generator=generator).to(torch.uint8)
    elif name == "gaussian":
        x = torch.randn(6, 5, generator=generator)
    else:
        x = torch.poisson(torch.full((6, 5), 4.0), generator=generator)
    terms = model.log_likelihood_terms(x, model.decode(torch.zeros(6, 2)))
    assert terms.shape == (6, 5) and torch.isfinite(terms).all()
    assert model.decoder_out.out_features == strategy.output_size
    # the likelihood's own parameters keep their names in the weights
    expected = {"gaussian": {"output_logvar"}, "negative_binomial": {"log_inverse_dispersion"}}
    assert set(model.likelihood_parameters()) == expected.get(name, set())
    assert set(model.likelihood_parameters()) <= set(model.state_dict())
    sample = model.sample_data(torch.zeros(3, 2), generator, library=torch.full((3,), 50.0))
    assert sample.shape[0] == 3
    loss = model.loss(x)
    loss.total.backward()
    assert torch.isfinite(loss.total)


# -- data in ----------------------------------------------------------------------------------
def test_count_readers_agree_and_keep_sparse_matrices_sparse(tmp_path):
    counts = simulate_counts(n_cells=40, n_genes=12, seed=3)
    dense = counts.counts.toarray()
    sparse.save_npz(tmp_path / "sparse.npz", counts.counts)
    np.savez(tmp_path / "dense.npz", counts=dense.astype(np.int64), genes=np.array(counts.genes))
    write_csv(tmp_path / "table.csv", counts)
    write_csv(tmp_path / "table.tsv", counts, id_header="")
    for name, cells in (
        ("sparse.npz", None),
        ("dense.npz", None),
        ("table.csv", counts.cells),
        ("table.tsv", counts.cells),
    ):
        read = read_counts(tmp_path / name)
        assert sparse.issparse(read.counts) and read.counts.dtype == np.float32
        np.testing.assert_array_equal(read.counts.toarray(), dense)
        if cells is not None:
            assert read.cells == cells and read.genes == counts.genes
    # rows stay sparse under a boolean mask; integer indices and slices give dense batches
    rows = SparseRows(counts.counts)
    mask = torch.zeros(40, dtype=torch.bool)
    mask[:5] = True
    kept = rows[~mask]
    assert isinstance(kept, SparseRows) and len(kept) == 35 and sparse.issparse(kept.matrix)
    assert kept.shape == (35, 12)
    assert repr(kept) == f"SparseRows(35 x 12, nnz={kept.matrix.nnz}, transform=None)"
    batch = kept[torch.tensor([0, 3])]
    assert isinstance(batch, torch.Tensor) and batch.dtype == torch.float32
    np.testing.assert_array_equal(batch.numpy(), dense[[5, 8]])
    np.testing.assert_allclose(SparseRows(counts.counts, transform="log1p")[0:2].numpy(), np.log1p(dense[:2]))


def fake_anndata(monkeypatch, files: dict[str, dict]) -> None:
    """A stand-in for the optional ``anndata`` package (not installed here): ``read_h5ad``
    returns an object with the attributes seqvae reads, for the files in ``files``."""

    def read_h5ad(path):
        key = Path(path).name
        if key not in files:
            raise OSError("Unable to open file (file signature not found)")
        spec = files[key]
        obs = spec.get("obs", pd.DataFrame(index=spec["cells"]))
        return types.SimpleNamespace(
            X=spec.get("X"),
            layers=spec.get("layers", {}),
            obs=obs,
            obs_names=pd.Index(spec["cells"]),
            var_names=pd.Index(spec["genes"]),
        )

    monkeypatch.setitem(sys.modules, "anndata", types.SimpleNamespace(read_h5ad=read_h5ad))


def test_h5ad_counts_layer_and_cell_metadata_colour_the_latent(tmp_path, monkeypatch, capsys):
    counts = simulate_counts(n_cells=120, n_genes=20, seed=4)
    normalised = sparse.csr_matrix(np.log1p(counts.counts.toarray()))
    fake_anndata(
        monkeypatch,
        {
            "cells.h5ad": {
                "X": normalised,  # log-normalised, as after scanpy's preprocessing
                "layers": {"counts": counts.counts},
                "obs": counts.obs,
                "cells": counts.cells,
                "genes": counts.genes,
            }
        },
    )
    (tmp_path / "cells.h5ad").write_bytes(b"stand-in")
    read = read_counts(tmp_path / "cells.h5ad")
    assert read.layer == "layers['counts']"
    np.testing.assert_array_equal(read.counts.toarray(), counts.counts.toarray())
    assert list(read.metadata().columns) == ["id", "group", "library_size"]
    run_dir = tmp_path / "run"
    args = ["train", tmp_path / "cells.h5ad", "-o", run_dir, *TINY, "--batch-size", "32"]
    assert main([str(a) for a in args]) == 0
    capsys.readouterr()
    registry = json.loads((run_dir / "registry.json").read_text())
    assert registry["kind"] == "counts" and registry["layer"] == "layers['counts']"
    assert registry["metadata_columns"] == ["group", "library_size"]
    out = tmp_path / "latent"
    code = main(["latent", str(run_dir), "--color", "group", "--permutations", "19", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "latent_metrics.json").read_text())
    assert metrics["columns"]["group"]["classification"]["latent"]["n_classes"] == 4
    assert (out / "latent_group.png").exists()


def test_h5ad_needs_the_cells_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "anndata", None)  # import anndata raises ImportError
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    fails_cleanly(
        capsys,
        ["train", path, "-o", tmp_path / "run"],
        str(path),
        "pip install 'seqvae[cells]'",
        folder=tmp_path,
    )


@pytest.mark.skipif(
    importlib.util.find_spec("anndata") is None, reason="the optional anndata is not installed"
)
def test_real_h5ad_file_round_trip(tmp_path):
    import anndata

    counts = simulate_counts(n_cells=50, n_genes=10, seed=5)
    adata = anndata.AnnData(X=counts.counts.astype(np.float32), obs=counts.obs)
    adata.var_names = counts.genes
    adata.write_h5ad(tmp_path / "cells.h5ad")
    read = read_counts(tmp_path / "cells.h5ad")
    np.testing.assert_array_equal(read.counts.toarray(), counts.counts.toarray())
    assert read.genes == counts.genes and list(read.obs.columns) == ["group", "library_size"]


# -- the must-show: groups separate in a 2-D latent --------------------------------------------
def test_negative_binomial_latent_separates_groups_beside_a_gaussian_on_log_counts(tmp_path):
    counts = simulate_counts(n_cells=1000, n_genes=300, n_groups=4, seed=0)
    labels = counts.obs["group"].to_numpy()
    assert counts.counts.shape == (1000, 300) and len(set(labels)) == 4
    library = counts.library_sizes()
    assert library.max() / library.min() > 5  # per-cell library sizes differ
    settings = {
        "model.encoder_hidden": [128],
        "model.decoder_hidden": [128],
        "training.max_steps": 300,
        "training.batch_size": 128,
        "training.eval_every": 200,
        "training.log_every": 50,
        "training.early_stopping_patience": None,
        "training.threads": 1,
    }
    accuracy = {}
    for likelihood, data in (
        ("negative_binomial", counts),
        ("gaussian", counts),  # a count matrix with a Gaussian likelihood: on log(1 + counts)
    ):
        config = small_config(**settings, **{"model.likelihood": likelihood})
        run = seqvae.train(data, config, out=tmp_path / likelihood, progress=False)
        assert run.config.model.likelihood == likelihood
        z = run.embed()[["z_mean_0", "z_mean_1"]].to_numpy()
        accuracy[likelihood] = cross_validated_accuracy(z, labels, folds=5, seed=0, neighbours=15)["accuracy"]
    line = (
        f"1,000 cells x 300 genes, 4 groups, 2-D latent, 5-fold 15-NN accuracy: negative binomial "
        f"{accuracy['negative_binomial']:.3f}, Gaussian on log(1 + counts) {accuracy['gaussian']:.3f}"
    )
    print(line)
    assert accuracy["negative_binomial"] >= 0.9, line
    assert accuracy["negative_binomial"] >= accuracy["gaussian"] - 0.01, line


# -- round trip ---------------------------------------------------------------------------------
def test_train_load_embed_round_trip_on_counts(tmp_path, capsys):
    counts = simulate_counts(n_cells=150, n_genes=30, seed=2)
    run = seqvae.train(counts, small_config(), out=tmp_path / "run", progress=False)
    assert run.kind == "counts" and run.config.model.likelihood == "negative_binomial"
    registry = json.loads((tmp_path / "run" / "registry.json").read_text())
    assert registry["genes"] == counts.genes and registry["likelihood"] == "negative_binomial"
    assert (tmp_path / "run" / "data" / "counts.npz").exists()
    assert not (tmp_path / "run" / "data" / "codes.npy").exists()
    loaded = seqvae.load(tmp_path / "run")
    assert loaded.genes == counts.genes and loaded.kind == "counts"
    assert "log_inverse_dispersion" in loaded.model.state_dict()
    first = run.embed()
    again = loaded.embed()
    pd.testing.assert_frame_equal(first, again)
    assert list(first["id"]) == counts.cells
    # a count file with the genes in another order (and one extra gene) embeds the same
    order = np.random.default_rng(0).permutation(counts.n_genes)
    shuffled = count_matrix(
        sparse.hstack([counts.counts[:, order], counts.counts[:, :1]]).tocsr(),
        counts.cells,
        [counts.genes[j] for j in order] + ["extra"],
    )
    sparse.save_npz(tmp_path / "shuffled.npz", shuffled.counts)
    np.savez(tmp_path / "named.npz", X=shuffled.counts.toarray(), genes=np.array(shuffled.genes))
    pd.testing.assert_frame_equal(
        loaded.embed(tmp_path / "named.npz").drop(columns="id"), first.drop(columns="id")
    )
    # through the CLI
    assert (
        main(["embed", str(tmp_path / "run"), str(tmp_path / "named.npz"), "-o", str(tmp_path / "z.csv")])
        == 0
    )
    assert "embedded 150 cells" in capsys.readouterr().err
    z = pd.read_csv(tmp_path / "z.csv")
    np.testing.assert_allclose(z["z_mean_0"], first["z_mean_0"], rtol=1e-5, atol=1e-6)
    # report: the data section names the count matrix
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "150 cells x 30 genes" in page and "negative-binomial likelihood" in page


def test_cli_train_on_a_count_table_and_resume(tmp_path, capsys):
    counts = simulate_counts(n_cells=80, n_genes=15, seed=6)
    table = write_csv(tmp_path / "cells.csv", counts)
    run_dir = tmp_path / "run"
    assert main([str(a) for a in ["train", table, "-o", run_dir, *TINY]]) == 0
    err = capsys.readouterr().err
    assert "read 80 cells x 15 genes" in err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["likelihood"] == "negative_binomial" and config["model"]["length"] == 15
    before = seqvae.load(run_dir).embed()
    assert main(["resume", str(run_dir), "--no-progress"]) == 0  # finished: resumes to the same end
    pd.testing.assert_frame_equal(seqvae.load(run_dir).embed(), before)
    gaussian = tmp_path / "gaussian"
    assert main([str(a) for a in ["train", table, "-o", gaussian, "--likelihood", "gaussian", *TINY]]) == 0
    registry = json.loads((gaussian / "registry.json").read_text())
    assert registry["input"] == "log1p(counts)" and registry["likelihood"] == "gaussian"
    assert len(seqvae.load(gaussian).embed(table)) == 80


# -- bad input ----------------------------------------------------------------------------------
def bad_count_files(folder: Path, monkeypatch) -> list[tuple[Path, tuple[str, ...]]]:
    """(file, fragments of its one-line error) for each kind of bad count input."""
    good = np.array([[1, 0, 3], [2, 5, 0], [0, 1, 1]])
    cases: list[tuple[Path, tuple[str, ...]]] = []

    def npz(name: str, **arrays) -> Path:
        path = folder / name
        np.savez(path, **arrays)
        return path

    negative = good.copy()
    negative[1, 2] = -4
    cases.append((npz("negative.npz", counts=negative), ("negative values", "cell 'cell1', gene 'gene2'")))
    cases.append((npz("fraction.npz", counts=good + 0.5), ("non-integer values", "raw counts")))
    sparse.save_npz(folder / "sparse_fraction.npz", sparse.csr_matrix(good * 0.3))
    cases.append((folder / "sparse_fraction.npz", ("non-integer values",)))
    (folder / "words.csv").write_text("gene_a,gene_b\n1,2\n3,many\n")
    cases.append((folder / "words.csv", ("words.csv:3", "column 'gene_b'", "'many' is not a number")))
    (folder / "fasta.tsv").write_text(">seq1\nACDEFG\n>seq2\nACDEFF\n")
    cases.append((folder / "fasta.tsv", ("fasta.tsv:2", "is not a number")))
    (folder / "ragged.csv").write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
    cases.append((folder / "ragged.csv", ("cannot read the count table", "line 4")))
    (folder / "binary.csv").write_bytes(b"a,b\n1,2\n" + bytes(range(128, 256)))
    cases.append((folder / "binary.csv", ("binary.csv:3", "not UTF-8")))
    (folder / "empty.tsv").write_text("")
    cases.append((folder / "empty.tsv", ("empty file",)))
    (folder / "binary.npz").write_bytes(bytes(range(256)) * 4)
    cases.append((folder / "binary.npz", ("not a readable NPZ file",)))
    cases.append((npz("strings.npz", counts=np.array([["a", "b"], ["c", "d"]])), ("not numeric",)))
    cases.append((npz("vector.npz", counts=np.arange(5)), ("2-D matrix", "shape (5,)")))
    cases.append((npz("one_gene.npz", counts=good[:, :1]), ("at least 2 cells", "3 x 1")))
    cases.append((npz("names.npz", counts=good, genes=np.array(["a", "b"])), ("2 gene names for 3 columns",)))
    cases.append((npz("twice.npz", counts=good, genes=np.array(["a", "b", "a"])), ("'a' appears twice",)))
    cases.append((npz("nothing.npz", genes=np.array(["a"])), ("holds no count matrix",)))
    # .h5ad without counts (a log-normalised X and no layers['counts']) and an unreadable one
    fake_anndata(
        monkeypatch,
        {
            "normalised.h5ad": {
                "X": np.log1p(good.astype(float)),
                "cells": ["c1", "c2", "c3"],
                "genes": ["a", "b", "c"],
            },
            "empty.h5ad": {"X": None, "cells": ["c1"], "genes": ["a"]},
        },
    )
    for name in ("normalised.h5ad", "empty.h5ad", "broken.h5ad"):
        (folder / name).write_bytes(b"stand-in")
    cases.append((folder / "normalised.h5ad", ("X: counts hold non-integer values", "layers['counts']")))
    cases.append((folder / "empty.h5ad", ("holds no counts", "layers['counts']")))
    cases.append((folder / "broken.h5ad", ("not a readable .h5ad file",)))
    return cases


def test_bad_count_input_is_one_line_exit_2_and_nothing_written(tmp_path, monkeypatch, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    cases = bad_count_files(inputs, monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    for path, fragments in cases:
        fails_cleanly(capsys, ["train", path, "-o", work / "run"], str(path), *fragments, folder=tmp_path)
        with pytest.raises(InputError):
            read_counts(path)
    assert not any(work.iterdir())


def test_bad_counts_for_a_trained_run_and_wrong_likelihoods(tmp_path, monkeypatch, capsys):
    counts = simulate_counts(n_cells=60, n_genes=8, seed=7)
    run_dir = tmp_path / "run"
    seqvae.train(counts, small_config(**{"training.max_steps": 5}), out=run_dir, progress=False)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    np.savez(inputs / "fewer.npz", X=counts.counts.toarray()[:, :6], genes=np.array(counts.genes[:6]))
    before = snapshot(tmp_path)
    for command in ("embed", "latent"):
        out = tmp_path / f"{command}_out"
        fails_cleanly(
            capsys,
            [command, run_dir, inputs / "fewer.npz", "-o", out],
            str(inputs / "fewer.npz"),
            "2 of the run's 8 genes are missing",
            folder=tmp_path,
        )
        for path, fragments in bad_count_files(inputs, monkeypatch)[:3]:
            fails_cleanly(capsys, [command, run_dir, path, "-o", out], str(path), *fragments)
        assert not out.exists()
    assert snapshot(tmp_path).keys() - before.keys() <= {
        p.relative_to(tmp_path) for p in inputs.iterdir()
    } | {Path("inputs")}
    # a likelihood that does not suit the data
    alignment = write_family(tmp_path / "family.fasta")
    fails_cleanly(
        capsys,
        ["train", alignment, "-o", tmp_path / "x", "--likelihood", "negative_binomial"],
        "--likelihood",
        "does not apply to an alignment",
    )
    sparse.save_npz(inputs / "ok.npz", counts.counts)
    fails_cleanly(
        capsys,
        ["train", inputs / "ok.npz", "-o", tmp_path / "x", "--likelihood", "categorical"],
        "--likelihood",
        "does not apply to a count matrix",
    )
    with pytest.raises(seqvae.ConfigError, match="needs a count matrix"):
        seqvae.train(
            seqvae.read_alignment(alignment),
            small_config(**{"model.likelihood": "negative_binomial"}),
            out=tmp_path / "x",
        )
    assert not (tmp_path / "x").exists()


def _edit_registry(edit):
    def damage(run: Path) -> None:
        path = run / "registry.json"
        info = json.loads(path.read_text())
        edit(info)
        path.write_text(json.dumps(info))

    return damage


def _cut_counts(run: Path) -> None:
    path = run / "data" / "counts.npz"
    path.write_bytes(path.read_bytes()[:40])


def _fewer_genes(run: Path) -> None:
    matrix = sparse.load_npz(run / "data" / "counts.npz")
    sparse.save_npz(run / "data" / "counts.npz", matrix[:, :5].tocsr())


COUNT_RUN_DAMAGES = {
    "genes not a list": (_edit_registry(lambda i: i.update(genes="g1")), ("registry.json", "genes: must be")),
    "genes of another length": (
        _edit_registry(lambda i: i.update(genes=i["genes"][:-1])),
        ("registry.json", "genes: 7 names", "model.length is 8"),
    ),
    "likelihood disagrees": (
        _edit_registry(lambda i: i.update(likelihood="gaussian")),
        ("registry.json", "likelihood: 'gaussian'"),
    ),
    "counts cut short": (_cut_counts, ("counts.npz", "damaged")),
    "counts of other genes": (_fewer_genes, ("counts.npz", "has 5 genes", "has 8")),
}


@pytest.fixture(scope="module")
def count_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("count_run")
    counts = simulate_counts(n_cells=60, n_genes=8, seed=8)
    seqvae.train(counts, small_config(**{"training.max_steps": 5}), out=folder / "run", progress=False)
    return folder / "run"


@pytest.mark.parametrize("damage", sorted(COUNT_RUN_DAMAGES))
@pytest.mark.parametrize("command", ["embed", "latent", "report"])
def test_a_damaged_count_run_is_one_line(count_run, tmp_path, capsys, damage, command):
    run = tmp_path / "run"
    shutil.copytree(count_run, run)
    edit, fragments = COUNT_RUN_DAMAGES[damage]
    edit(run)
    fails_cleanly(capsys, [command, run, "-o", tmp_path / "out"], *fragments, folder=tmp_path)


def test_a_count_run_written_with_input_dim_loads_and_resumes(count_run, tmp_path):
    """Before ``model.length`` counted a row's columns for every likelihood, a count run's
    config.json held its genes as ``model.input_dim`` (and length 0)."""
    run = tmp_path / "run"
    shutil.copytree(count_run, run)
    config = json.loads((run / "config.json").read_text())
    config["model"].update(length=0, input_dim=config["model"]["length"])
    (run / "config.json").write_text(json.dumps(config))
    assert seqvae.load(run).model.config.length == 8
    pd.testing.assert_frame_equal(seqvae.load(run).embed(), seqvae.load(count_run).embed())
    assert seqvae.resume(run, progress=False).summary["steps"] == 5


def test_a_run_embeds_only_data_of_its_own_kind(count_run, tiny_run):
    counts_run, sequence_run = seqvae.load(count_run), seqvae.load(tiny_run.run)
    alignment = sequence_run.training_alignment()
    with pytest.raises(InputError, match="trained on counts data, not sequences"):
        counts_run.embed(alignment)
    with pytest.raises(InputError, match="trained on counts data, not sequences"):
        counts_run.training_alignment()
    with pytest.raises(InputError, match="trained on sequences data, not a count matrix"):
        sequence_run.embed(simulate_counts(n_cells=5, n_genes=8, seed=0))


def test_sequence_analyses_refuse_a_count_run_by_its_kind(count_run, tiny_run, tmp_path):
    """Each analysis on sequences refuses a run on counts with the run's own line (naming counts,
    not continuous data), before it reads anything else."""
    from seqvae.analysis.sample_evaluation import evaluate_sample_files

    run = seqvae.load(count_run)
    alignment = seqvae.load(tiny_run.run).training_alignment()
    missing = tmp_path / "absent.fasta"
    refusals = {
        "generate": lambda: run.generate(3),
        "couplings": lambda: run.couplings(),
        "score": lambda: run.score(missing),
        "latent": lambda: run.latent(alignment),
        "evaluate-samples": lambda: evaluate_sample_files(missing, missing, run=run),
    }
    for name, refused in refusals.items():
        with pytest.raises(InputError, match="trained on counts data, not sequences") as caught:
            refused()
        assert caught.value.source == str(count_run), name
