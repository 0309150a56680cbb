"""Report sections. Each provider looks for its results and returns a :class:`Section`, or
``None`` when they do not exist. A new analysis adds its section here, in ``PROVIDERS``."""

from __future__ import annotations

import json
import platform
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.compare import COMPARISON_FILE
from seqvae.analysis.contacts import CONTACTS_FILE
from seqvae.analysis.couplings import COUPLINGS_FILE, COUPLINGS_KIND, COUPLINGS_SUMMARY_FILE
from seqvae.analysis.label_models import learning_curve_table
from seqvae.analysis.labels import PREDICTOR_FILE
from seqvae.analysis.latent_design import DESIGN_SUMMARY_FILE, DESIGN_TABLE_FILE
from seqvae.analysis.latent_phenotype import PHENOTYPE_MAP_FILE, PhenotypeMap
from seqvae.analysis.latent_report import analyse_latent
from seqvae.analysis.sample_evaluation import EVALUATION_SUMMARY_FILE, PER_DESIGN_FILE
from seqvae.analysis.sca import SCA_FILE, SCA_SUMMARY_FILE
from seqvae.analysis.scoring import SINGLES_FIGURE_SUFFIX, SUMMARY_SUFFIX
from seqvae.errors import InputError
from seqvae.io.tables import read_table
from seqvae.plots import generation as G
from seqvae.plots import latent as L
from seqvae.plots import matrices as M
from seqvae.plots.design import draw_phenotype_map
from seqvae.plots.labels import draw_learning_curves
from seqvae.plots.latent import write_latent_report
from seqvae.plots.mutations import draw_score_scatter
from seqvae.plots.style import new_figure
from seqvae.report.document import Figure, Section, Table, Text
from seqvae.run import Run
from seqvae.training import run_directory as files
from seqvae.version import __version__


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
    group_columns: list[str] = field(default_factory=list)

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
    info, _ = files.read_registry(context.run.path)
    intro = (
        "The count matrix the model was trained on."
        if info.get("kind") == "counts"
        else "The alignment the model was trained on and what the filters removed."
    )
    section = Section("data", "Data", intro)
    rows = [
        ("sequences used", info.get("n_sequences")),
        ("N_eff (sum of sequence weights)", round(info.get("n_eff", 0.0), 2)),
        (
            "identity threshold θ for weights",
            "none (unweighted)" if info.get("theta") is None else info.get("theta"),
        ),
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
    elif info.get("kind") == "counts":
        library = info.get("library_size") or {}
        likelihood = str(info.get("likelihood", "")).replace("_", "-")
        rows = [  # every cell weighs 1: no sequence weights
            (
                "data",
                f"count matrix, {info.get('n_cells')} cells x {info.get('n_genes')} genes ({likelihood} likelihood)",
            ),
            ("model input", info.get("input")),
            (
                "library size (min / median / max)",
                " / ".join(f"{library.get(k, float('nan')):g}" for k in ("min", "median", "max")),
            ),
            ("cell metadata columns", ", ".join(info.get("metadata_columns") or []) or "none"),
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


def training_summary_text(summary: dict) -> str:
    """One paragraph on how training went and which weights the run holds, from summary.json."""
    status = summary.get("status")
    steps = summary.get("steps")
    if status == "finished":
        text = f"{steps} steps, stopped by {str(summary.get('stop_reason')).replace('_', ' ')}"
    elif status == "interrupted":
        text = f"Interrupted at step {steps} (seqvae resume continues it)"
    elif status == "failed":
        text = f"Failed at step {steps}" + (f": {summary['error']}" if summary.get("error") else "")
    else:
        text = f"Status {status!r} at step {steps}"
    if summary.get("train_time_s") is not None:
        text += f", {summary.get('train_time_s')} s"
    if summary.get("device"):
        text += f" on {summary.get('device')}"
    text += ". "
    kind, step = summary.get("weights"), summary.get("weights_step")
    if kind is None and "weights_step" not in summary:  # a run written before weights_step existed
        kind, step = summary.get("weights"), summary.get("best_step")
        if kind != "best validation ELBO":
            step = None
    best = summary.get("best_val_elbo")
    if kind == "best validation ELBO" and step is not None:
        text += f"The weights kept are those of the best validation ELBO (step {step}"
        text += f", {best:.3f})." if isinstance(best, int | float) else ")."
    elif kind is not None and step is not None:
        text += f"The weights kept are those of step {step} ({kind})."
    elif kind is not None:
        text += f"The weights kept: {kind}."
    else:
        text += "No weights have been saved."
    if best is None:
        text += " No validation ELBO was computed (no validation split)."
    return text


def training_section(context: ReportContext) -> Section | None:
    path = context.run.path / files.METRICS
    if not path.exists():
        return None
    metrics = files.read_metrics(path)
    if metrics.empty:
        return None
    summary = context.run.summary
    section = Section("training", "Training", training_summary_text(summary))
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


# Captions for the figures that ``seqvae.plots.latent.write_latent_report`` draws, by file name.
LATENT_CAPTIONS = {
    L.LATENT_DENSITY_PNG: "Density of all sequences in the latent space (sequence-weighted): where the model "
    "places the family, and which regions are empty.",
    L.LATENT_DIMENSIONS_PNG: "Per-dimension use: variance of the latent means across sequences (active above the "
    "threshold line), mean posterior variance and KL per dimension, and the correlation between dimensions "
    "(redundancy).",
    L.PCA_COMPARISON_PNG: "The latent means against principal components of the weighted one-hot alignment: "
    "canonical correlations, and how much of each space the other predicts (R²).",
    L.PREDICTABILITY_PNG: "Cross-validated R² of each continuous phenotype from the latent means (linear and "
    "k-nearest-neighbour) beside the same number of principal components.",
    L.CLASSIFICATION_PNG: "k-NN classification accuracy of each categorical column from the latent means and "
    "from as many principal components.",
    L.LOCALISATION_PNG: "Permutation tests: how concentrated the top sequences of each phenotype (or each "
    "category) are in the latent space, against random sets of the same size.",
}


def latent_section(context: ReportContext) -> Section | None:
    run = context.run
    if not (run.path / files.DATA).exists():
        warnings.warn(
            f"{run.path}: no {files.DATA}/ folder (training sequences): the report has no latent-space maps",
            UserWarning,
            stacklevel=2,
        )
        return Section(
            "latent",
            "Latent space",
            f"Not shown: the run directory has no {files.DATA}/ folder (the training sequences), so there "
            "is nothing to embed. Run `seqvae latent RUN ALIGNMENT` with the alignment and include its "
            "folder instead.",
        )
    columns = context.color_columns
    if context.phenotypes is not None and not columns:
        columns = [c for c in context.phenotypes.columns if c != context.phenotype_id_column][:3]
    report = analyse_latent(
        run,
        phenotypes=context.phenotypes,
        id_column=context.phenotype_id_column,
        color_columns=columns if context.phenotypes is not None else (),
        group_columns=context.group_columns if context.phenotypes is not None else (),
    )
    diagnostics = report.diagnostics
    section = Section(
        "latent",
        "Latent space",
        f"Each sequence placed at the mean of its approximate posterior q(z|x). {diagnostics.n_active} of "
        f"{len(diagnostics.table)} dimensions are active (variance of z_mean > {diagnostics.threshold}); "
        f"tr Cov(z_mean) = {diagnostics.trace_cov:.3g}.",
    )
    with tempfile.TemporaryDirectory() as folder:
        written = {path.stem: path for path in write_latent_report(report, folder)}
        for stem, path in written.items():
            if path.suffix != ".png":
                continue
            if stem.startswith("latent_") and path.name not in LATENT_CAPTIONS:
                caption = (
                    f"Latent means coloured by {stem[len('latent_') :]}: continuous values use a colour bar, "
                    "categories a legend; sequences without a value are grey, beneath."
                )
            elif stem.startswith("simpson_"):
                caption = (
                    "Simpson's-paradox check: the phenotype against its best latent predictor pooled over "
                    "all sequences and within each group; flagged groups disagree with the pooled relation "
                    "in strength or sign."
                )
            elif path.name == L.PCA_COMPARISON_PNG and run.kind == "counts":
                caption = (
                    "The latent means against principal components of log(1 + counts scaled to the "
                    "median library size): canonical correlations, and how much of each space the other "
                    "predicts (R²)."
                )
            else:
                caption = LATENT_CAPTIONS.get(path.name, stem.replace("_", " "))
            section.blocks.append(Figure(path.read_bytes(), caption, stem.replace("_", " ")))
    table = diagnostics.table.rename(
        columns={
            "mean": "mean of z_mean",
            "variance": "variance of z_mean",
            "posterior_variance": "mean posterior variance",
            "kl": "KL (nats)",
        }
    )
    section.blocks.append(
        Table(
            table,
            "Per-dimension diagnostics (Sachdeva et al.'s table): a dimension whose "
            "means barely vary carries no information (posterior collapse).",
        )
    )
    return section


# Figures written by seqvae's analysis commands, grouped by analysis, with what each shows.
# An included folder gets one section per analysis whose marker file it holds.
ANALYSIS_FIGURES: dict[str, dict[str, Any]] = {
    "generation": {
        "title": "Generated sequences",
        "intro": "Designs judged against held-out natural sequences (seqvae evaluate-samples).",
        "markers": [PER_DESIGN_FILE],
        "figures": {
            G.STATISTICS_PNG: "Single-site frequencies, pairwise connected correlations, higher-order r20 and "
            "Hamming distances: designs (y) against the natural target set (x); points on the diagonal mean "
            "the model reproduces that statistic.",
            G.LOGOS_PNG: "Sequence logos of the designs beside their natural counterpart.",
            G.ENERGIES_PNG: "Synthetic family: energies of the designs against true samples under the known "
            "energy function (lower = more probable), and how many designs reach each known pattern.",
        },
    },
    "sca": {
        "title": "Statistical Coupling Analysis",
        "intro": "SCA with pySCA's defaults on the same alignment.",
        "markers": [SCA_FILE],
        "figures": {
            M.SCA_MATRIX_PNG: "The SCA matrix (Frobenius norm of each 20 × 20 block of the weighted, conservation-"
            "scaled covariance).",
            M.SCA_SPECTRUM_PNG: "Eigenvalues of the SCA matrix against those of randomised alignments: modes "
            "above the random cut-off are significant.",
            M.SCA_ICS_PNG: "Positions in the space of the top independent components; sectors are the positions "
            "beyond the 95th percentile of each component.",
        },
    },
    "couplings": {
        "title": "What the VAE learned: pairwise couplings",
        "intro": "The VAE's L × L matrix: how much a mutation at position j changes the decoded log-probability "
        "at position i (root mean square over references and substitutions).",
        "markers": [COUPLINGS_FILE, COMPARISON_FILE, CONTACTS_FILE],
        "figures": {
            M.COUPLINGS_MATRIX_PNG: "The VAE coupling matrix.",
            M.COMPARE_HEATMAPS_PNG: "Two L × L matrices side by side on their common positions.",
            M.COMPARE_OVERLAPS_PNG: "Overlap |v_k · w_k| of the matrices' top eigenvectors, against the random "
            "expectation for unit vectors in L dimensions.",
            M.CONTACT_MAP_PNG: "Contacts in the structure (grey) with the matrix's strongest pairs overlaid.",
        },
    },
}


def mutations_section(context: ReportContext) -> Section | None:
    """Scored deep mutational scans (``seqvae score --score-col``) and all-singles heatmaps.

    The scatter is drawn from the scores CSV named in each evaluation summary, so the figure
    always shows the numbers on disk.
    """

    blocks: list[Figure | Table] = []
    rows = []
    for summary_path in context.find(f"*{SUMMARY_SUFFIX}"):
        try:
            info = json.loads(summary_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        numbers = ("spearman", "ci_low", "ci_high")
        if not isinstance(info, dict) or not {"column", "scores_file", *numbers} <= info.keys():
            continue
        if any(info[key] is None for key in numbers):
            continue  # nothing to evaluate (fewer than three measured rows)
        if not all(isinstance(info[key], int | float) and not isinstance(info[key], bool) for key in numbers):
            raise InputError(f"{', '.join(numbers)} must be numbers", summary_path)
        scores_path = summary_path.parent / str(info["scores_file"])
        if not scores_path.exists():
            continue
        column = str(info["column"])
        table = read_table(scores_path, "cannot read the scores named in " + summary_path.name)
        missing = sorted({"score", column} - set(table.columns))
        if missing:
            raise InputError(f"no column {missing[0]!r} (named in {summary_path.name})", scores_path)
        predicted = pd.to_numeric(table["score"], errors="coerce").to_numpy()
        measured = pd.to_numeric(table[column], errors="coerce").to_numpy()
        fig = draw_score_scatter(
            predicted,
            measured,
            float(info["spearman"]),
            (float(info["ci_low"]), float(info["ci_high"])),
            measured_label=column,
            model_name=str(info.get("model", "model")),
        )
        blocks.append(
            Figure.from_matplotlib(
                fig,
                f"Predicted score of each mutant (x; higher = fitter than the wild type) against the measured "
                f"'{column}' (y) from {scores_path.name}. The black line is the median measurement per "
                "decile of the prediction: a rising line means the ranking is right across the range.",
                f"mutation scores vs {column}",
            )
        )
        rows.append(
            {
                "scores": f"{summary_path.parent.name}/{scores_path.name}",
                "model": info.get("model"),
                "measured column": column,
                "Spearman ρ": round(float(info["spearman"]), 4),
                "95% CI": f"{float(info['ci_low']):.3f}–{float(info['ci_high']):.3f}",
                "N scored": info.get("n_scored"),
                "N skipped": info.get("n_skipped"),
                "AUC": "" if info.get("auc") is None else round(float(info["auc"]), 4),
            }
        )
        structure = info.get("structure")
        if isinstance(structure, dict) and isinstance(structure.get("evaluation"), dict):
            rows[-1]["structure-aware ρ"] = round(float(structure["evaluation"]["spearman"]), 4)
            rows[-1]["structure covers"] = (
                f"{structure.get('covered_positions')} of {structure.get('focus_positions')} positions; "
                f"{structure.get('variants_without_covered_position')} variants uncovered"
            )
    for folder in context.include:
        for heatmap in sorted(folder.glob(f"*{SINGLES_FIGURE_SUFFIX}")):
            scores_path = heatmap.with_suffix(".csv")
            columns = (
                set(read_table(scores_path, "cannot read the single-mutant scores", nrows=0).columns)
                if scores_path.exists()
                else set()
            )
            if {"position", "residue", "score"} <= columns:
                strip = (
                    " The strip under it is the burial of each position in the structure given "
                    "(1 = buried; grey: not covered)."
                    if "burial" in columns
                    else ""
                )
                blocks.append(
                    Figure(
                        heatmap.read_bytes(),
                        "Every single substitution of the reference scored by the model: residues (rows) "
                        "by position (columns); blue = predicted deleterious, red = predicted fitter than "
                        f"the wild type (black dots) ({folder.name}/{heatmap.name}).{strip}",
                        "single-mutant heatmap",
                    )
                )
    if not blocks:
        return None
    section = Section(
        "mutations",
        "Mutation effects",
        "Zero-shot mutation scores: the model's log-likelihood of the mutant minus that of the wild type "
        "(for a VAE, E[ELBO(mutant)] − E[ELBO(wild type)]); higher = fitter.",
    )
    if rows:
        section.blocks.append(
            Table(pd.DataFrame(rows), "Agreement with each measured scan (bootstrap 95% interval).")
        )
    section.blocks.extend(blocks)
    return section


# the JSON summaries an analysis folder may hold, each shown as a table (one name may serve several)
SUMMARY_FILES = tuple(
    dict.fromkeys(
        (EVALUATION_SUMMARY_FILE, SCA_SUMMARY_FILE, COUPLINGS_SUMMARY_FILE, COMPARISON_FILE, CONTACTS_FILE)
    )
)


def analysis_sections(context: ReportContext) -> list[Section]:
    """One section per analysis found in the included folders (see ``ANALYSIS_FIGURES``)."""
    sections = []
    for key, spec in ANALYSIS_FIGURES.items():
        folders = [f for f in context.include if any(_holds(f, m) for m in spec["markers"])]
        if not folders:
            continue
        section = Section(f"analysis-{key}", str(spec["title"]), str(spec["intro"]))
        for folder in folders:
            for name, caption in dict(spec["figures"]).items():
                if (folder / name).exists():
                    section.blocks.append(
                        Figure((folder / name).read_bytes(), f"{caption} ({folder.name}/{name})", name)
                    )
            for summary_name in SUMMARY_FILES:
                summary = folder / summary_name
                if summary.exists():
                    flat = _flatten_numbers(json.loads(summary.read_text(encoding="utf-8")))
                    if flat:
                        table = pd.DataFrame(list(flat.items())[:40], columns=["quantity", "value"])
                        section.blocks.append(Table(table, f"{folder.name}/{summary_name}"))
        sections.append(section)
    return sections


def design_section(context: ReportContext) -> Section | None:
    """The phenotype map and the counts of each included ``seqvae design`` folder."""
    folders = [
        f for f in context.include if (f / DESIGN_SUMMARY_FILE).exists() and (f / PHENOTYPE_MAP_FILE).exists()
    ]
    if not folders:
        return None
    section = Section(
        "design",
        "Design from a phenotype",
        "A Gaussian process of the phenotype on the latent means of labelled natural sequences, "
        "and designs that climb it (mean − κ·sd) where the decoder is confident (ELBO no lower "
        "than a quantile of the naturals').",
    )
    for folder in folders:
        summary = json.loads((folder / DESIGN_SUMMARY_FILE).read_text(encoding="utf-8"))
        table = read_table(folder / DESIGN_TABLE_FILE, "cannot read the design table")
        plane = PhenotypeMap.load(folder / PHENOTYPE_MAP_FILE)
        section.blocks.append(
            Figure.from_matplotlib(
                draw_phenotype_map(plane, table),
                f"Predicted {plane.label} over the latent plane, natural sequences and designs "
                f"({folder.name}/{PHENOTYPE_MAP_FILE})",
                "phenotype map",
            )
        )
        cv, counts = summary["cross_validation"], summary["counts"]
        rows = {
            "labelled naturals": summary["n_labelled"],
            "cross-validated Spearman ρ": cv["spearman"],
            "cross-validated R²": cv["r2"],
            f"target: q{100 * summary['target_quantile']:g} of the measured naturals": summary["target"],
            f"ELBO threshold: q{100 * summary['elbo_quantile']:g} of the naturals'": summary[
                "elbo_threshold"
            ],
            "distinct decoded sequences": counts["candidates"],
            "passing the rules": counts["passing"],
            "designs": counts["designs"],
            "designs within 10 mutations of a natural": counts["within_10_mutations"],
        }
        section.blocks.append(
            Table(pd.DataFrame(list(rows.items()), columns=["quantity", "value"]), folder.name)
        )
    return section


def labels_section(context: ReportContext) -> Section | None:
    """Each included ``seqvae fit-labels`` folder: the learning curve of its labels (would more
    labels help?) and the cross-validated ρ of every candidate it weighed."""
    folders = [f for f in context.include if (f / PREDICTOR_FILE).exists()]
    if not folders:
        return None
    section = Section(
        "labels",
        "Learning from labels",
        "A predictor fitted on labels: for variants, the zero-shot scores of its models plus the "
        "variants' one-hot (Hsu et al. 2022), chosen by inner cross-validation; for whole sequences "
        "with the gp learner, a Gaussian process on the VAE's latent means. The learning curve "
        "refits it on a fraction of the labels and tests on the rest, split as it will be used.",
    )
    for folder in folders:
        predictor = json.loads((folder / PREDICTOR_FILE).read_text(encoding="utf-8"))
        cv = predictor["cv"]
        curve = learning_curve_table(
            predictor.get("learning_curve", []), predictor["settings"]["label_column"], cv["kind"]
        )
        if not curve.empty:
            section.blocks.append(
                Figure.from_matplotlib(
                    draw_learning_curves(curve),
                    f"Test Spearman ρ against the number of labels ({folder.name}/{PREDICTOR_FILE}; "
                    "median and interquartile range over draws)",
                    "learning curve",
                )
            )
        rows = [
            (name + (" (chosen)" if name == cv["chosen"] else ""), rho) for name, rho in cv["rho"].items()
        ]
        section.blocks.append(
            Table(
                pd.DataFrame(rows, columns=[f"candidate ({cv['kind']} folds, {cv['n']} labels)", "CV ρ"]),
                folder.name,
            )
        )
    return section


def _holds(folder: Path, marker: str) -> bool:
    """Whether ``folder`` holds an analysis' marker file. A Potts baseline's ``couplings.npz`` is
    not the VAE's: the file's ``kind`` tells them apart."""
    path = folder / marker
    if not path.exists():
        return False
    if marker == COUPLINGS_FILE:
        try:
            with np.load(path, allow_pickle=False) as data:
                return "kind" in data.files and str(data["kind"]) == COUPLINGS_KIND
        except (OSError, ValueError):
            return False
    return True


def _flatten_numbers(data, prefix: str = "") -> dict[str, float | str]:
    """Scalar entries of a nested JSON document, keyed by their dotted path."""
    flat: dict[str, float | str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            flat.update(_flatten_numbers(value, f"{prefix}{key}."))
    elif isinstance(data, str):
        # file paths are shown by name: the report is shared, the machine's folders are not its content
        flat[prefix.rstrip(".")] = Path(data).name if ("/" in data or "\\" in data) else data
    elif isinstance(data, int | float) and not isinstance(data, bool):
        flat[prefix.rstrip(".")] = data
    return flat


def config_section(context: ReportContext) -> Section | None:
    config = json.loads((context.run.path / files.CONFIG).read_text(encoding="utf-8"))
    versions = dict(context.run.summary.get("versions", {}))
    versions["report written with seqvae"] = __version__
    versions["platform"] = platform.platform()
    section = Section(
        "config",
        "Configuration and software",
        "The resolved configuration of the run "
        "(pass it back with `seqvae train --config`) and the software that produced it.",
    )
    section.blocks.append(
        Text(
            json.dumps(config, indent=2),
            preformatted=True,
            summary="resolved configuration (JSON): click to open",
        )
    )
    section.blocks.append(Table(pd.DataFrame(list(versions.items()), columns=["software", "version"])))
    return section


def collapse_section(context: ReportContext) -> Section | None:
    """A warning at the top of the page when training recorded no active latent dimension."""
    warning = context.run.collapse_warning
    if warning is None:
        return None
    return Section(
        "collapse",
        "Warning: posterior collapse",
        blocks=[Text(warning.removeprefix("warning: ").capitalize())],
    )


PROVIDERS: list[Callable[[ReportContext], Section | list[Section] | None]] = [
    collapse_section,
    data_section,
    training_section,
    latent_section,
    mutations_section,
    analysis_sections,
    design_section,
    labels_section,
    config_section,
]
