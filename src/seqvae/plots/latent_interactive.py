"""Interactive views of the latent space: a self-contained plotly HTML (the optional
``interactive`` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.analysis.phenotypes import OTHER_LABEL, top_categories
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open
from seqvae.plots.style import MISSING_COLOR, OTHER_COLOR, categorical_colors


def require_plotly():
    """plotly's ``graph_objects``, or an :class:`InputError` saying how to install it."""
    try:
        import plotly.graph_objects as go  # optional: the `interactive` extra
    except ImportError:
        raise InputError(
            "interactive HTML needs plotly: pip install 'seqvae[interactive]' (or pip install plotly)"
        ) from None
    return go


def write_interactive_html(report, column: str | None, path: str | Path) -> Path:
    """A self-contained HTML scatter of the latent means (plotly.js embedded, no network needed)
    with the sequence id and the phenotype on hover: 2-D for d = 2, 3-D (most-used dimensions)
    for d >= 3."""
    go = require_plotly()

    z = report.z_mean
    d = z.shape[1]
    dims = sorted(report.diagnostics.dimensions_by_use()[: min(3, d)])
    ids = np.asarray(report.ids, dtype=object)
    three_d = len(dims) == 3

    def trace(rows: np.ndarray, name: str, marker: dict, text: np.ndarray):
        coords = {axis: z[rows, k] for axis, k in zip("xyz", dims)}
        if len(dims) == 1:
            coords["y"] = np.zeros(int(rows.sum()))
        kwargs = {"mode": "markers", "name": name, "marker": marker, "text": text[rows], "hoverinfo": "text"}
        return go.Scatter3d(**coords, **kwargs) if three_d else go.Scattergl(**coords, **kwargs)

    traces = []
    size = 2.5 if three_d else 5
    everything = np.ones(len(ids), dtype=bool)
    if column is None:
        traces.append(trace(everything, "sequences", {"size": size, "color": "#0072B2"}, ids))
    else:
        values = report.columns[column].values
        kind = report.columns[column].kind
        if kind == "continuous":
            numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            measured = np.isfinite(numeric)
            text = np.array([f"{i}<br>{column} = {v:.4g}" for i, v in zip(ids, numeric)], dtype=object)
            traces.append(trace(~measured, "not measured", {"size": size, "color": MISSING_COLOR}, text))
            traces.append(
                trace(
                    measured,
                    column,
                    {
                        "size": size,
                        "color": numeric[measured],
                        "colorscale": "Viridis",
                        "colorbar": {"title": {"text": column}},
                        "showscale": True,
                    },
                    text,
                )
            )
        else:
            labels, order = top_categories(values)
            label_array = labels.to_numpy(dtype=object)
            measured = labels.notna().to_numpy()
            text = np.array([f"{i}<br>{column} = {v}" for i, v in zip(ids, values.astype(str))], dtype=object)
            traces.append(trace(~measured, "not measured", {"size": size, "color": MISSING_COLOR}, text))
            colors = categorical_colors(len(order))
            for category, color in zip(order, colors):
                rows = label_array == category
                color = OTHER_COLOR if category == OTHER_LABEL else color
                traces.append(
                    trace(rows, f"{category} ({int(rows.sum())})", {"size": size, "color": color}, text)
                )
    fig = go.Figure(traces)
    titles = [f"z{k} (posterior mean)" for k in dims]
    if three_d:
        fig.update_layout(
            scene={"xaxis_title": titles[0], "yaxis_title": titles[1], "zaxis_title": titles[2]}
        )
    else:
        fig.update_layout(xaxis_title=titles[0], yaxis_title=titles[1] if len(titles) > 1 else "")
    fig.update_layout(
        title=f"latent means{'' if column is None else ' coloured by ' + column} ({len(ids)} sequences)",
        template="simple_white",
        legend={"itemsizing": "constant"},
    )
    path = Path(path)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(fig.to_html(include_plotlyjs=True, full_html=True))
    return path
