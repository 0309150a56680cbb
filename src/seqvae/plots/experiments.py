"""Figures of the built-in experiments (``seqvae experiment``), drawn from their results tables
and the arrays their measurements leave in point folders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from seqvae.experiments.simpson import SimpsonExample

from seqvae.plots.style import (
    DIVERGING_CMAP,
    MISSING_COLOR,
    SEQUENTIAL_CMAP,
    categorical_colors,
    figure_axes,
    save_figure,
    single_axes,
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
def draw_compression_summary(
    table: pd.DataFrame, k: int, regions: list[str], *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Six panels against the latent size d (K marked by a dashed line): reconstruction, prior
    coverage, stability by latent region, active dimensions and participation ratio,
    polysemantic dimensions, and the anti-correlated pair's distance ratio.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    fig, axes = figure_axes(fig, 2, 3, width=3.6, height=2.9)
    colours = _regulariser_colours(table)
    panels = axes.ravel()

    ax = panels[0]
    _lines_over(ax, table, "latent_dim", "reconstruction_accuracy", colours)
    low = float(pd.to_numeric(table["reconstruction_accuracy"], errors="coerce").min())
    ax.set_ylim(max(0.0, min(low - 0.05, 0.9)), 1.0)
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

    region_handles = [
        Line2D([], [], color="0.35", ls=REGION_STYLES.get(region, "-"), label=region)
        for region in ["data", *regions]
        if f"stable_{region}" in table.columns
    ]
    panels[2].legend(handles=region_handles, fontsize=7, loc="best", title="region", title_fontsize=7)
    panels[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"compression: associative-memory family, K = {k} patterns (dashed line)")
    return fig


def plot_compression_summary(table: pd.DataFrame, k: int, regions: list[str], path: str | Path) -> Path:
    """:func:`draw_compression_summary`, saved at ``path`` (atomically)."""
    return save_figure(draw_compression_summary(table=table, k=k, regions=regions), path)


def draw_compression_coverage(
    table: pd.DataFrame, k: int, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Stacked bars per latent size: the share of prior samples whose decoding reaches each
    pattern, and the share reaching none (grey), one panel per regulariser (mean over seeds).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    regularisers = sorted(table["regulariser"].unique())
    fig, axes = figure_axes(fig, 1, len(regularisers), width=3.8, height=3.0)
    colours = categorical_colors(k)
    for ax, regulariser in zip(axes[0], regularisers):
        part = table[table["regulariser"] == regulariser]
        strengths = sorted(part["strength"].unique())
        part = part[part["strength"] == strengths[0]]
        means = part.groupby("latent_dim").mean(numeric_only=True)
        has_family = f"family_share_p{k}" in means.columns
        offset = 1 if has_family else 0
        x = np.arange(len(means)) + offset
        bottom = np.zeros(len(means))
        family_bottom = 0.0
        for mu in range(k):
            column = f"prior_share_p{mu + 1}"
            if column not in means.columns:
                continue
            values = means[column].fillna(0).to_numpy()
            ax.bar(x, values, bottom=bottom, color=colours[mu], label=f"pattern {mu + 1}", width=0.7)
            bottom += values
            if has_family:
                share = float(means[f"family_share_p{mu + 1}"].iloc[0])
                ax.bar(0, share, bottom=family_bottom, color=colours[mu], width=0.7)
                family_bottom += share
        ax.bar(x, 1 - bottom, bottom=bottom, color=MISSING_COLOR, label="no pattern", width=0.7)
        if has_family:
            ax.bar(0, 1 - family_bottom, bottom=family_bottom, color=MISSING_COLOR, width=0.7)
            ax.axvline(0.5, color="black", lw=0.6)
        for xi, (_dim, row) in zip(x, means.iterrows()):
            ax.text(xi, 1.02, f"{row['prior_coverage']:.2f}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(np.arange(len(means) + offset))
        ax.set_xticklabels((["family"] if has_family else []) + [f"d={int(d)}" for d in means.index])
        ax.set_xlabel("the family itself | prior samples by latent size")
        ax.set_ylabel("share of sequences on each pattern")
        ax.set_ylim(0, 1.12)
        label = REGULARISER_LABELS.get(regulariser, regulariser)
        ax.set_title(f"{label}, {'β' if regulariser == 'kl' else 'λ'} = {strengths[0]:g}")
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("coverage of patterns by prior samples (number above a bar: fraction of patterns reached)")
    return fig


def plot_compression_coverage(table: pd.DataFrame, k: int, path: str | Path) -> Path:
    """:func:`draw_compression_coverage`, saved at ``path`` (atomically)."""
    return save_figure(draw_compression_coverage(table=table, k=k), path)


def draw_compression_latents(
    table: pd.DataFrame, points_dir: Path, k: int, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Latent means coloured by nearest pattern (the two dimensions of largest variance), gap
    points marked ×, for the first seed and strength of each regulariser and latent size.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    regularisers = sorted(table["regulariser"].unique())
    dims = sorted(table["latent_dim"].unique())
    fig, axes = figure_axes(fig, len(regularisers), len(dims), width=2.5, height=2.4)
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
    return fig


def plot_compression_latents(table: pd.DataFrame, points_dir: Path, k: int, path: str | Path) -> Path:
    """:func:`draw_compression_latents`, saved at ``path`` (atomically)."""
    return save_figure(draw_compression_latents(table=table, points_dir=points_dir, k=k), path)


# -- posterior collapse ------------------------------------------------------------------------
def _strength_axis(ax, values: pd.Series, label: str) -> None:
    numeric = pd.to_numeric(values, errors="coerce")
    if (numeric > 0).all() and numeric.max() / max(numeric.min(), 1e-300) >= 10:
        ax.set_xscale("log")
    ax.set_xlabel(label)


def draw_collapse_summary(
    table: pd.DataFrame, n_factors: int, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Per regulariser (rows): tr Cov(z_mean) against β or λ, and the dimension counts (active,
    explained by the factors, redundant, noise) against it; seeds as dots, means as lines.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    regularisers = [r for r in ("kl", "mmd") if r in set(table["regulariser"])]
    fig, axes = figure_axes(fig, len(regularisers), 2, width=3.9, height=2.8)
    counts = [
        ("active_dims", "active", "-"),
        ("factor_dims", "explained by the factors", "--"),
        ("redundant_dims", "redundant", ":"),
        ("noise_dims", "noise", "-."),
    ]
    colours = categorical_colors(len(counts) + 1)
    for row, regulariser in enumerate(regularisers):
        part = table[table["regulariser"] == regulariser].sort_values("strength")
        symbol = "β" if regulariser == "kl" else "λ"
        ax = axes[row, 0]
        ax.plot(part["strength"], part["trace_cov"], "o", color=colours[0], alpha=0.35, ms=4, lw=0)
        means = part.groupby("strength")["trace_cov"].mean()
        ax.plot(means.index, means.to_numpy(), "-", color=colours[0], lw=1.6, label="tr Cov(z_mean)")
        if "latent_dim" in part:
            ax.axhline(n_factors, color=MISSING_COLOR, ls="--", lw=1, label=f"{n_factors} (true factors)")
        ax.set_ylabel("tr Cov(z_mean)")
        ax.set_title(f"{REGULARISER_LABELS[regulariser]}: tr Cov(z_mean) vs {symbol}")
        _strength_axis(ax, part["strength"], symbol)
        ax.legend(fontsize=7)
        ax = axes[row, 1]
        for (column, label, style), colour in zip(counts, colours[1:]):
            if column not in part.columns:
                continue
            means = part.groupby("strength")[column].mean()
            ax.plot(part["strength"], part[column], "o", color=colour, alpha=0.3, ms=3, lw=0)
            ax.plot(means.index, means.to_numpy(), style, color=colour, lw=1.6, label=label)
        ax.axhline(n_factors, color=MISSING_COLOR, ls="--", lw=1)
        ax.set_ylabel("latent dimensions")
        ax.set_title(f"{REGULARISER_LABELS[regulariser]}: dimensions vs {symbol}")
        ax.yaxis.get_major_locator().set_params(integer=True)
        _strength_axis(ax, part["strength"], symbol)
        ax.legend(fontsize=7)
    fig.suptitle(f"selective posterior collapse: {n_factors} linear factors (dashed line)")
    return fig


def plot_collapse_summary(table: pd.DataFrame, n_factors: int, path: str | Path) -> Path:
    """:func:`draw_collapse_summary`, saved at ``path`` (atomically)."""
    return save_figure(draw_collapse_summary(table=table, n_factors=n_factors), path)


def draw_collapse_dimensions(
    table: pd.DataFrame, n_factors: int, *, ax: Axes | None = None
) -> Figure | SubFigure:
    """Sachdeva et al.'s table as a heat map: Var(z_mean) of every latent dimension (sorted, largest
    first) for each model of the first seed, one row per regulariser and strength.

    Returns the figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).
    """
    seed = sorted(table["seed"].unique())[0]
    part = table[table["seed"] == seed].sort_values(["regulariser", "strength"])
    columns = sorted(
        [c for c in part.columns if c.startswith("var_sorted_")], key=lambda c: int(c.rsplit("_", 1)[1])
    )
    values = part[columns].to_numpy(dtype=float)
    labels = [_strength_label(row) for _, row in part.iterrows()]
    fig, ax = single_axes(ax, width=0.55 * len(columns) + 2.2, height=0.32 * len(labels) + 1.4)
    image = ax.imshow(values, cmap=SEQUENTIAL_CMAP, aspect="auto", vmin=0)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                dark = values[i, j] < 0.6 * np.nanmax(values)
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels([str(j + 1) for j in range(len(columns))])
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.set_xlabel("latent dimension, sorted by Var(z_mean)")
    ax.set_title(f"Var(z_mean) per dimension (seed {seed}; {n_factors} true factors)")
    fig.colorbar(image, ax=ax, label="Var(z_mean)")
    return fig


def plot_collapse_dimensions(table: pd.DataFrame, n_factors: int, path: str | Path) -> Path:
    """:func:`draw_collapse_dimensions`, saved at ``path`` (atomically)."""
    return save_figure(draw_collapse_dimensions(table=table, n_factors=n_factors), path)


# -- simpson -----------------------------------------------------------------------------------
def _row_key(table: pd.DataFrame) -> str:
    family_keys = [c for c in table.columns if c.startswith("family.") and table[c].nunique() > 1]
    if family_keys:
        return family_keys[0]
    return "latent_dim"


def draw_simpson_phase(table: pd.DataFrame, *, fig: Figure | SubFigure | None = None) -> Figure | SubFigure:
    """The phase diagram: mean over seeds of the within-minus-pooled R² gap of the best latent
    coordinate (diverging colours, 0 white) over the trained family knob (rows) × clade effect
    (columns), beside the within-clade and pooled R² themselves; one row of panels per noise level.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    key = _row_key(table)
    panels = [
        ("gap", "R² within − R² pooled", DIVERGING_CMAP),
        ("r2_within", "R² within clades", SEQUENTIAL_CMAP),
        ("r2_pooled", "R² pooled", SEQUENTIAL_CMAP),
    ]
    rows = sorted(table[key].unique())
    cols = sorted(table["clade_effect"].unique())
    noises = sorted(table["phenotype_noise"].unique())
    fig, axes = figure_axes(fig, len(noises), 3, width=0.55 * len(cols) + 1.9, height=0.42 * len(rows) + 1.5)
    limit = max(0.05, float(np.nanmax(np.abs(table["gap"].to_numpy(dtype=float)))))
    for r, noise in enumerate(noises):
        part = table[table["phenotype_noise"] == noise]
        for ax, (column, title, cmap) in zip(axes[r], panels):
            grid = part.pivot_table(index=key, columns="clade_effect", values=column, aggfunc="mean")
            values = grid.reindex(index=rows, columns=cols).to_numpy(dtype=float)
            low, high = (-limit, limit) if column == "gap" else (0, 1)
            image = ax.imshow(values, cmap=cmap, vmin=low, vmax=high, aspect="auto", origin="lower")
            for i in range(values.shape[0]):
                for j in range(values.shape[1]):
                    if np.isfinite(values[i, j]):
                        ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(cols)))
            ax.set_xticklabels([f"{c:g}" for c in cols])
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([f"{v:g}" for v in rows])
            ax.set_xlabel("clade effect c")
            ax.set_ylabel(key.replace("family.", "family ").replace("beta", "β"))
            ax.set_title(f"{title} (noise σ = {noise:g})", fontsize=9)
            fig.colorbar(image, ax=ax, shrink=0.85)
    seeds = table["seed"].nunique()
    fig.suptitle(f"Simpson's paradox phase diagram: best latent coordinate (mean over {seeds} seed(s))")
    return fig


def plot_simpson_phase(table: pd.DataFrame, path: str | Path) -> Path:
    """:func:`draw_simpson_phase`, saved at ``path`` (atomically)."""
    return save_figure(draw_simpson_phase(table=table), path)


def draw_simpson_example(example: SimpsonExample | None, *, ax: Axes | None = None) -> Figure | SubFigure:
    """The setting with the largest gap (see :func:`seqvae.experiments.simpson.simpson_example`):
    phenotype against the latent coordinate that is best within clades, coloured by clade, with
    one least-squares line per clade and a black pooled line; R² values on that coordinate in the
    title. An empty figure when the example's data were not kept.

    Returns the figure drawn on: a new one, or the one that holds ``ax`` (the axes to draw into).
    """
    fig, ax = single_axes(ax, width=4.8, height=3.8)
    if example is None:
        ax.set_axis_off()
        return fig
    z, y, clade, k = example.z_mean, example.phenotype, example.clade, example.dimension
    names = sorted(np.unique(clade))
    for name, colour in zip(names, categorical_colors(len(names))):
        member = clade == name
        ax.scatter(z[member, k], y[member], s=4, color=colour, alpha=0.5, lw=0, label=f"clade {name + 1}")
        if member.sum() >= 3 and np.ptp(z[member, k]) > 0:
            slope, intercept = np.polyfit(z[member, k], y[member], 1)
            xs = np.linspace(z[member, k].min(), z[member, k].max(), 10)
            ax.plot(xs, slope * xs + intercept, color=colour, lw=1.4)
    slope, intercept = np.polyfit(z[:, k], y, 1)
    xs = np.linspace(z[:, k].min(), z[:, k].max(), 10)
    ax.plot(xs, slope * xs + intercept, color="black", lw=1.6, ls="--", label="pooled fit")
    ax.set_xlabel(f"latent coordinate z_{k}")
    ax.set_ylabel("phenotype y")
    ax.set_title(
        f"{example.setting}, clade effect {example.clade_effect:g}, noise {example.phenotype_noise:g}\n"
        f"R² on z_{k}: within clades {example.r2_within:.2f}, pooled {example.r2_pooled:.2f}",
        fontsize=8,
    )
    ax.legend(fontsize=7, markerscale=3)
    return fig


def plot_simpson_example(example: SimpsonExample | None, path: str | Path) -> Path:
    """:func:`draw_simpson_example`, saved at ``path`` (atomically)."""
    return save_figure(draw_simpson_example(example=example), path)


# -- hamming clusters --------------------------------------------------------------------------
def draw_hamming_clusters(
    table: pd.DataFrame, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Adjusted Rand index of the three pairs of partitions (latent k-means vs Hamming
    clustering, each vs the nearest pattern) for every model; one panel per regulariser, one
    group of bars per family knob value and latent size (mean over seeds).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    key = _row_key(table) if any(c.startswith("family.") for c in table.columns) else None
    pairs = [
        ("ari_latent_hamming", "latent k-means vs Hamming clusters"),
        ("ari_latent_truth", "latent k-means vs nearest pattern"),
        ("ari_hamming_truth", "Hamming clusters vs nearest pattern"),
    ]
    regularisers = sorted(table["regulariser"].unique())
    group_keys = [k for k in (key, "latent_dim") if k is not None and k in table.columns]
    fig, axes = figure_axes(fig, 1, len(regularisers), width=4.2, height=3.2)
    colours = categorical_colors(len(pairs))
    for ax, regulariser in zip(axes[0], regularisers):
        part = table[table["regulariser"] == regulariser]
        means = part.groupby(group_keys)[[p for p, _ in pairs]].mean()
        x = np.arange(len(means))
        width = 0.8 / len(pairs)
        for i, ((column, label), colour) in enumerate(zip(pairs, colours)):
            ax.bar(x + (i - 1) * width, means[column].to_numpy(), width=width, color=colour, label=label)
        labels = []
        for index in means.index:
            values = index if isinstance(index, tuple) else (index,)
            parts = [
                f"{'β' if 'beta' in str(k) else k}={v:g}" if k != "latent_dim" else f"d={v:g}"
                for k, v in zip(group_keys, values)
            ]
            labels.append("\n".join(parts))
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylim(min(0.0, float(np.nanmin(means.to_numpy())) - 0.05), 1.05)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_ylabel("adjusted Rand index")
        ax.set_title(REGULARISER_LABELS.get(regulariser, regulariser))
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("Hamming-space vs latent-space clusters (ARI; family β below each group)")
    return fig


def plot_hamming_clusters(table: pd.DataFrame, path: str | Path) -> Path:
    """:func:`draw_hamming_clusters`, saved at ``path`` (atomically)."""
    return save_figure(draw_hamming_clusters(table=table), path)


def draw_hamming_latents(
    table: pd.DataFrame, points_dir: Path, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """For the first model of each family variant: latent means (two highest-variance
    dimensions) coloured by Hamming cluster (left) and by latent k-means cluster (right).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    key = _row_key(table)
    variants = sorted(table[key].unique())
    fig, axes = figure_axes(fig, len(variants), 2, width=2.8, height=2.5)
    for i, value in enumerate(variants):
        rows = table[table[key] == value].sort_values(["regulariser", "latent_dim", "seed"])
        source = points_dir / str(rows["point"].iloc[0]) / "clusters.npz"
        if not source.exists():
            axes[i, 0].set_axis_off()
            axes[i, 1].set_axis_off()
            continue
        with np.load(source) as data:
            z, hamming, latent = data["z_mean"], data["hamming"], data["latent"]
        order = np.argsort(-z.var(axis=0), kind="stable")
        a, b = (order[0], order[1]) if z.shape[1] > 1 else (0, 0)
        first = rows.iloc[0]
        for ax, labels, title in (
            (axes[i, 0], hamming, "Hamming clusters"),
            (axes[i, 1], latent, "latent k-means"),
        ):
            colours = np.array(categorical_colors(int(labels.max()) + 1), dtype=object)
            ax.scatter(z[:, a], z[:, b], s=4, c=list(colours[labels]), alpha=0.7, lw=0)
            ax.set_xlabel(f"z_{a}")
            ax.set_ylabel(f"z_{b}")
            label = key.replace("family.", "family ").replace("beta", "β")
            ax.set_title(
                f"{title}\n{label} = {value:g}, {first['regulariser'].upper()}, d = {first['latent_dim']}",
                fontsize=8,
            )
    fig.suptitle("latent means coloured by the two clusterings")
    return fig


def plot_hamming_latents(table: pd.DataFrame, points_dir: Path, path: str | Path) -> Path:
    """:func:`draw_hamming_latents`, saved at ``path`` (atomically)."""
    return save_figure(draw_hamming_latents(table=table, points_dir=points_dir), path)
