"""Figures for generated sequences: sequence logos beside their natural counterpart, the
generative-capacity statistics, and interpolation paths.

Logos are drawn with matplotlib letter paths (no extra dependency): each position is a stack
of residue letters whose heights are f_a × information content, with the information content
over the residue distribution scaled by the column's non-gap fraction, in bits.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from seqvae.analysis.capacity import site_frequencies
from seqvae.analysis.sample_evaluation import SampleEvaluation, SampleSetEvaluation
from seqvae.analysis.sequence_sets import SequenceSet, sequence_set_files
from seqvae.data.alphabet import Alphabet
from seqvae.errors import InputError
from seqvae.plots.style import (
    CATEGORICAL,
    categorical_colors,
    figure_axes,
    save_figure,
    short_text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

# the figures of an evaluation folder (seqvae evaluate-samples; seqvae report embeds them)
STATISTICS_PNG = "statistics.png"
LOGOS_PNG = "logos.png"
ENERGIES_PNG = "energies.png"

# Residue colours by chemistry (Okabe–Ito hues): hydrophobic, polar, amide, basic, acidic.
_CHEMISTRY = {
    **dict.fromkeys("AVLIPWFM", "#000000"),
    **dict.fromkeys("GSTYC", "#009E73"),
    **dict.fromkeys("NQ", "#CC79A7"),
    **dict.fromkeys("KRH", "#0072B2"),
    **dict.fromkeys("DE", "#D55E00"),
}
_FONT = FontProperties(family="DejaVu Sans", weight="bold")
_LETTER_PATHS: dict[str, TextPath] = {}


def _letter_colors(alphabet: Alphabet) -> dict[str, str]:
    if alphabet.name == "protein":
        return {letter: _CHEMISTRY.get(letter, "#555555") for letter in alphabet.residues}
    colours = categorical_colors(alphabet.n_residues)
    return dict(zip(alphabet.residues, colours))


def _letter_path(letter: str, x: float, y: float, width: float, height: float):
    """The outline of ``letter`` stretched into [x − width/2, x + width/2] × [y, y + height]."""
    if letter not in _LETTER_PATHS:
        _LETTER_PATHS[letter] = TextPath((0, 0), letter, size=1, prop=_FONT)
    path = _LETTER_PATHS[letter]
    box = path.get_extents()
    transform = (
        Affine2D()
        .translate(-box.x0, -box.y0)
        .scale(width / max(box.width, 1e-9), height / max(box.height, 1e-9))
        .translate(x - width / 2, y)
    )
    return transform.transform_path(path)


def logo_heights(codes: np.ndarray, alphabet: Alphabet, weights: np.ndarray | None = None) -> np.ndarray:
    """Letter heights in bits, ``[L, n_residues]``: f_a · IC, gap-scaled (see module docstring)."""
    freqs = site_frequencies(codes, alphabet.size, weights, include_gaps=True)
    residues = freqs[:, : alphabet.n_residues]
    occupied = residues.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(occupied > 0, residues / occupied, 0.0)
        entropy = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1, keepdims=True)
    information = (np.log2(alphabet.n_residues) - entropy) * occupied
    return p * information


def draw_sequence_logos(
    sets: Mapping[str, np.ndarray],
    alphabet: Alphabet,
    weights: Mapping[str, np.ndarray | None] | None = None,
    position_labels: Sequence[int] | None = None,
    positions_per_row: int = 60,
    title: str | None = None,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Sequence logos of several coded sets, one above the other, wrapped every
    ``positions_per_row`` positions. Returns the figure drawn on: a new one, or ``fig``.

    Parameters
    ----------
    sets
        Name → ``uint8 [N, L]`` codes (e.g. ``{"natural (held out)": ..., "designs": ...}``).
    alphabet
        The alphabet of the codes.
    weights
        Optional name → per-sequence weights.
    position_labels
        Numbers to print under the positions (e.g. the reference numbering); 1..L by default.
    fig
        A figure or subfigure to draw into (None: a new figure).
    """
    names = list(sets)
    lengths = {np.asarray(codes).shape[1] for codes in sets.values()}
    if len(lengths) != 1:
        raise InputError(f"logo sets have different lengths: {sorted(lengths)}")
    (length,) = lengths
    heights = {
        name: logo_heights(np.asarray(sets[name]), alphabet, None if weights is None else weights.get(name))
        for name in names
    }
    labels = list(position_labels) if position_labels is not None else list(range(1, length + 1))
    colours = _letter_colors(alphabet)
    top = np.log2(alphabet.n_residues)
    chunks = [(s, min(length, s + positions_per_row)) for s in range(0, length, positions_per_row)]
    n_rows = len(chunks) * len(names)
    width_per_position = 0.17
    fig, axes = figure_axes(
        fig, n_rows, 1, width=max(4.0, width_per_position * min(length, positions_per_row) + 0.8), height=1.35
    )
    for c, (start, stop) in enumerate(chunks):
        for s, name in enumerate(names):
            ax = axes[c * len(names) + s, 0]
            paths, faces = [], []
            for pos in range(start, stop):
                column = heights[name][pos]
                y = 0.0
                for code in np.argsort(column, kind="stable"):
                    h = column[code]
                    if h < 0.005:  # invisible at this scale; skipping keeps drawing fast
                        y += h
                        continue
                    letter = alphabet.residues[code]
                    paths.append(PathPatch(_letter_path(letter, pos, y, 0.9, h)))
                    faces.append(colours[letter])
                    y += h
            # one collection per panel: thousands of separate patches make saving slow
            ax.add_collection(PatchCollection(paths, facecolors=faces, edgecolors="none", linewidths=0))
            ax.set_xlim(start - 0.6, start + min(positions_per_row, length) - 0.4)
            ax.set_ylim(0, top)
            ax.set_ylabel("bits")
            ax.set_title(f"{name}  (N = {len(sets[name])})", loc="left", fontsize=9)
            step = 5 if stop - start > 20 else 1
            ticks = list(range(start, stop, step))
            ax.set_xticks(ticks)
            ax.set_xticklabels([str(labels[t]) for t in ticks])
            if s == len(names) - 1:
                ax.set_xlabel("alignment position")
    if title:
        fig.suptitle(title)
    return fig


def plot_sequence_logos(
    sets: Mapping[str, np.ndarray],
    alphabet: Alphabet,
    path: str | Path,
    weights: Mapping[str, np.ndarray | None] | None = None,
    position_labels: Sequence[int] | None = None,
    positions_per_row: int = 60,
    title: str | None = None,
) -> Path:
    """:func:`draw_sequence_logos`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_sequence_logos(
            sets=sets,
            alphabet=alphabet,
            weights=weights,
            position_labels=position_labels,
            positions_per_row=positions_per_row,
            title=title,
        ),
        path,
    )


def _as_mapping(
    evaluations: SampleEvaluation | Mapping[str, SampleEvaluation],
) -> dict[str, SampleEvaluation]:
    if isinstance(evaluations, SampleEvaluation):
        return {"designs": evaluations}
    return dict(evaluations)


def draw_sample_statistics(
    evaluations: SampleEvaluation | Mapping[str, SampleEvaluation],
    reference_label: str = "natural (held out)",
    title: str | None = None,
    *,
    fig: Figure | SubFigure | None = None,
) -> Figure | SubFigure:
    """Six panels: single-site and pairwise statistics (samples vs reference), r20 vs n,
    Hamming distance to the nearest training sequence, pairwise Hamming within each set, and
    the summary numbers. Several evaluations against the same reference (e.g. VAE designs and
    a baseline model's samples) are overlaid in different colours.

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    evals = _as_mapping(evaluations)
    colours = dict(zip(evals, CATEGORICAL[1:] + CATEGORICAL[:1]))
    reference_colour = CATEGORICAL[0]
    fig, axes = figure_axes(fig, 2, 3, width=4.0, height=3.6)
    ax_site, ax_pair, ax_r20 = axes[0]
    ax_near, ax_within, ax_bar = axes[1]
    _draw_site_frequencies(ax_site, evals, colours, reference_label)
    _draw_pair_correlations(ax_pair, evals, colours, reference_label)
    _draw_r20(ax_r20, evals, colours)
    # the reference's distances are the same in every evaluation: the first one's are drawn
    first = next(iter(evals.values()))
    near = {reference_label: (first.reference_to_training, reference_colour)}
    within = {reference_label: (first.reference_pairs, reference_colour)}
    for name, ev in evals.items():
        near[name] = (ev.design_to_training, colours[name])
        within[name] = (ev.design_pairs, colours[name])
    _distance_histogram(ax_near, near, "Hamming distance to nearest training sequence", "novelty")
    _distance_histogram(ax_within, within, "Hamming distance between pairs in a set", "diversity")
    _draw_summary_bars(ax_bar, evals, colours, reference_label, reference_colour)
    if title:
        fig.suptitle(title)
    return fig


def _draw_site_frequencies(
    ax, evals: Mapping[str, SampleEvaluation], colours: dict[str, str], reference_label: str
) -> None:
    """Single-site frequencies of each sample set against the reference's."""
    for name, ev in evals.items():
        ax.scatter(
            ev.reference_frequencies.reshape(-1),
            ev.design_frequencies.reshape(-1),
            s=5,
            alpha=0.5,
            color=colours[name],
            label=f"{name}: r = {ev.summary['single_site_r']:.3f}",
            rasterized=True,
        )
    ax.plot([0, 1], [0, 1], color="#888888", lw=0.8, ls="--")
    ax.set_xlabel(f"$f_i^a$ {reference_label}")
    ax.set_ylabel("$f_i^a$ generated")
    ax.set_title("single-site frequencies")
    ax.legend(loc="upper left")


def _draw_pair_correlations(
    ax, evals: Mapping[str, SampleEvaluation], colours: dict[str, str], reference_label: str
) -> None:
    """The sampled pairwise connected correlations of each set against the reference's."""
    for name, ev in evals.items():
        ax.scatter(
            ev.pairwise.target_sample,
            ev.pairwise.samples_sample,
            s=3,
            alpha=0.3,
            color=colours[name],
            label=f"{name}: r = {ev.pairwise.r:.3f}",
            rasterized=True,
        )
    shown = [v for ev in evals.values() for v in (ev.pairwise.target_sample, ev.pairwise.samples_sample)]
    lo, hi = min(v.min(initial=0) for v in shown), max(v.max(initial=0) for v in shown)
    ax.plot([lo, hi], [lo, hi], color="#888888", lw=0.8, ls="--")
    ax.set_xlabel(f"$C_{{ij}}^{{ab}}$ {reference_label}")
    ax.set_ylabel("$C_{ij}^{ab}$ generated")
    first = next(iter(evals.values())).pairwise
    ax.set_title(
        f"pairwise connected correlations\n(random {first.target_sample.size:,} of {first.n_values:,} shown)"
    )
    ax.legend(loc="upper left")


def _draw_r20(ax, evals: Mapping[str, SampleEvaluation], colours: dict[str, str]) -> None:
    """r20 against the number of positions, with its sd over position sets as a band."""
    for name, ev in evals.items():
        r20 = ev.r20
        ax.plot(
            r20.n_values, r20.r20, marker="o", color=colours[name], label=f"{name}: mean {r20.mean():.3f}"
        )
        ax.fill_between(
            r20.n_values, r20.r20 - r20.r20_std, r20.r20 + r20.r20_std, color=colours[name], alpha=0.15, lw=0
        )
    ax.set_xlabel("number of positions n")
    ax.set_ylabel("r20 (mean ± sd over position sets)")
    ax.set_title("higher-order marginals")
    ax.set_ylim(min(0.0, np.nanmin([np.nanmin(ev.r20.r20 - ev.r20.r20_std) for ev in evals.values()])), 1.02)
    ax.legend(loc="lower left")


def _distance_histogram(
    ax, values_by_label: Mapping[str, tuple[np.ndarray | None, str]], xlabel: str, title: str
) -> None:
    """Step histograms of Hamming distances, one per set (label: (distances, colour))."""
    present = {k: (v, c) for k, (v, c) in values_by_label.items() if v is not None and v.size}
    # a set whose distances are all equal (e.g. training sequences against themselves) would
    # squash the others into one tall bin: draw it as a vertical line instead
    for label, (values, colour) in list(present.items()):
        if np.ptp(values) == 0:
            ax.axvline(values[0], color=colour, lw=1.5, ls="--", label=f"{label} (all {values[0]})")
            del present[label]
    if not present and not ax.lines:
        ax.text(0.5, 0.5, "no training set given", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    if not present:
        ax.set_xlabel(xlabel)
        ax.legend(loc="best")
        return
    top = max(int(v[0].max()) for v in present.values())
    bins = np.arange(-0.5, top + 1.5, max(1, (top + 1) // 40 or 1))
    for label, (values, colour) in present.items():
        ax.hist(
            values,
            bins=bins,
            density=True,
            histtype="step",
            lw=1.5,
            color=colour,
            label=f"{label} (median {np.median(values):.0f})",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of sequences" if "nearest" in xlabel else "fraction of pairs")
    ax.set_title(title)
    ax.legend(loc="best")


# the summary panel's bars: (tick label, summary key); the last two have a reference level
_SUMMARY_BARS = (
    ("single-\nsite r", "single_site_r"),
    ("pairwise\nr", "pairwise_r"),
    ("r20\nmean", "r20_mean"),
    ("exact\nre-decode", "design_reconstruction_stability"),
    ("re-decode\nidentity", "design_redecode_identity_mean"),
)
_REFERENCE_BARS = ("reference_reconstruction_stability", "reference_redecode_identity_mean")


def _draw_summary_bars(
    ax,
    evals: Mapping[str, SampleEvaluation],
    colours: dict[str, str],
    reference_label: str,
    reference_colour: str,
) -> None:
    """The summary numbers of each set as grouped bars, the reference's re-decoding as levels."""
    x = np.arange(len(_SUMMARY_BARS))
    width = 0.8 / len(evals)
    crowded = len(evals) > 2
    for k, (name, ev) in enumerate(evals.items()):
        values = [
            np.nan if ev.summary.get(key) is None else float(ev.summary[key]) for _, key in _SUMMARY_BARS
        ]
        bars = ax.bar(x + (k - (len(evals) - 1) / 2) * width, values, width, color=colours[name], label=name)
        for bar, value in zip(bars, values):
            if np.isfinite(value):
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    value + 0.01,
                    f"{value:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=6 if crowded else 7,
                    rotation=90 if crowded else 0,
                )
    first = next(iter(evals.values()))
    for offset, key in enumerate(_REFERENCE_BARS):
        reference_value = first.summary.get(key)
        if reference_value is not None:
            position = len(_SUMMARY_BARS) - 2 + offset
            ax.hlines(
                reference_value,
                position - 0.45,
                position + 0.45,
                color=reference_colour,
                lw=1.5,
                ls=":",
                label=f"{reference_label} (re-decode)" if offset == 0 else None,
            )
    ax.set_xticks(x)
    ax.set_xticklabels([label for label, _ in _SUMMARY_BARS])
    ax.set_ylim(0, 1.1 + 0.12 * (len(evals) + 1))
    ax.set_ylabel("correlation r or fraction")
    ax.set_title("summary\n" + textwrap.fill(first.summary["weighting"], 46), fontsize=8)
    ax.legend(loc="upper center", fontsize=7, ncol=2)


def plot_sample_statistics(
    evaluations: SampleEvaluation | Mapping[str, SampleEvaluation],
    path: str | Path,
    reference_label: str = "natural (held out)",
    title: str | None = None,
) -> Path:
    """:func:`draw_sample_statistics`, saved at ``path`` (atomically)."""
    return save_figure(
        draw_sample_statistics(evaluations=evaluations, reference_label=reference_label, title=title), path
    )


def draw_interpolation(
    designs: SequenceSet, title: str | None = None, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Hamming distance of each interpolated sequence to both end sequences, and its ELBO,
    along the straight latent path from A (t = 0) to B (t = 1).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    needed = ("t", "hamming_to_a", "hamming_to_b")
    if any(key not in designs.extra for key in needed):
        raise InputError("not an interpolation: the design set has no t / hamming_to_a / hamming_to_b")
    t = designs.extra["t"]
    id_a, id_b = designs.metadata.get("interpolate", ["A", "B"])
    fig, axes = figure_axes(fig, 1, 2, width=4.3, height=3.4)
    ax, ax_elbo = axes[0]
    ax.plot(t, designs.extra["hamming_to_a"], marker="o", label=f"to A = {short_text(id_a, 28)}")
    ax.plot(t, designs.extra["hamming_to_b"], marker="s", label=f"to B = {short_text(id_b, 28)}")
    ax.set_xlabel("position on the latent path t (A → B)")
    ax.set_ylabel("Hamming distance (positions)")
    ax.set_title("decoded sequence vs the end sequences")
    ax.legend(loc="best", fontsize=7)
    ax_elbo.plot(t, designs.elbo, marker="o", color=CATEGORICAL[2])
    ax_elbo.set_xlabel("position on the latent path t (A → B)")
    ax_elbo.set_ylabel("ELBO (nats)")
    ax_elbo.set_title("ELBO of the decoded sequence")
    if title:
        fig.suptitle(title)
    return fig


def plot_interpolation(designs: SequenceSet, path: str | Path, title: str | None = None) -> Path:
    """:func:`draw_interpolation`, saved at ``path`` (atomically)."""
    return save_figure(draw_interpolation(designs=designs, title=title), path)


def plot_sample_evaluation(result: SampleSetEvaluation, out: str | Path) -> dict[str, Path]:
    """The figures of an evaluation folder (``seqvae evaluate-samples``): the statistics
    (:func:`plot_sample_statistics`), the logos of the natural set beside the designs
    (:func:`plot_sequence_logos`) and, for a synthetic family, the energies (:func:`plot_energies`).

    Returns
    -------
    dict
        ``statistics``, ``logos`` and (with energies) ``energies``: the paths written in ``out``.
    """
    out = Path(out)
    natural, generated = f"natural: {result.reference_name}", f"generated: {result.design_name}"
    paths = {
        "statistics": plot_sample_statistics(result.evaluation, out / STATISTICS_PNG, title=result.title)
    }
    paths["logos"] = plot_sequence_logos(
        {natural: result.reference.codes, generated: result.designs.codes},
        result.designs.alphabet,
        out / LOGOS_PNG,
        weights={natural: result.reference_weights},
        position_labels=result.numbering,
    )
    if result.evaluation.energies is not None:
        paths["energies"] = plot_energies(result.evaluation, out / ENERGIES_PNG, title=result.title)
    return paths


def plot_design_figures(
    designs: SequenceSet, fasta_path: str | Path, figure: str | Path | None = None
) -> dict[str, Path]:
    """The figures ``seqvae generate`` draws beside a sequence set written to ``fasta_path``: for
    an interpolation, :func:`plot_interpolation` at ``figure`` (default: the FASTA's ``.png``);
    nothing for other sets, nor for a baseline's samples.

    Returns
    -------
    dict
        ``figure``: the path written, when one was.
    """
    if "t" not in designs.extra:
        return {}
    target = Path(figure) if figure is not None else sequence_set_files(fasta_path)["figure"]
    run_name = Path(str(designs.metadata.get("run", ""))).name
    return {"figure": plot_interpolation(designs, target, title=f"latent interpolation, {run_name}")}


def draw_energies(
    evaluation: SampleEvaluation, title: str | None = None, *, fig: Figure | SubFigure | None = None
) -> Figure | SubFigure:
    """Energy histograms of designs and reference under a synthetic family's known energy, and,
    when patterns were given, how many designs reach each pattern (missed patterns in red).

    Returns the figure drawn on: a new one, or ``fig`` (a figure or subfigure to draw into).
    """
    energies = evaluation.energies
    if energies is None:
        raise ValueError("the evaluation has no energies (evaluate_samples(energy_fn=...))")
    coverage = evaluation.coverage
    fig, axes = figure_axes(fig, 1, 2 if coverage is not None else 1, width=4.6, height=3.4)
    ax = axes[0, 0]
    design_e, reference_e = energies["design_energies"], energies["reference_energies"]
    bins = np.histogram_bin_edges(np.concatenate([design_e, reference_e]), bins=40)
    ax.hist(reference_e, bins=bins, density=True, histtype="step", lw=1.8, label="reference (true samples)")
    ax.hist(design_e, bins=bins, density=True, histtype="step", lw=1.8, label="designs")
    ax.set_xlabel("energy E(S) (family's units; lower = more probable)")
    ax.set_ylabel("density")
    ax.set_title(f"energies: KS = {energies['ks_statistic']:.3f}")
    ax.legend()
    if coverage is not None:
        ax = axes[0, 1]
        counts = coverage.designs_per_pattern
        colors = ["#0072B2" if reached else "#D55E00" for reached in coverage.reached]
        ax.bar(np.arange(1, len(counts) + 1), counts, color=colors)
        for index in coverage.missed:  # a missed pattern has no bar: mark it
            ax.annotate(
                "missed",
                (index + 1, 0),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                color="#D55E00",
                rotation=90,
            )
        ax.set_xlabel("pattern")
        ax.set_ylabel(f"designs with identity ≥ {coverage.threshold:g}")
        ax.set_xticks(np.arange(1, len(counts) + 1))
        ax.set_title(
            f"coverage {coverage.fraction:.2f} ({int(coverage.reached.sum())} of {len(counts)}; red: missed)"
        )
    if title:
        fig.suptitle(title)
    return fig


def plot_energies(evaluation: SampleEvaluation, path: str | Path, title: str | None = None) -> Path:
    """:func:`draw_energies`, saved at ``path`` (atomically)."""
    return save_figure(draw_energies(evaluation=evaluation, title=title), path)
