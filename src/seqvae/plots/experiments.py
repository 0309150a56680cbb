"""Figures of the built-in experiments (``seqvae experiment``), drawn from their results tables
and the arrays their measurements leave in point folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.plots.style import (
    MISSING_COLOR,
    categorical_colors,
    new_figure,
    save_figure,
)

REGULARISER_LABELS = {"kl": "KL (β-VAE)", "mmd": "MMD (InfoVAE)"}
REGION_STYLES = {"data": ":", "prior": "-", "gap": "--", "tail": "-."}


def _regulariser_colours(table: pd.DataFrame) -> dict[str, Any]:
    names = sorted(table["regulariser"].dropna().unique())
    return dict(zip(names, categorical_colors(max(2, len(names)))))


def _strength_label(row: pd.Series | dict) -> str:
    if row["regulariser"] == "kl":
        return f"KL β={row['strength']:g}"
    return f"MMD λ={row['strength']:g}"


def _lines_over(
    ax,
    table: pd.DataFrame,
    x: str,
    y: str,
    colours: dict[str, Any],
    style: str = "-",
    label_suffix: str = "",
    marker: str = "o",
) -> None:
    """One line per (regulariser, strength): mean over seeds, every seed a faint dot."""
    if y not in table.columns:
        return
    groups = table.groupby(["regulariser", "strength"], sort=True)
    many = groups.ngroups > len(colours)
    for (regulariser, strength), part in groups:
        values = pd.to_numeric(part[y], errors="coerce")
        if values.isna().all():
            continue
        colour = colours.get(regulariser)
        ax.plot(part[x], values, marker, color=colour, alpha=0.3, ms=3, lw=0)
        means = part.assign(_y=values).groupby(x)["_y"].mean()
        label = (
            _strength_label({"regulariser": regulariser, "strength": strength})
            if many
            else REGULARISER_LABELS.get(regulariser, regulariser)
        )
        ax.plot(
            means.index,
            means.to_numpy(),
            style,
            color=colour,
            lw=1.6,
            marker=marker,
            ms=3,
            label=label + label_suffix,
        )


def _latent_axis(ax, table: pd.DataFrame, k: int | None) -> None:
    dims = sorted(table["latent_dim"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims)
    ax.set_xticklabels([str(d) for d in dims])
    ax.set_xlabel("latent dimensions d")
    if k is not None:
        ax.axvline(k, color=MISSING_COLOR, lw=1, ls="--", zorder=0)


# -- compression -------------------------------------------------------------------------------
def plot_compression_summary(table: pd.DataFrame, k: int, regions: list[str], path: str | Path) -> Path:
    """Six panels against the latent size d (K marked by a dashed line): reconstruction, prior
    coverage, stability by latent region, active dimensions and participation ratio,
    polysemantic dimensions, and the anti-correlated pair's distance ratio."""
    fig, axes = new_figure(2, 3, width=3.6, height=2.9)
    colours = _regulariser_colours(table)
    panels = axes.ravel()

    ax = panels[0]
    _lines_over(ax, table, "latent_dim", "reconstruction_accuracy", colours)
    ax.set_ylabel("argmax reconstruction accuracy")
    ax.set_title("reconstruction (training sequences)")

    ax = panels[1]
    _lines_over(ax, table, "latent_dim", "prior_coverage", colours)
    _lines_over(
        ax,
        table,
        "latent_dim",
        "prior_on_pattern",
        colours,
        style="--",
        label_suffix=" (on a pattern)",
        marker="s",
    )
    ax.set_ylabel("fraction")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("prior samples: patterns reached (—)\nand samples on a pattern (--)")

    ax = panels[2]
    for region in ["data", *regions]:
        column = f"stable_{region}"
        if column in table.columns:
            _lines_over(
                ax,
                table,
                "latent_dim",
                column,
                colours,
                style=REGION_STYLES.get(region, "-"),
                label_suffix=f" {region}",
            )
    ax.set_ylabel("decode → encode → decode identical")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("stability by latent region")

    ax = panels[3]
    _lines_over(ax, table, "latent_dim", "active_dims", colours)
    _lines_over(
        ax, table, "latent_dim", "participation_ratio", colours, style="--", label_suffix=" (PR)", marker="s"
    )
    dims = sorted(table["latent_dim"].unique())
    ax.plot(dims, dims, color=MISSING_COLOR, lw=1, ls=":", label="d")
    ax.set_ylabel("dimensions")
    ax.set_title("active dims (—), participation ratio (--)")

    ax = panels[4]
    _lines_over(ax, table, "latent_dim", "polysemantic_dims", colours)
    ax.set_ylabel("active dims carrying ≥ 2 patterns")
    ax.set_title("polysemantic dimensions")

    ax = panels[5]
    _lines_over(ax, table, "latent_dim", "anticorrelated_distance_ratio", colours)
    ax.axhline(1.0, color=MISSING_COLOR, lw=1)
    ax.set_ylabel("D(anti-correlated pair) / mean D")
    ax.set_title("anti-correlated patterns: distance")

    for ax in panels:
        _latent_axis(ax, table, k)
    handles, labels = panels[2].get_legend_handles_labels()
    panels[2].legend(handles, labels, fontsize=6, loc="best", ncol=1)
    panels[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"compression: associative-memory family, K = {k} patterns (dashed line)")
    return save_figure(fig, path)


def plot_compression_coverage(table: pd.DataFrame, k: int, path: str | Path) -> Path:
    """Stacked bars per latent size: the share of prior samples whose decoding reaches each
    pattern, and the share reaching none (grey), one panel per regulariser (mean over seeds)."""
    regularisers = sorted(table["regulariser"].unique())
    fig, axes = new_figure(1, len(regularisers), width=3.8, height=3.0)
    colours = categorical_colors(k)
    for ax, regulariser in zip(axes[0], regularisers):
        part = table[table["regulariser"] == regulariser]
        strengths = sorted(part["strength"].unique())
        part = part[part["strength"] == strengths[0]]
        means = part.groupby("latent_dim").mean(numeric_only=True)
        x = np.arange(len(means))
        bottom = np.zeros(len(means))
        for mu in range(k):
            column = f"prior_share_p{mu + 1}"
            if column not in means.columns:
                continue
            values = means[column].fillna(0).to_numpy()
            ax.bar(x, values, bottom=bottom, color=colours[mu], label=f"pattern {mu + 1}", width=0.7)
            bottom += values
        ax.bar(x, 1 - bottom, bottom=bottom, color=MISSING_COLOR, label="no pattern", width=0.7)
        for xi, (_dim, row) in zip(x, means.iterrows()):
            ax.text(xi, 1.02, f"{row['prior_coverage']:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([str(int(d)) for d in means.index])
        ax.set_xlabel("latent dimensions d")
        ax.set_ylabel("share of prior samples")
        ax.set_ylim(0, 1.12)
        label = REGULARISER_LABELS.get(regulariser, regulariser)
        ax.set_title(f"{label}, {'β' if regulariser == 'kl' else 'λ'} = {strengths[0]:g}")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("coverage of patterns by prior samples (number above a bar: fraction of patterns reached)")
    return save_figure(fig, path)


def plot_compression_latents(table: pd.DataFrame, points_dir: Path, k: int, path: str | Path) -> Path:
    """Latent means coloured by nearest pattern (the two dimensions of largest variance), gap
    points marked ×, for the first seed and strength of each regulariser and latent size."""
    regularisers = sorted(table["regulariser"].unique())
    dims = sorted(table["latent_dim"].unique())
    fig, axes = new_figure(len(regularisers), len(dims), width=2.5, height=2.4)
    colours = np.array(categorical_colors(k), dtype=object)
    for i, regulariser in enumerate(regularisers):
        part = table[table["regulariser"] == regulariser]
        strength = sorted(part["strength"].unique())[0]
        seed = sorted(part["seed"].unique())[0]
        for j, dim in enumerate(dims):
            ax = axes[i, j]
            rows = part[(part["strength"] == strength) & (part["latent_dim"] == dim) & (part["seed"] == seed)]
            latent_file = points_dir / str(rows["point"].iloc[0]) / "latent.npz" if len(rows) else None
            if latent_file is None or not latent_file.exists():
                ax.set_axis_off()
                continue
            with np.load(latent_file) as data:
                z, nearest = data["z_mean"], data["nearest"]
            order = np.argsort(-z.var(axis=0), kind="stable")
            gap_file = latent_file.with_name("low_density.npz")
            gap = None
            if gap_file.exists():
                with np.load(gap_file) as data:
                    gap = data["gap_z"] if "gap_z" in data else None
            if z.shape[1] == 1:
                jitter = np.random.default_rng(0).uniform(-1, 1, len(z))
                ax.scatter(z[:, 0], jitter, s=3, c=list(colours[nearest % k]), alpha=0.6, lw=0)
                if gap is not None:
                    ax.scatter(gap[:, 0], np.zeros(len(gap)), s=10, marker="x", color="black", lw=0.6)
                ax.set_yticks([])
                ax.set_ylabel("(jitter)")
                ax.set_xlabel("z_0")
            else:
                a, b = order[0], order[1]
                ax.scatter(z[:, a], z[:, b], s=3, c=list(colours[nearest % k]), alpha=0.6, lw=0)
                if gap is not None:
                    ax.scatter(gap[:, a], gap[:, b], s=10, marker="x", color="black", lw=0.6)
                ax.set_xlabel(f"z_{a}")
                ax.set_ylabel(f"z_{b}")
            ax.set_title(f"{REGULARISER_LABELS.get(regulariser, regulariser)}, d = {dim}", fontsize=9)
    handles = [
        axes[0, 0].scatter([], [], s=12, color=colours[mu], label=f"pattern {mu + 1}") for mu in range(k)
    ]
    handles.append(axes[0, 0].scatter([], [], s=12, marker="x", color="black", label="gap points"))
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    fig.suptitle("latent means by nearest pattern (two highest-variance dims; × = decoded gap points)")
    return save_figure(fig, path)
