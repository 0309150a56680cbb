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
from test_couplings_cli import _toy_fasta

SRC = Path(__file__).resolve().parents[1] / "src"

IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import matplotlib
before = matplotlib.get_backend()
import seqvae.plots, seqvae.report
for package in (seqvae.plots, seqvae.report):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
from seqvae.plots.mutations import plot_score_scatter
rng = __import__("numpy").random.default_rng(0)
x = rng.normal(size=50)
plot_score_scatter(x, x + rng.normal(size=50), 0.5, path=sys.argv[1])
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
