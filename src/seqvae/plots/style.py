"""One plot style for every seqvae figure: readable fonts, colour-blind-safe colours, labelled
axes, tight layouts, atomic saving. Figures are drawn with the non-interactive Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from seqvae.io.atomic import atomic_path

# Okabe–Ito palette: distinguishable under the common colour-vision deficiencies.
CATEGORICAL = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]
SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"
MISSING_COLOR = "#c8c8c8"

_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=CATEGORICAL),
    "image.cmap": SEQUENTIAL_CMAP,
    "figure.constrained_layout.use": True,
}


def apply_style() -> None:
    """Set seqvae's matplotlib defaults (idempotent)."""
    plt.rcParams.update(_RC)


def new_figure(n_rows: int = 1, n_cols: int = 1, width: float = 4.5, height: float = 4.0, **kwargs):
    """A styled figure with a grid of axes; ``width``/``height`` are per panel, in inches."""
    apply_style()
    return plt.subplots(n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False, **kwargs)


def categorical_colors(n: int) -> list:
    """``n`` distinguishable colours: Okabe–Ito first, then tab20 for larger sets."""
    if n <= len(CATEGORICAL):
        return CATEGORICAL[:n]
    cmap = plt.get_cmap("tab20")
    return [cmap(i % 20) for i in range(n)]


def save_figure(fig, path: str | Path, close: bool = True) -> Path:
    """Save atomically (PNG, SVG or PDF by extension) and close the figure."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", bbox_inches="tight")
    if close:
        plt.close(fig)
    return path
