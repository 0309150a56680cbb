"""Plots that compose: importing ``seqvae.plots`` leaves matplotlib's backend alone, and each
``draw_*`` function returns a figure, drawing into the ``ax`` (or ``fig``) it is given.
The ``plot_*`` wrappers that save the CLI's files are checked byte for byte in
``test_api_outputs.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import seqvae
from builders import toy_fasta as _toy_fasta

SRC = Path(__file__).resolve().parents[2] / "src"

IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import matplotlib
before = matplotlib.get_backend()
import seqvae.plots, seqvae.report
for package in (seqvae.plots, seqvae.report):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
from seqvae.plots.mutations import draw_score_scatter
from seqvae.plots.style import save_figure
rng = __import__("numpy").random.default_rng(0)
x = rng.normal(size=50)
save_figure(draw_score_scatter(x, x + rng.normal(size=50), 0.5), sys.argv[1])
print(before, matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_importing_and_saving_keeps_the_backend(tmp_path, backend):
    """A notebook's backend (here a non-Agg one) survives importing every plots and report module
    and saving a figure; pyplot is never imported, so no figure lingers in its global list."""
    env = {**os.environ, "MPLBACKEND": backend, "PYTHONPATH": str(SRC)}
    png = tmp_path / "scatter.png"
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING, str(png)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == [backend, backend, "False"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _scatter_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    predicted = rng.normal(size=n)
    return predicted, predicted + rng.normal(scale=0.5, size=n)


def test_score_scatter_figure_and_given_axes():
    from seqvae.plots.mutations import draw_score_scatter

    predicted, measured = _scatter_data()
    fig = draw_score_scatter(predicted, measured, 0.8, (0.7, 0.9), measured_label="fitness")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_ylabel() == "measured: fitness" and "ρ = 0.800" in ax.get_title()

    # shown inline by Jupyter as a cell's value, with or without its matplotlib integration
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"

    host = Figure()
    left, right = host.subplots(1, 2)
    assert draw_score_scatter(predicted, measured, 0.8, ax=right) is host
    assert len(host.axes) == 2 and right.collections and not left.collections


@pytest.fixture(scope="module")
def singles(tmp_path_factory):
    """An all-singles table of the toy family's reference (made-up scores) and its registry."""
    aln = seqvae.read_alignment(_toy_fasta(tmp_path_factory.mktemp("plots") / "toy.fasta"))
    registry = aln.registry
    residues = registry.alphabet.residues
    rng = np.random.default_rng(1)
    rows = [
        {
            "position": int(n),
            "residue": r,
            "score": 0.0 if r == registry.reference_sequence[c] else rng.normal(),
        }
        for c, n in enumerate(registry.numbering)
        if n >= 0
        for r in residues
    ]
    return pd.DataFrame(rows), registry


def test_singles_heatmap_figure_and_given_figure(singles):
    from seqvae.plots.mutations import draw_singles_heatmap

    table, registry = singles
    fig = draw_singles_heatmap(table, registry)
    assert isinstance(fig, Figure)
    heatmap = fig.axes[0]
    assert heatmap.get_ylabel() == "substituted residue" and heatmap.images
    assert len(fig.axes) == 2  # the heatmap and its colour bar

    burial = np.linspace(0, 1, len(registry.numbering))
    fig = draw_singles_heatmap(table, registry, burial=burial)
    assert len(fig.axes) == 4  # heatmap, burial strip, their colour bars
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["burial"]

    host = Figure()
    left, right = host.subfigures(1, 2)
    assert draw_singles_heatmap(table, registry, fig=right) is right
    assert right.axes and not left.axes


# files of several figures, each drawn by the draw_* functions named in their docstrings
MULTI_FILE = {"plot_comparison", "plot_sca", "plot_sample_evaluation", "plot_design_figures"}


def _plot_modules():
    import importlib
    import pkgutil

    import seqvae.plots

    for info in pkgutil.iter_modules(seqvae.plots.__path__):
        yield importlib.import_module(f"seqvae.plots.{info.name}")


def test_every_plot_function_has_a_drawing_form():
    """Each file-writing ``plot_X`` has a ``draw_X`` (or is one of the multi-file wrappers), and
    each ``draw_*`` takes a keyword-only ``ax`` or ``fig`` and no output path."""
    import inspect

    draws = 0
    for module in _plot_modules():
        names = {
            n for n, f in vars(module).items() if inspect.isfunction(f) and f.__module__ == module.__name__
        }
        for name in sorted(n for n in names if n.startswith("plot_")):
            assert name in MULTI_FILE or name.replace("plot_", "draw_", 1) in names, (
                f"{module.__name__}.{name}"
            )
        for name in sorted(n for n in names if n.startswith("draw_")):
            parameters = inspect.signature(getattr(module, name)).parameters
            target = [p for p in ("ax", "fig") if p in parameters]
            assert len(target) == 1, f"{module.__name__}.{name}"
            assert parameters[target[0]].kind is inspect.Parameter.KEYWORD_ONLY
            assert parameters[target[0]].default is None
            assert not {"path", "out"} & parameters.keys(), f"{module.__name__}.{name}"
            draws += 1
    assert draws >= 35


def _check_draws_into(draw, *args, kind: str, **kwargs):
    """``draw`` makes a new figure alone, and draws into the axes or subfigure it is given."""
    fig = draw(*args, **kwargs)
    assert isinstance(fig, Figure) and fig.axes
    host = Figure()
    if kind == "ax":
        left, right = host.subplots(1, 2)
        assert draw(*args, **kwargs, ax=right) is host
        assert left.has_data() is False and not left.get_title()
    else:
        left, right = host.subfigures(1, 2)
        assert draw(*args, **kwargs, fig=right) is right
        assert right.axes and not left.axes
    return fig


def test_latent_drawings():
    from seqvae.plots.latent import draw_latent_density, draw_latent_map, latent_panels
    from seqvae.plots.latent_prediction import draw_predictability

    rng = np.random.default_rng(0)
    panels = latent_panels(rng.normal(size=(80, 3)))
    values = pd.Series(np.where(rng.random(80) < 0.2, np.nan, rng.normal(size=80)))
    fig = _check_draws_into(draw_latent_map, panels, values, "fitness", "continuous", kind="fig")
    assert len(fig.axes) == 4  # three planes and the colour bar
    assert [ax.get_title() for ax in fig.axes[:3]] == ["z0 vs z1", "z0 vs z2", "z1 vs z2"]
    assert "grey beneath: not measured" in fig.get_suptitle()
    categories = pd.Series(rng.choice(["a", "b", "c"], 80))
    _check_draws_into(draw_latent_map, panels, categories, "clade", "categorical", kind="fig")
    _check_draws_into(draw_latent_density, panels, None, kind="fig")
    row = {"column": "y", "n": 80, "n_features": 2}
    row |= {key: 0.5 for key in ("latent_linear", "latent_knn", "pca_linear", "pca_knn")}
    fig = _check_draws_into(draw_predictability, [row], kind="ax")
    assert fig.axes[0].get_ylabel() == "cross-validated R²"


def test_matrix_drawings():
    from types import SimpleNamespace

    from seqvae.plots.matrices import draw_coupling_matrix, draw_sca_ics, draw_sca_matrix, draw_sca_spectrum

    rng = np.random.default_rng(0)
    matrix = np.abs(rng.normal(size=(12, 12)))
    matrix = matrix + matrix.T
    coupling = SimpleNamespace(matrix=matrix, reference_rows=np.arange(3))
    fig = _check_draws_into(draw_coupling_matrix, coupling, kind="ax")
    assert len(fig.axes) == 2 and fig.axes[0].images
    sca = SimpleNamespace(
        sca=SimpleNamespace(matrix=matrix),
        alignment=SimpleNamespace(n_eff=50.0),
        eigenvalues=np.sort(rng.random(12))[::-1] * 5,
        random_eigenvalues=rng.random((4, 12)),
        cutoff=1.0,
        n_significant=2,
        n_components=2,
        ic_groups=SimpleNamespace(groups=[np.array([0, 1]), np.array([5])]),
        ics=rng.normal(size=(12, 2)),
    )
    _check_draws_into(draw_sca_matrix, sca, kind="ax")
    fig = _check_draws_into(draw_sca_spectrum, sca, kind="ax")
    assert fig.axes[0].get_xlabel() == "eigenvalue"
    fig = _check_draws_into(draw_sca_ics, sca, kind="fig")
    assert [ax.get_xlabel() for ax in fig.axes] == ["IC1"]


def test_generation_panel_and_experiment_drawings():
    from seqvae.data.alphabet import PROTEIN
    from seqvae.plots.experiments import draw_simpson_example
    from seqvae.plots.generation import draw_sequence_logos
    from seqvae.plots.panel import draw_panel

    rng = np.random.default_rng(0)
    sets = {
        "natural": rng.integers(0, 20, (30, 15), dtype=np.uint8),
        "designs": rng.integers(0, 20, (10, 15)),
    }
    fig = _check_draws_into(draw_sequence_logos, sets, PROTEIN, kind="fig")
    assert len(fig.axes) == 2
    table = pd.DataFrame(
        {"protein": ["p1", "p2"], "model": ["vae", "vae"], "spearman": [0.5, 0.4], "ci_low": [0.4, 0.3]}
    ).assign(ci_high=[0.6, 0.5])
    fig = _check_draws_into(draw_panel, table, {"p1": {"EVE": 0.55}}, kind="ax")
    assert fig.axes[0].get_title() == "DMS panel"
    fig = draw_simpson_example(None)
    assert isinstance(fig, Figure) and not fig.axes[0].axison


def test_learning_curves_file_has_a_panel_per_protein_and_split(tmp_path):
    from seqvae.plots.labels import draw_learning_curves, plot_learning_curves

    rows = [
        {
            "protein": protein,
            "split": split,
            "model": model,
            "n": n,
            "median": m,
            "q25": m - 0.1,
            "q75": m + 0.1,
        }
        for protein in ("p1", "p2")
        for split in ("random", "positions")
        for model, base in (("predictor", 0.3), ("zero-shot", 0.2))
        for n, m in ((16, base), (64, base + 0.2))
    ]
    table = pd.DataFrame(rows)
    fig = draw_learning_curves(table)
    assert [ax.get_title() for ax in fig.axes] == [
        "p1: random",
        "p1: positions",
        "p2: random",
        "p2: positions",
    ]
    path = plot_learning_curves(table, tmp_path / "curves.png")
    assert path == tmp_path / "curves.png" and path.read_bytes().startswith(b"\x89PNG")
