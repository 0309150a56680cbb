"""Figures of the latent dimensions themselves: how much each is used (KL, variance, correlations)
and how the latent space compares with a PCA of the alignment."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqvae.analysis.diagnostics import LatentDiagnostics
from seqvae.plots.style import DIVERGING_CMAP, figure_axes, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure


def draw_dimension_diagnostics(
    diagnostics: LatentDiagnostics, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Per-dimension variance of z_mean (threshold line), posterior variance, KL, and the
    correlation matrix of the latent means.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    table = diagnostics.table
    d = len(table)
    fig, axes = figure_axes(fig, 1, 3, width=max(3.6, 0.35 * d + 2.0), height=3.6)
    ax = axes[0, 0]
    positions = table["dimension"].to_numpy()
    colors = np.where(table["active"], "#0072B2", "#bbbbbb")
    ax.bar(positions, table["variance"], color=colors, label="Var(z_mean)")
    ax.plot(
        positions, table["posterior_variance"], "o", color="#D55E00", ms=4, label="mean posterior variance"
    )
    ax.axhline(
        diagnostics.threshold,
        color="black",
        ls="--",
        lw=1,
        label=f"active threshold {diagnostics.threshold:g}",
    )
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("variance (latent units²)")
    ax.set_title(f"{diagnostics.n_active} active of {d}; tr Cov(z_mean) = {diagnostics.trace_cov:.2f}")
    ax.set_xticks(positions)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
    ax = axes[0, 1]
    ax.bar(positions, table["kl"], color=colors)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("mean KL(q(z_k|x) ‖ N(0,1)) (nats)")
    ax.set_title(f"KL per dimension (total {diagnostics.total_kl:.2f} nats)")
    ax.set_xticks(positions)
    ax = axes[0, 2]
    # correlations of collapsed dimensions are noise: leave them blank
    active = table["active"].to_numpy()
    shown = np.where(np.outer(active, active), diagnostics.correlation, np.nan)
    image = ax.imshow(shown, cmap=DIVERGING_CMAP, vmin=-1, vmax=1)
    ax.set_xticks(positions)
    ax.set_yticks(positions)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("latent dimension")
    ax.set_title(
        f"correlation of active z_mean dims\n(blank: inactive; participation ratio "
        f"{diagnostics.participation_ratio_active:.2f})"
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson r")
    return fig


def plot_dimension_diagnostics(diagnostics: LatentDiagnostics, path: str | Path) -> Path:
    """:func:`draw_dimension_diagnostics`, saved at ``path`` (atomically)."""
    return save_figure(draw_dimension_diagnostics(diagnostics=diagnostics), path)


def draw_pca_comparison(
    canonical: np.ndarray,
    r2_latent_from_pcs: list[float],
    r2_pcs_from_latent: list[float],
    explained_ratio: np.ndarray,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Canonical correlations latent ↔ top-k PCs, and the R² of each from the other.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    k = len(r2_pcs_from_latent)
    fig, axes = figure_axes(fig, 1, 3, width=3.8, height=3.4)
    ax = axes[0, 0]
    ax.bar(np.arange(1, len(canonical) + 1), canonical, color="#0072B2")
    ax.set_xticks(np.arange(1, len(canonical) + 1))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("canonical pair")
    ax.set_ylabel("canonical correlation")
    ax.set_title(f"latent means vs top {k} PCs")
    ax = axes[0, 1]
    ax.bar(np.arange(len(r2_latent_from_pcs)), r2_latent_from_pcs, color="#009E73")
    ax.set_xticks(np.arange(len(r2_latent_from_pcs)))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel(f"R² from top {k} PCs (linear, in-sample)")
    ax.set_title("latent explained by PCs")
    ax = axes[0, 2]
    pcs = np.arange(1, k + 1)
    ax.bar(pcs, r2_pcs_from_latent, color="#E69F00", label="R² of PC from latent means")
    ax.plot(
        pcs,
        np.asarray(explained_ratio[:k]) / max(explained_ratio[0], 1e-12),
        "k.-",
        lw=1,
        label="PC variance / PC1 variance",
    )
    ax.set_ylim(0, 1.05)
    ax.set_xticks(pcs)
    ax.set_xlabel("principal component")
    ax.set_ylabel("R² (linear, in-sample)")
    ax.set_title("PCs explained by latent means")
    ax.legend(loc="upper right")
    return fig


def plot_pca_comparison(
    canonical: np.ndarray,
    r2_latent_from_pcs: list[float],
    r2_pcs_from_latent: list[float],
    explained_ratio: np.ndarray,
    path: str | Path,
) -> Path:
    """:func:`draw_pca_comparison`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_pca_comparison(
            canonical=canonical,
            r2_latent_from_pcs=r2_latent_from_pcs,
            r2_pcs_from_latent=r2_pcs_from_latent,
            explained_ratio=explained_ratio,
        ),
        path,
    )
