"""Design from a phenotype: climb a phenotype model on z where the decoder is confident.

``seqvae design RUN --labels pheno.csv --label-col RE_norm -n 200`` as one call
(:func:`design_from_phenotype`):

1. embed the run's training (natural) sequences and fit a
   :class:`~seqvae.analysis.latent_phenotype.LatentPhenotypeModel` (a Gaussian process) to the
   labelled ones; its cross-validated ρ says how far to trust it;
2. climb from the latent means of the ``starts`` best measured naturals along the gradient of the
   lower confidence bound mean − κ·sd, in steps of fixed length. The bound, not the mean, is
   climbed on purpose: away from the labelled sequences the sd grows, so the climb stays where
   the predictor has data instead of running off to where it merely extrapolates;
3. decode every point of every path (by default sampling each position from the decoder at
   temperature 1, as ``seqvae generate`` does; argmax decoding of a 2-D latent space gives only a
   few dozen distinct sequences along all the climbs), deduplicate, and keep a sequence only if it is
   new (no training sequence equals it), its ELBO is no lower than the ``elbo_quantile`` of the
   naturals' ELBOs (the decoder's trust region), and its predicted phenotype reaches the
   ``target_quantile`` of the measured naturals. The phenotype of a design is predicted at its
   own latent mean (where the encoder puts the decoded sequence, as for the naturals the model
   was fitted on), not at the point it was decoded from;
4. the ``n`` kept designs with the highest bound.

The result (:class:`PhenotypeDesign`) holds the designs as a
:class:`~seqvae.analysis.sequence_sets.SequenceSet` (``designs.fasta``, ``designs.csv``,
``designs.json``, the last with the cross-validation figures and the counts) and the
:class:`~seqvae.analysis.latent_phenotype.PhenotypeMap` (``phenotype_map.npz``; its figure,
``phenotype_map.png``, is drawn by :func:`seqvae.plots.design.plot_phenotype_map`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.capacity import nearest_sequences
from seqvae.analysis.latent_phenotype import (
    PHENOTYPE_MAP_FILE,
    CrossValidation,
    LatentPhenotypeModel,
    PhenotypeMap,
    cross_validate,
    labelled_latent,
    phenotype_map,
)
from seqvae.analysis.reconstruction import DECODINGS, decode_latents, sequence_elbo
from seqvae.analysis.sequence_sets import DESIGNS_FASTA, SequenceSet, numbered_ids, sequence_set_files
from seqvae.errors import ConfigError
from seqvae.io.output_dirs import DirectoryKind, claim_directory
from seqvae.options import Integer, Interval, OneOf, Optional, Options, Text, register

__all__ = [
    "DESIGN_DIRECTORY",
    "DESIGN_SUMMARY_FILE",
    "DESIGN_TABLE_FILE",
    "DesignOptions",
    "PhenotypeDesign",
    "design_files",
    "design_from_phenotype",
]

# the summary JSON (settings, cross-validation, counts) and the table of a design folder
DESIGN_SUMMARY_FILE = sequence_set_files(DESIGNS_FASTA)["settings"].name
DESIGN_TABLE_FILE = sequence_set_files(DESIGNS_FASTA)["table"].name
DESIGN_DIRECTORY = DirectoryKind(
    "seqvae design folder",
    markers=(DESIGNS_FASTA, PHENOTYPE_MAP_FILE),
    entries=("designs.*", "phenotype_map.*"),
)


def design_files(out: str | Path) -> dict[str, Path]:
    """The files of a design folder: ``fasta``, ``table``, ``settings`` (the summary JSON),
    ``map`` (the map's data) and ``figure`` (the map's PNG)."""
    out = Path(out)
    files = sequence_set_files(out / DESIGNS_FASTA)
    return {
        "fasta": files["fasta"],
        "table": files["table"],
        "settings": files["settings"],
        "map": out / PHENOTYPE_MAP_FILE,
        "figure": (out / PHENOTYPE_MAP_FILE).with_suffix(".png"),
    }


@register
@dataclass
class DesignOptions(Options):
    """How to design from a phenotype (``seqvae design``'s options).

    Attributes
    ----------
    label_col
        The phenotype column to model (numeric).
    id_col
        The table's column of sequence ids (FASTA ids of the training sequences).
    n
        Designs wanted (fewer are returned when fewer pass the rules).
    folds
        Cross-validation folds for the predictor's ρ.
    kappa
        The climbed bound is mean − kappa·sd (0: the mean).
    elbo_quantile
        A design's ELBO must reach this quantile of the naturals' ELBOs.
    target_quantile
        A design's predicted phenotype must reach this quantile of the measured naturals'.
    starts
        Climbs start from the latent means of this many best measured naturals.
    steps, step_size
        Steps per climb and their length, in units of the naturals' latent sd.
    max_points
        The predictor is conditioned on at most this many labelled sequences (exact GP: n³).
    resolution
        Grid points per axis of the phenotype map.
    decoding, temperature
        ``sample`` (each position from softmax(log p / temperature)) or ``argmax``.
    elbo_samples
        z draws per sequence for its ELBO.
    seed
        Seeds the folds, the predictor's subsets, the decoding and the ELBO estimates.
    """

    label_col: str | None = None
    id_col: str = "id"
    n: int = 200
    folds: int = 5
    kappa: float = 1.0
    elbo_quantile: float = 0.05
    target_quantile: float = 0.9
    starts: int = 100
    steps: int = 200
    step_size: float = 0.02
    max_points: int = 2000
    resolution: int = 80
    decoding: str = "sample"
    temperature: float = 1.0
    elbo_samples: int = 8
    seed: int = 0

    section: ClassVar[str] = "design"
    constraints: ClassVar[dict] = {
        "label_col": Optional(Text()),
        "id_col": Text(),
        "n": Integer(1),
        "folds": Integer(2),
        "kappa": Interval(0.0),
        "elbo_quantile": Interval(0.0, 1.0),
        "target_quantile": Interval(0.0, 1.0),
        "starts": Integer(1),
        "steps": Integer(1),
        "step_size": Interval(0.0, closed="neither"),
        "max_points": Integer(10),
        "resolution": Integer(10, 1000),
        "decoding": OneOf(DECODINGS),
        "temperature": Interval(0.0, closed="neither"),
        "elbo_samples": Integer(1),
        "seed": Integer(),
    }

    def validate(self) -> DesignOptions:
        """Check every field, and that a label column is named."""
        self.check()
        if self.label_col is None:
            raise ConfigError(
                "design.label_col: name the phenotype column to design for", field="design.label_col"
            )
        return self


@dataclass
class PhenotypeDesign:
    """Designs from a phenotype, with the predictor's figures and map.

    Attributes
    ----------
    designs
        The designs (:class:`~seqvae.analysis.sequence_sets.SequenceSet`); its table has, besides
        the sequence, the decoded point ``z_*``, the ELBO and the nearest natural, the design's
        latent mean ``z_mean_*``, ``predicted`` ± ``predicted_sd`` there, and the climbed
        ``bound``. Its metadata (``designs.json``) holds the settings, the cross-validation and
        the counts.
    cross_validation
        The predictor's held-out figures on the labelled naturals.
    map
        The predicted phenotype over the latent plane.
    model
        The fitted predictor.
    """

    designs: SequenceSet
    cross_validation: CrossValidation
    map: PhenotypeMap
    model: LatentPhenotypeModel

    @property
    def summary(self) -> dict[str, Any]:
        return self.designs.metadata

    def save(self, out: str | Path, overwrite: bool = False) -> dict[str, Path]:
        """Write the designs (FASTA, CSV, JSON) and the map's data into the folder ``out``
        (claimed: created, or with ``overwrite`` emptied if it is a design folder), atomically.

        Returns the paths by :func:`design_files`' keys (without ``figure``)."""
        paths = design_files(out)
        del paths["figure"]
        with claim_directory(out, DESIGN_DIRECTORY, overwrite):
            try:
                self.designs.save(paths["fasta"])
                self.map.save(paths["map"])
            except BaseException:  # all files or none (a folder created here is removed again)
                for path in paths.values():
                    path.unlink(missing_ok=True)
                raise
        return paths

    def describe(self) -> str:
        """A few lines: the predictor's ρ, the rules and how many designs passed them."""
        s = self.summary
        cv, counts = s["cross_validation"], s["counts"]
        lines = [
            f"predictor of {s['label']} on z: cross-validated Spearman ρ = {cv['spearman']:.3f}, "
            f"R² = {cv['r2']:.3f} ({cv['folds']} folds, {s['n_labelled']} labelled naturals)",
            f"{counts['candidates']} distinct decoded sequences on {s['starts']} climbs; "
            f"{counts['new']} new, {counts['trusted']} of them with ELBO >= {s['elbo_threshold']:.2f} "
            f"(q{100 * s['elbo_quantile']:g} of the naturals), {counts['passing']} of those predicted "
            f">= {s['target']:.3g} (q{100 * s['target_quantile']:g} of the measured naturals)",
        ]
        hamming = self.designs.nearest_hamming
        if len(self.designs) and hamming is not None:
            predicted = self.designs.extra["predicted"]
            lines.append(
                f"{len(self.designs)} designs: predicted {s['label']} {np.min(predicted):.3g} to "
                f"{np.max(predicted):.3g}, median Hamming to the nearest natural {np.median(hamming):.0f}, "
                f"{int((hamming <= 10).sum())} within 10 mutations"
            )
        if len(self.designs) < s["n"]:
            lines.append(f"warning: {len(self.designs)} of the {s['n']} designs asked for passed the rules")
        return "\n".join(lines)


def _climb(
    model: LatentPhenotypeModel, starts: np.ndarray, steps: int, step: float, kappa: float
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-gradient ascent of mean − κ·sd from each start; every visited point
    ``[(steps + 1) · m, d]`` (step by step) and its bound."""
    z = torch.as_tensor(starts, dtype=torch.float64).clone()
    points, bounds = [], []
    for _ in range(steps + 1):
        z.requires_grad_(True)
        mean, sd = model.posterior(z)
        bound = mean - kappa * sd
        (gradient,) = torch.autograd.grad(bound.sum(), z)
        points.append(z.detach().numpy().copy())
        bounds.append(bound.detach().numpy())
        norm = gradient.norm(dim=1, keepdim=True).clamp_min(1e-12)
        z = (z.detach() + step * gradient / norm).detach()
    return np.concatenate(points), np.concatenate(bounds)


def design_from_phenotype(
    run,
    labels: str | Path | pd.DataFrame,
    options: DesignOptions | None = None,
    log: Callable[[str], None] | None = None,
    **values: Any,
) -> PhenotypeDesign:
    """Fit a phenotype model on z and propose designs that climb it (module docstring).

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` trained on sequences.
    labels
        A phenotype table (CSV/TSV path or DataFrame) keyed by ``options.id_col``.
    options
        :class:`DesignOptions`; keywords (``label_col="RE_norm"``) set or override its fields.
    log
        Called with a line per stage.

    Raises
    ------
    ConfigError
        A bad option, an unknown, non-numeric, empty or constant label column, fewer labelled
        sequences than folds (each naming its field, ``design.label_col`` …).
    InputError
        A run not on sequences, an unreadable table, labels matching no sequence id.
    """
    options = (replace(options, **values) if options is not None else DesignOptions(**values)).validate()
    log = log or (lambda message: None)
    run.sequence_registry()  # refuses a run on other data
    if options.label_col is None:  # validate() refuses it; this tells the type checker
        raise ConfigError(
            "design.label_col: name the phenotype column to design for", field="design.label_col"
        )
    data = labelled_latent(run, labels, options.label_col, options.id_col, min_labelled=options.folds)
    labelled = data.labelled
    z_labelled, y = data.z[labelled], data.labels[labelled]
    fit_options = {"max_points": options.max_points}
    log(f"cross-validating the predictor on {labelled.sum()} labelled naturals ({options.folds} folds)")
    cv = cross_validate(z_labelled, y, options.folds, options.seed, **fit_options)
    model = LatentPhenotypeModel.fit(z_labelled, y, seed=options.seed, **fit_options)
    log("drawing the phenotype map")
    plane = phenotype_map(model, data, options.resolution)

    log(f"climbing from the {min(options.starts, len(y))} best measured naturals")
    best = np.argsort(-y, kind="stable")[: options.starts]
    step = options.step_size * float(np.mean(data.z.std(axis=0)))
    points, bounds = _climb(model, z_labelled[best], options.steps, step, options.kappa)

    generator = torch.Generator().manual_seed(options.seed)
    codes = decode_latents(
        run.model, points.astype(np.float32), options.decoding, options.temperature, generator
    )
    # one row per distinct sequence: the visited point with the highest bound that decodes to it
    order = np.argsort(-bounds, kind="stable")
    _, first = np.unique(codes[order], axis=0, return_index=True)
    rows = np.sort(order[first])
    codes, points = codes[rows], points[rows]

    log(f"scoring {len(rows)} distinct decoded sequences")
    natural_codes = run.training_data()[0]
    natural_elbo = sequence_elbo(run.model, natural_codes, options.elbo_samples, options.seed)
    elbo_threshold = float(np.quantile(natural_elbo, options.elbo_quantile))
    target = float(np.quantile(y, options.target_quantile))
    elbo = sequence_elbo(run.model, codes, options.elbo_samples, options.seed)
    z_mean = run.encode(codes)[0].astype(np.float64)
    predicted, predicted_sd = model.predict(z_mean)
    bound = predicted - options.kappa * predicted_sd
    nearest, hamming = nearest_sequences(codes, natural_codes, run.model.config.alphabet_size)
    new = hamming > 0
    trusted = new & (elbo >= elbo_threshold)
    passing = trusted & (predicted >= target)
    chosen = np.flatnonzero(passing)
    chosen = chosen[np.argsort(-bound[chosen], kind="stable")][: options.n]

    extra: dict[str, np.ndarray] = {f"z_mean_{k}": z_mean[chosen, k] for k in range(z_mean.shape[1])}
    extra.update(predicted=predicted[chosen], predicted_sd=predicted_sd[chosen], bound=bound[chosen])
    metadata = {
        "run": str(run.path),
        "label": data.label,
        **options.to_dict(),
        "n_labelled": int(labelled.sum()),
        "n_naturals": len(data.ids),
        "cross_validation": cv.to_dict(),
        "predictor": model.to_dict(),
        "elbo_threshold": elbo_threshold,
        "natural_elbo_range": [float(natural_elbo.min()), float(natural_elbo.max())],
        "target": target,
        "measured_max": float(y.max()),
        "elbo_samples": options.elbo_samples,
        "model_gaps": bool(run.model.config.model_gaps),
        "counts": {
            "visited": int(len(bounds)),
            "candidates": int(len(rows)),
            "new": int(new.sum()),
            "trusted": int(trusted.sum()),
            "passing": int(passing.sum()),
            "designs": int(len(chosen)),
            "within_10_mutations": int((hamming[chosen] <= 10).sum()),
        },
    }
    designs = SequenceSet(
        ids=numbered_ids("design", len(chosen)),
        codes=codes[chosen],
        score=elbo[chosen],
        alphabet=run.registry.alphabet,
        score_name="elbo",
        z=points[chosen].astype(np.float32),
        nearest_id=[data.ids[i] for i in nearest[chosen]],
        nearest_hamming=hamming[chosen],
        extra=extra,
        metadata=metadata,
    )
    return PhenotypeDesign(designs=designs, cross_validation=cv, map=plane, model=model)
