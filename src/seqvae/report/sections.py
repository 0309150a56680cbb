"""Report sections. Each provider looks for its results and returns a :class:`Section`, or
``None`` when they do not exist. A new analysis adds its section here, in ``PROVIDERS``."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.plots.style import new_figure
from seqvae.report.document import Figure, Section, Table, Text
from seqvae.run import Run
from seqvae.training import run_directory as files


@dataclass
class ReportContext:
    """What the section providers can read.

    Attributes
    ----------
    run
        The loaded run.
    include
        Extra analysis output folders (from ``seqvae latent``, ``score``, ``sca``, …).
    phenotypes
        An optional phenotype table joined by sequence id.
    """

    run: Run
    include: list[Path] = field(default_factory=list)
    phenotypes: pd.DataFrame | None = None
    phenotype_id_column: str = "id"
    color_columns: list[str] = field(default_factory=list)

    def find(self, pattern: str) -> list[Path]:
        """Files matching ``pattern`` in the run directory and every included folder."""
        found: list[Path] = []
        for folder in [self.run.path, *self.include]:
            found.extend(sorted(Path(folder).glob(pattern)))
        return found


def data_section(context: ReportContext) -> Section | None:
    registry_path = context.run.path / files.REGISTRY
    if not registry_path.exists():
        return None
    info = json.loads(registry_path.read_text(encoding="utf-8"))
    section = Section("data", "Data", "The alignment the model was trained on and what the filters removed.")
    rows = [
        ("sequences used", info.get("n_sequences")),
        ("N_eff (sum of sequence weights)", round(info.get("n_eff", 0.0), 2)),
        ("identity threshold θ for weights", info.get("theta")),
    ]
    registry = info.get("registry")
    if registry:
        numbering = [n for n in registry["numbering"] if n >= 0]
        rows += [
            ("alphabet", registry["alphabet"]["name"] + f" ({registry['alphabet']['residues']} + gap)"),
            ("focus columns L", len(registry["focus_columns"])),
            ("reference", registry["reference_id"]),
            ("reference numbering", f"{min(numbering)}–{max(numbering)}" if numbering else "none"),
        ]
    else:
        rows.append(("data", "continuous vectors (Gaussian likelihood)"))
    section.blocks.append(Table(pd.DataFrame(rows, columns=["quantity", "value"]).astype(str)))
    report = info.get("filter_report") or {}
    if report:
        table = pd.DataFrame(
            {"filter step": [k.replace("_", " ") for k in report], "count": list(report.values())}
        )
        section.blocks.append(Table(table, "Filters, in the order they were applied."))
    return section


def training_section(context: ReportContext) -> Section | None:
    path = context.run.path / files.METRICS
    if not path.exists():
        return None
    metrics = pd.read_csv(path)
    if metrics.empty:
        return None
    summary = context.run.summary
    section = Section(
        "training",
        "Training",
        f"{summary.get('steps')} steps, stopped by {summary.get('stop_reason')}, "
        f"{summary.get('train_time_s')} s on {summary.get('device')}. The weights kept are those of the best "
        f"validation ELBO (step {summary.get('best_step')}).",
    )
    terms = [
        c
        for c in ("reconstruction", "kl", "mmd", "weight_penalty")
        if c in metrics and metrics[c].abs().sum() > 0
    ]
    fig, axes = new_figure(1, 2, width=5.0, height=3.6)
    for term in terms:
        axes[0, 0].plot(metrics["step"], metrics[term], label=term.replace("_", " "))
    axes[0, 0].set_xlabel("training step")
    axes[0, 0].set_ylabel("loss term (nats per sequence)")
    axes[0, 0].set_yscale("symlog")
    axes[0, 0].set_title("loss terms (training minibatches)")
    axes[0, 0].legend()
    val = pd.to_numeric(metrics.get("val_elbo"), errors="coerce")
    if val is not None and val.notna().any():
        axes[0, 1].plot(metrics["step"][val.notna()], val.dropna(), marker="o", ms=3, label="validation ELBO")
    axes[0, 1].plot(metrics["step"], metrics["elbo"], alpha=0.5, label="training ELBO (minibatch)")
    if summary.get("best_step"):
        axes[0, 1].axvline(summary["best_step"], color="grey", ls="--", lw=1, label="best (kept)")
    axes[0, 1].set_xlabel("training step")
    axes[0, 1].set_ylabel("ELBO (nats per sequence)")
    axes[0, 1].set_title("evidence lower bound")
    axes[0, 1].legend()
    section.blocks.append(
        Figure.from_matplotlib(
            fig,
            "Left: each term of the training loss per logging step (symmetric log scale). Right: ELBO on "
            "training minibatches and on the held-out validation split; higher is better, and a validation "
            "curve that falls while the training curve rises means over-fitting.",
            "training curves",
        )
    )
    return section


def latent_section(context: ReportContext) -> Section | None:
    run = context.run
    if run.registry is None and not (run.path / files.DATA).exists():
        return None
    table = run.embed()
    means = table.filter(like="z_mean_").to_numpy()
    weights = table["weight"].to_numpy()
    section = Section(
        "latent",
        "Latent space",
        "Each training sequence placed at the mean of its approximate posterior q(z|x).",
    )
    variance = means.var(axis=0)
    order = np.argsort(variance)[::-1]
    dims = order[:2] if means.shape[1] >= 2 else np.array([0, 0])
    colour_columns = context.color_columns or (
        [c for c in context.phenotypes.columns if c != context.phenotype_id_column][:3]
        if context.phenotypes is not None
        else []
    )
    panels: list[tuple[str, np.ndarray | None]] = [("all sequences (colour: sequence weight)", None)]
    if context.phenotypes is not None:
        joined = table[["id"]].merge(
            context.phenotypes, how="left", left_on="id", right_on=context.phenotype_id_column
        )
        for column in colour_columns:
            if column in joined:
                panels.append((column, joined[column].to_numpy()))
    fig, axes = new_figure(1, len(panels), width=4.6, height=4.2)
    for ax, (title, values) in zip(axes[0], panels):
        _scatter(ax, means[:, dims[0]], means[:, dims[1]], weights if values is None else values, title)
        ax.set_xlabel(f"z{dims[0] + 1} (latent mean)")
        ax.set_ylabel(f"z{dims[1] + 1} (latent mean)")
    section.blocks.append(
        Figure.from_matplotlib(
            fig,
            "Latent means of the training sequences on the two most-used dimensions. Continuous values use a "
            "colour bar, categories a legend; sequences without a value are grey, beneath.",
            "latent map",
        )
    )
    diagnostics = pd.DataFrame(
        {
            "dimension": [f"z{k + 1}" for k in range(means.shape[1])],
            "mean of z_mean": means.mean(axis=0),
            "variance of z_mean": variance,
            "active (variance > 0.1)": variance > 0.1,
        }
    )
    section.blocks.append(
        Table(
            diagnostics,
            "Per-dimension use: a dimension whose means barely vary "
            "carries no information (posterior collapse).",
        )
    )
    return section


def _scatter(ax, x: np.ndarray, y: np.ndarray, values: np.ndarray, title: str) -> None:
    from seqvae.plots.style import MISSING_COLOR, SEQUENTIAL_CMAP, categorical_colors

    series = pd.Series(values)
    numeric = pd.to_numeric(series, errors="coerce")
    measured = series.notna().to_numpy()
    ax.scatter(x[~measured], y[~measured], s=4, c=MISSING_COLOR, label="not measured", rasterized=True)
    if numeric[measured].notna().all() and series[measured].nunique() > 12:
        # draw high values last so that a localised high-phenotype region stays visible
        order = np.flatnonzero(measured)[np.argsort(numeric[measured].to_numpy())]
        points = ax.scatter(
            x[order], y[order], s=5, c=numeric.to_numpy()[order], cmap=SEQUENTIAL_CMAP, rasterized=True
        )
        ax.figure.colorbar(points, ax=ax, shrink=0.8, label=title)
    else:
        categories = series[measured].astype(str).value_counts().index[:8]
        for colour, category in zip(categorical_colors(len(categories)), categories):
            chosen = measured & (series.astype(str) == category).to_numpy()
            ax.scatter(x[chosen], y[chosen], s=5, color=colour, label=category, rasterized=True)
        ax.legend(markerscale=3, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title)


def config_section(context: ReportContext) -> Section | None:
    import seqvae

    config = json.loads((context.run.path / files.CONFIG).read_text(encoding="utf-8"))
    versions = dict(context.run.summary.get("versions", {}))
    versions["report written with seqvae"] = seqvae.__version__
    versions["platform"] = platform.platform()
    section = Section(
        "config",
        "Configuration and software",
        "The resolved configuration of the run "
        "(pass it back with `seqvae train --config`) and the software that produced it.",
    )
    section.blocks.append(Text(json.dumps(config, indent=2), preformatted=True))
    section.blocks.append(Table(pd.DataFrame(list(versions.items()), columns=["software", "version"])))
    return section


PROVIDERS: list[Callable[[ReportContext], Section | None]] = [
    data_section,
    training_section,
    latent_section,
    config_section,
]
