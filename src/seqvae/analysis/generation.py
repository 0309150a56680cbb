"""Generating sequences from a trained run: latent regions, decoding, interpolation, and the
model-side checks (ELBO of designs, reconstruction accuracy and stability).

z comes from a :class:`LatentRegion` — the prior N(0, I), a Gaussian fitted to the latent
means of chosen training sequences, a ball around one sequence or explicit coordinates — or
from a straight line between two sequences' latent means. Each z is decoded either by argmax
or by sampling every position from the decoder's categorical at a temperature.

Gaps: a run trained with ``model_gaps=True`` (the explore preset) has the gap as a decoder
state, so designs contain gaps wherever the decoder puts them. A run trained with
``model_gaps=False`` (the fitness preset, DeepSequence's convention) predicts residues only:
its designs never contain a gap — every column gets a residue — and its ELBO ignores gap
positions. Compare such designs to natural sequences with gaps excluded from the statistics
(``include_gaps=False`` in :func:`seqvae.analysis.capacity.evaluate_samples`).

Randomness: one seed. z draws and per-position sampling use a ``torch.Generator`` seeded with
``seed``; ELBO estimates use a separate generator seeded with ``seed + 1``, so the number of
ELBO samples never changes the designs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.capacity import nearest_sequences
from seqvae.analysis.reconstruction import (
    model_device,
    predictable_positions,
    redecode,
)
from seqvae.data.alignment import Alignment
from seqvae.data.alphabet import Alphabet
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import atomic_open, write_json
from seqvae.models.potts import PottsModel
from seqvae.models.site_independent import SiteIndependentModel
from seqvae.models.vae import VAE
from seqvae.options import Boolean, Check, Constraint, Integer, Interval, Optional, Options, Text, register

DECODINGS = ("sample", "argmax")

# The files of a generated set are named after its FASTA: designs.fasta, designs.csv (one row per
# sequence), designs.json (the settings) and, for an interpolation, designs.png (the figure drawn
# by seqvae.plots.generation.plot_design_figures).
DESIGNS_FASTA = "designs.fasta"  # `seqvae generate`'s default --out
TABLE_SUFFIX = ".csv"
SETTINGS_SUFFIX = ".json"
FIGURE_SUFFIX = ".png"


def sequence_set_files(fasta_path: str | Path) -> dict[str, Path]:
    """The files of a generated set written to ``fasta_path``: ``fasta``, ``table`` (CSV),
    ``settings`` (JSON) and ``figure`` (PNG, interpolations only), all beside the FASTA."""
    fasta_path = Path(fasta_path)
    return {
        "fasta": fasta_path,
        "table": fasta_path.with_suffix(TABLE_SUFFIX),
        "settings": fasta_path.with_suffix(SETTINGS_SUFFIX),
        "figure": fasta_path.with_suffix(FIGURE_SUFFIX),
    }


# -- latent regions ----------------------------------------------------------------------------
@dataclass
class LatentRegion:
    """Where to draw z from.

    Attributes
    ----------
    kind
        ``prior`` (N(0, I)), ``gaussian`` (N(center, covariance)) or ``ball`` (uniform in the
        ball of ``radius`` around ``center``; radius 0 is the single point ``center``).
    center
        ``[d]`` mean or centre.
    covariance
        ``[d, d]`` for ``gaussian`` (may be singular: it is sampled through its symmetric
        square root, not a Cholesky factor).
    radius
        Ball radius for ``ball``.
    description
        How the region was chosen (written into the designs' metadata).
    """

    kind: str
    center: np.ndarray
    covariance: np.ndarray | None = None
    radius: float | None = None
    description: str = ""

    @property
    def latent_dim(self) -> int:
        return int(self.center.shape[0])

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws of z, ``float32 [n, d]``."""
        d = self.latent_dim
        noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
        center = torch.as_tensor(self.center, dtype=torch.float64)
        if self.kind == "prior":
            z = noise
        elif self.kind == "gaussian":
            assert self.covariance is not None
            values, vectors = np.linalg.eigh(np.asarray(self.covariance, dtype=np.float64))
            root = vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
            z = center + noise @ torch.as_tensor(root)
        elif self.kind == "ball":
            radius = float(self.radius or 0.0)
            direction = noise / noise.norm(dim=1, keepdim=True).clamp_min(1e-12)
            # uniform in the ball: radius scales as U^(1/d)
            u = torch.rand(n, 1, generator=generator, dtype=torch.float64)
            z = center + direction * radius * u.pow(1.0 / d)
        else:
            raise InputError(f"unknown region kind {self.kind!r}")
        return z.to(torch.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "center": [float(v) for v in self.center],
            "covariance": None if self.covariance is None else np.asarray(self.covariance).tolist(),
            "radius": self.radius,
            "description": self.description,
        }


def prior_region(latent_dim: int) -> LatentRegion:
    """The prior N(0, I)."""
    return LatentRegion("prior", np.zeros(latent_dim), np.eye(latent_dim), description="prior N(0, I)")


def _training_view(run) -> tuple[np.ndarray, np.ndarray, list[str]]:
    codes, weights, ids, _ = run.training_data()
    return codes, weights, ids


def select_training_rows(ids: list[str], selection: Any, field: str = "generation.region_ids") -> np.ndarray:
    """Row indices of a selection among ``ids``.

    ``selection`` is a list of ids, or a boolean mask (or array of booleans) over ``ids``.
    Unknown ids, a mask of the wrong length, or a selection matching no sequence raise
    :class:`~seqvae.errors.ConfigError` naming the option ``field`` that gave the selection.
    """
    is_mask = (isinstance(selection, np.ndarray) and selection.dtype == bool) or (
        isinstance(selection, list | tuple)
        and len(selection) > 0
        and all(isinstance(v, bool | np.bool_) for v in selection)
    )
    if is_mask:
        mask = np.asarray(selection, dtype=bool)
        if mask.shape != (len(ids),):
            raise ConfigError(
                f"boolean selection has {mask.size} entries but the run has {len(ids)} training sequences",
                field=field,
            )
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            raise ConfigError("the region selection matches no training sequence", field=field)
        return rows
    wanted = [str(v).strip() for v in selection if str(v).strip()]
    if not wanted:
        raise ConfigError("the region selection matches no training sequence (no ids given)", field=field)
    position = {name: i for i, name in enumerate(ids)}
    missing = [name for name in wanted if name not in position]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        found = len(wanted) - len(missing)
        what = (
            "matches no training sequence"
            if found == 0
            else f"has ids not in the run's training set ({found} found)"
        )
        raise ConfigError(f"the region selection {what}: {shown}", field=field)
    return np.unique(np.asarray([position[name] for name in wanted], dtype=np.int64))


def region_from_sequences(
    run, selection: Any, scale: float = 1.0, field: str = "generation.region_ids"
) -> LatentRegion:
    """A Gaussian fitted to the weighted latent means of chosen training sequences.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run`.
    selection
        Training-sequence ids or a boolean mask over the run's training sequences (e.g. a
        phenotype threshold joined on ids).
    scale
        Multiplies the fitted standard deviations (covariance × scale²); 0 gives the mean only.
    field
        The option that gave the selection, which errors about it name (the CLI shows its flag).

    Notes
    -----
    Mean μ = Σ w z / Σ w and covariance Σ w (z − μ)(z − μ)ᵀ / Σ w, with the run's sequence
    weights w and latent means z. At least two sequences are needed (one sequence: use
    :func:`region_ball`).
    """
    scale = _check_value("region_scale", scale)
    codes, weights, ids = _training_view(run)
    rows = select_training_rows(ids, selection, field)
    if rows.size < 2:
        raise ConfigError(
            "a Gaussian region needs at least two sequences; for one sequence use a ball "
            f"({_field('region_ball')} ID {_field('radius')} R)",
            field=field,
        )
    means, _ = run.encode(codes[rows])
    means = means.astype(np.float64)
    w = weights[rows] / weights[rows].sum()
    center = w @ means
    centered = means - center
    covariance = (centered * w[:, None]).T @ centered * scale**2
    return LatentRegion(
        "gaussian",
        center,
        covariance,
        description=f"Gaussian fitted to the weighted latent means of {rows.size} training sequences"
        + (f" (sd scaled by {scale:g})" if scale != 1.0 else ""),
    )


# -- phenotype thresholds -------------------------------------------------------------------------
_EXPRESSION = re.compile(r"^\s*(?P<column>.+?)\s*(?P<operator>>=|<=|==|>|<)\s*(?P<value>.*?)\s*$")
_QUANTILE = re.compile(r"^[qQ](?P<percent>\d+(?:\.\d*)?)$")


@dataclass(frozen=True)
class PhenotypeThreshold:
    """A parsed phenotype selector such as ``RE_norm >= q90``.

    Attributes
    ----------
    column
        The phenotype column.
    operator
        One of ``>=``, ``>``, ``<=``, ``<``, ``==``.
    value
        A number, a label (``==`` on a non-numeric column) or ``None`` for a quantile.
    quantile
        The quantile in [0, 1] (``q90`` → 0.9), resolved over the measured training sequences.
    expression
        The text it was parsed from.
    """

    column: str
    operator: str
    value: float | str | None
    quantile: float | None
    expression: str

    @property
    def is_numeric(self) -> bool:
        return self.quantile is not None or isinstance(self.value, float)


def parse_phenotype_threshold(
    expression: str, field: str = "generation.region_phenotype"
) -> PhenotypeThreshold:
    """Parse ``COLUMN OP VALUE`` with OP in ``>= > <= < ==`` and VALUE a number, a quantile
    ``qNN`` (``q90`` = the 90th percentile, ``q2.5`` allowed) or, with ``==``, a label
    (quotes optional).

    Raises
    ------
    ConfigError
        When the expression does not have that form; ``field`` names the option it came from.
    """
    match = _EXPRESSION.match(str(expression))
    usage = "expected COLUMN OP VALUE with OP one of >=, >, <=, <, == and VALUE a number or qNN, e.g. 'RE_norm >= q90'"
    if match is None or not match["column"] or not match["value"]:
        raise ConfigError(f"cannot parse phenotype selector {expression!r}: {usage}", field=field)
    column, operator, text = match["column"].strip("'\" "), match["operator"], match["value"]
    # "score => 3" would otherwise read as column "score =": no comparison characters in names
    if any(ch in text or ch in column for ch in "<>=") or not column:
        raise ConfigError(f"cannot parse phenotype selector {expression!r}: {usage}", field=field)
    quantile = _QUANTILE.match(text)
    if quantile is not None:
        percent = float(quantile["percent"])
        if not 0.0 <= percent <= 100.0:
            raise ConfigError(
                f"quantile {text!r} in {expression!r} must lie between q0 and q100", field=field
            )
        return PhenotypeThreshold(column, operator, None, percent / 100.0, expression)
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and np.isfinite(number):
        return PhenotypeThreshold(column, operator, number, None, expression)
    if operator != "==" or number is not None:
        raise ConfigError(
            f"cannot parse phenotype selector {expression!r}: {text!r} is not a number or a quantile "
            "qNN (labels can only be compared with ==)",
            field=field,
        )
    return PhenotypeThreshold(column, operator, text.strip("'\""), None, expression)


@dataclass
class PhenotypeSelection:
    """Which training sequences a phenotype selector picked.

    Attributes
    ----------
    mask
        ``bool [N]`` over the run's training sequences.
    threshold
        The parsed selector.
    cutoff
        The number compared against (a quantile resolved to its value), or the label.
    n_measured
        Training sequences with a value in the column.
    """

    mask: np.ndarray
    threshold: PhenotypeThreshold
    cutoff: float | str
    n_measured: int

    @property
    def n_selected(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> str:
        t = self.threshold
        shown = f"q{t.quantile * 100:g} = {self.cutoff:.4g}" if t.quantile is not None else f"{self.cutoff}"
        return (
            f"{t.column} {t.operator} {shown}: {self.n_selected} of {self.n_measured} measured "
            "training sequences"
        )


def select_by_phenotype(
    ids: list[str],
    phenotypes: str | Path | pd.DataFrame,
    expression: str | PhenotypeThreshold,
    id_column: str = "id",
    field: str = "generation.region_phenotype",
) -> PhenotypeSelection:
    """The sequences among ``ids`` whose phenotype passes a threshold such as ``RE_norm >= q90``.

    Parameters
    ----------
    ids
        Sequence ids (a run's training ids).
    phenotypes
        A phenotype table (path or DataFrame), joined to ``ids`` with
        :func:`seqvae.analysis.phenotypes.join_phenotypes`.
    expression
        ``COLUMN OP VALUE`` (:func:`parse_phenotype_threshold`). A quantile ``qNN`` is taken
        over the measured values among ``ids`` (unweighted); sequences without a value are
        never selected.
    field
        The option the expression came from, which errors about it name.

    Raises
    ------
    ConfigError
        Unparsable expression, or no sequence selected (naming ``field``).
    InputError
        Unknown column, or a numeric comparison on a non-numeric column (naming the table).
    """
    from seqvae.analysis.phenotypes import join_phenotypes, read_phenotype_table

    threshold = (
        expression
        if isinstance(expression, PhenotypeThreshold)
        else parse_phenotype_threshold(expression, field)
    )
    table_source = phenotypes if isinstance(phenotypes, str | Path) else "phenotype table"
    table = (
        phenotypes
        if isinstance(phenotypes, pd.DataFrame)
        else read_phenotype_table(phenotypes, id_column=id_column)
    )
    if threshold.column not in table.columns or threshold.column == id_column:
        columns = [str(c) for c in table.columns if c != id_column]
        raise InputError(
            f"no phenotype column {threshold.column!r} (columns: {', '.join(columns[:12])})", table_source
        )
    joined = join_phenotypes(ids, table, id_column=id_column, source=table_source)
    values = joined.table[threshold.column]
    measured = values.notna().to_numpy()
    n_measured = int(measured.sum())
    if threshold.is_numeric:
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise InputError(
                f"column {threshold.column!r} is not numeric: {threshold.operator} "
                f"{threshold.value if threshold.quantile is None else f'q{threshold.quantile * 100:g}'} "
                "needs numbers (compare labels with ==)",
                table_source,
            )
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if n_measured == 0:
            raise ConfigError(
                f"{threshold.expression!r} matches no training sequence: column {threshold.column!r} "
                "has no value for any of them",
                field=field,
            )
        if threshold.quantile is not None:
            cutoff: float | str = float(np.quantile(numbers[measured], threshold.quantile))
        else:
            cutoff = float(threshold.value)  # type: ignore[arg-type]
        compare = {
            ">=": np.greater_equal,
            ">": np.greater,
            "<=": np.less_equal,
            "<": np.less,
            "==": np.equal,
        }[threshold.operator]
        with np.errstate(invalid="ignore"):
            mask = measured & compare(numbers, cutoff)
        shown_range = (
            f"measured values of {n_measured} training sequences span "
            f"{np.nanmin(numbers):.4g} to {np.nanmax(numbers):.4g}"
        )
    else:
        cutoff = str(threshold.value)
        labels = values.astype(str).str.strip()
        mask = measured & (labels == cutoff).to_numpy()
        present = sorted(set(labels[measured]))
        shown_range = f"labels among training sequences: {', '.join(present[:8])}" + (
            f" and {len(present) - 8} more" if len(present) > 8 else ""
        )
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        shown_cutoff = f" (= {cutoff:.4g})" if threshold.quantile is not None else ""
        raise ConfigError(
            f"{threshold.expression!r}{shown_cutoff} matches no training sequence ({shown_range})",
            field=field,
        )
    return PhenotypeSelection(mask=mask, threshold=threshold, cutoff=cutoff, n_measured=n_measured)


def region_from_phenotype(
    run,
    phenotypes: str | Path | pd.DataFrame,
    expression: str,
    id_column: str = "id",
    scale: float = 1.0,
) -> tuple[LatentRegion, PhenotypeSelection]:
    """A Gaussian region fitted to the training sequences that pass a phenotype threshold.

    ``region_from_phenotype(run, "sh3_59_phenotypes.csv", "RE_norm >= q90")`` selects the
    top decile of the measured training sequences (quantiles are taken over the run's own
    training sequences with a value) and fits :func:`region_from_sequences` to them.

    Returns
    -------
    (LatentRegion, PhenotypeSelection)
        The region and which sequences defined it.
    """
    _, _, ids = _training_view(run)
    selection = select_by_phenotype(ids, phenotypes, expression, id_column)
    region = region_from_sequences(run, selection.mask, scale=scale, field=_field("region_phenotype"))
    region.description = f"{region.description}; selected by {selection.describe()}"
    return region, selection


def sequence_latent_mean(run, sequence_id: str, field: str = "generation.region_ball") -> np.ndarray:
    """The latent mean of one training sequence, ``float64 [d]`` (an unknown id: a ConfigError
    naming ``field``)."""
    codes, _, ids = _training_view(run)
    rows = select_training_rows(ids, [sequence_id], field)
    return run.encode(codes[rows])[0][0].astype(np.float64)


def region_ball(run, sequence_id: str, radius: float) -> LatentRegion:
    """Uniform draws in the ball of ``radius`` around one training sequence's latent mean."""
    radius = _check_value("radius", radius)
    center = sequence_latent_mean(run, sequence_id)
    return LatentRegion(
        "ball", center, radius=float(radius), description=f"ball of radius {radius:g} around {sequence_id}"
    )


def region_coordinates(coordinates: Any, latent_dim: int, radius: float = 0.0) -> LatentRegion:
    """Uniform draws in the ball of ``radius`` around explicit coordinates (radius 0: the point)."""
    radius = _check_value("radius", radius)
    center = np.asarray(coordinates, dtype=np.float64).reshape(-1)
    if center.size != latent_dim:
        raise ConfigError(
            f"{center.size} coordinates given but the run's latent space has {latent_dim} dimensions",
            field=_field("region_coords"),
        )
    if not np.all(np.isfinite(center)):
        raise ConfigError("coordinates must be finite numbers", field=_field("region_coords"))
    return LatentRegion(
        "ball",
        center,
        radius=float(radius),
        description=f"ball of radius {radius:g} around ({', '.join(f'{v:g}' for v in center)})",
    )


def _check_value(name: str, value: Any, constraint: Constraint | None = None) -> Any:
    """``value`` (numpy scalars as Python numbers, an integral float as an integer for an integer
    field) once the constraint of :class:`GenerationOptions`' field ``name`` accepts it (its
    non-null rule; or ``constraint``), else a :class:`ConfigError` naming ``generation.name``.

    The functions below check their own arguments with the options' declarations, so a library
    call and ``seqvae generate`` reject a value in the same words.
    """
    rule = constraint or GenerationOptions.constraints[name]
    if isinstance(rule, Optional):
        rule = rule.inner
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(rule, Integer) and isinstance(value, float) and value.is_integer():
        value = int(value)
    why = rule.reason(value)
    if why is not None:
        raise ConfigError(f"{_field(name)}: {why}", field=_field(name))
    return value


# -- decoding and scoring ------------------------------------------------------------------------
def _check_decoding(decoding: str, temperature: float) -> None:
    if decoding not in DECODINGS:
        raise InputError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    if decoding == "sample":
        _check_value("temperature", temperature)


@torch.no_grad()
def decode_latents(
    model: VAE,
    z: torch.Tensor | np.ndarray,
    decoding: str = "sample",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    batch_size: int = 2048,
) -> np.ndarray:
    """Decode latent points into coded sequences, ``uint8 [n, L]``, in batches.

    ``argmax`` takes the most probable state at each position; ``sample`` draws each position
    independently from softmax(log p / temperature). Decoder states are alphabet codes (the
    gap, when modelled, is the last state), so the state index is the code.
    """
    if model.config.likelihood != "categorical":
        raise InputError("this run models continuous data; only sequence runs can generate sequences")
    _check_decoding(decoding, temperature)
    model.eval()
    device = model_device(model)
    z = torch.as_tensor(np.asarray(z) if isinstance(z, np.ndarray) else z, dtype=torch.float32)
    out = np.empty((z.shape[0], model.config.length), dtype=np.uint8)
    for start in range(0, z.shape[0], batch_size):
        log_probs = model.decode(z[start : start + batch_size].to(device)).cpu()
        if decoding == "argmax":
            states = log_probs.argmax(dim=-1)
        else:
            probs = torch.softmax(log_probs.double() / temperature, dim=-1)
            flat = probs.reshape(-1, probs.shape[-1])
            states = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:2])
        out[start : start + batch_size] = states.numpy().astype(np.uint8)
    return out


@torch.no_grad()
def sequence_elbo(
    model: VAE,
    codes: np.ndarray,
    n_samples: int = 8,
    seed: int = 0,
    batch_size: int = 2048,
) -> np.ndarray:
    """ELBO of each coded sequence under the model (``n_samples`` z draws each), ``float64 [N]``."""
    n_samples = _check_value("elbo_samples", n_samples, Integer(1))
    model.eval()
    device = model_device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    tensor = torch.as_tensor(np.ascontiguousarray(codes))
    values = [
        model.elbo(tensor[start : start + batch_size].to(device), n_samples, generator).cpu()
        for start in range(0, len(tensor), batch_size)
    ]
    return torch.cat(values).double().numpy() if values else np.zeros(0)


@dataclass
class ReconstructionAccuracy:
    """Argmax reconstruction of sequences from their latent means.

    Attributes
    ----------
    per_position
        ``[L]`` fraction of sequences whose letter is reconstructed at each position (over the
        counted entries; NaN where none is counted).
    overall
        Fraction of counted entries reconstructed: all positions when the model has a gap
        state, non-gap positions otherwise.
    residue_accuracy
        The same over non-gap positions only (true letter is a residue), for either model.
    gap_accuracy
        Over gap positions (``None`` when the model has no gap state, which cannot predict them).
    exact_fraction
        Fraction of sequences reconstructed exactly on every counted position.
    weighted_overall
        ``overall`` with each sequence weighted by its sequence weight (``None`` without weights).
    """

    per_position: np.ndarray
    overall: float
    residue_accuracy: float
    gap_accuracy: float | None
    exact_fraction: float
    weighted_overall: float | None
    n_sequences: int
    gaps_counted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "residue_accuracy": self.residue_accuracy,
            "gap_accuracy": self.gap_accuracy,
            "exact_fraction": self.exact_fraction,
            "weighted_overall": self.weighted_overall,
            "n_sequences": self.n_sequences,
            "gaps_counted": self.gaps_counted,
            "per_position": [None if np.isnan(v) else float(v) for v in self.per_position],
        }


def reconstruction_accuracy(run, alignment: Alignment | np.ndarray | None = None) -> ReconstructionAccuracy:
    """How well argmax decoding at the latent mean gives back the sequences.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run`.
    alignment
        An :class:`~seqvae.Alignment` coded with the run's registry, or codes; ``None`` = the
        run's own training sequences (with their weights).

    Notes
    -----
    Gaps: with a gap state (``model_gaps=True``) a gap is a letter like any other and counts;
    without one (``model_gaps=False``) gap positions are left out, as the decoder cannot
    predict them. ``residue_accuracy`` (non-gap positions only) is comparable between both.
    """
    model: VAE = run.model
    weights = None
    if alignment is None:
        codes, weights, _ = _training_view(run)
    elif isinstance(alignment, Alignment):
        codes, weights = alignment.codes, alignment.sequence_weights
    else:
        codes = np.asarray(alignment)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != model.config.length:
        raise InputError(
            f"sequences have {codes.shape[-1]} columns but the run expects {model.config.length}"
        )
    decoded = redecode(model, codes)
    correct = decoded == codes
    counted = predictable_positions(model, codes)
    is_gap = codes == model.config.alphabet_size - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        per_position = (correct & counted).sum(axis=0) / counted.sum(axis=0)
    overall = float((correct & counted).sum() / max(counted.sum(), 1))
    residue = ~is_gap
    residue_accuracy = float((correct & residue).sum() / max(residue.sum(), 1))
    gap_accuracy = None
    if model.config.model_gaps and is_gap.any():
        gap_accuracy = float((correct & is_gap).sum() / is_gap.sum())
    exact = float((((~correct) & counted).sum(axis=1) == 0).mean())
    weighted = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        per_sequence_hits = (correct & counted).sum(axis=1)
        per_sequence_counted = counted.sum(axis=1)
        weighted = float((w * per_sequence_hits).sum() / max((w * per_sequence_counted).sum(), 1e-300))
    return ReconstructionAccuracy(
        per_position=per_position.astype(np.float64),
        overall=overall,
        residue_accuracy=residue_accuracy,
        gap_accuracy=gap_accuracy,
        exact_fraction=exact,
        weighted_overall=weighted,
        n_sequences=int(codes.shape[0]),
        gaps_counted=bool(model.config.model_gaps),
    )


# -- design sets ---------------------------------------------------------------------------------
@dataclass
class DesignSet:
    """Generated sequences with their latent points and annotations.

    Attributes
    ----------
    ids
        ``design_00001`` … (or ``interp_000`` … for interpolations).
    codes
        ``uint8 [n, L]``.
    z
        ``float32 [n, d]`` the latent points they were decoded from.
    elbo
        ``[n]`` ELBO of each design under the model.
    nearest_id, nearest_hamming
        The nearest training (natural) sequence and the Hamming distance to it.
    alphabet
        For writing letters.
    extra
        Additional per-design columns (interpolation: ``t``, ``hamming_to_a``, ``hamming_to_b``).
    metadata
        Settings: run, seed, decoding, temperature, region, counts.
    """

    ids: list[str]
    codes: np.ndarray
    z: np.ndarray
    elbo: np.ndarray
    nearest_id: list[str]
    nearest_hamming: np.ndarray
    alphabet: Alphabet
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def sequences(self) -> list[str]:
        return [self.alphabet.decode(row) for row in self.codes]

    def table(self) -> pd.DataFrame:
        """One row per design: id, sequence, z_*, elbo, nearest natural and Hamming, extras."""
        data: dict[str, Any] = {"id": self.ids, "sequence": self.sequences()}
        for k in range(self.z.shape[1]):
            data[f"z_{k}"] = self.z[:, k]
        data["elbo"] = self.elbo
        data["nearest_natural_id"] = self.nearest_id
        data["nearest_natural_hamming"] = self.nearest_hamming
        data.update(self.extra)
        return pd.DataFrame(data)

    def to_frame(self) -> pd.DataFrame:
        """The CSV :meth:`save` writes (the same as :meth:`table`)."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The settings and counts :meth:`save` writes as JSON beside the FASTA."""
        return dict(self.metadata)

    def save(self, fasta_path: str | Path = DESIGNS_FASTA) -> dict[str, Path]:
        """Write the FASTA, the CSV and the JSON of settings (:func:`sequence_set_files`), atomically.

        Returns
        -------
        dict
            ``fasta``, ``table`` and ``settings`` paths.
        """
        notes = [f" elbo={elbo:.3f}" if np.isfinite(elbo) else "" for elbo in self.elbo]
        return _write_sequence_set(fasta_path, self.ids, self.sequences(), notes, self.table(), self.metadata)

    def write(self, fasta_path: str | Path) -> tuple[Path, Path, Path]:
        """Write ``designs.fasta``, ``designs.csv`` and ``designs.json`` (settings), atomically."""
        paths = self.save(fasta_path)
        return paths["fasta"], paths["table"], paths["settings"]

    def describe(self) -> str:
        """One line: how many designs, their median ELBO and their distance to the training set."""
        elbo = (
            f"median ELBO {float(np.median(self.elbo)):.2f}"
            if self.metadata.get("elbo_samples")
            else "ELBO skipped"
        )
        return (
            f"{len(self)} designs ({self.metadata['decoding']}): {elbo}, "
            f"median Hamming to nearest natural {np.median(self.nearest_hamming):.0f}, "
            f"{int((self.nearest_hamming == 0).sum())} identical to a training sequence"
        )

    @property
    def note(self) -> str | None:
        """What to tell a reader about gaps (a run without a gap state designs none), or ``None``."""
        if self.metadata.get("model_gaps", True):
            return None
        return "note: the run has no gap state (model_gaps=False), so the designs contain no gaps"


def _write_sequence_set(
    fasta_path: str | Path,
    ids: list[str],
    sequences: list[str],
    notes: list[str],
    table: pd.DataFrame,
    metadata: dict[str, Any],
) -> dict[str, Path]:
    """The FASTA (header notes after the id), the CSV and the JSON of settings, atomically."""
    fasta_path = Path(fasta_path)
    if fasta_path.suffix.lower() in (TABLE_SUFFIX, SETTINGS_SUFFIX):
        raise InputError("the output should be a FASTA file (.fasta/.fa)", fasta_path)
    paths = sequence_set_files(fasta_path)
    del paths["figure"]
    with atomic_open(paths["fasta"], "w", encoding="utf-8") as handle:
        for name, sequence, note in zip(ids, sequences, notes):
            handle.write(f">{name}{note}\n{sequence}\n")
    with atomic_open(paths["table"], "w", newline="", encoding="utf-8") as handle:
        table.to_csv(handle, index=False, float_format="%.6g")
    write_json(paths["settings"], metadata)
    return paths


def _annotate(
    run,
    codes: np.ndarray,
    z: np.ndarray,
    ids: list[str],
    elbo_samples: int,
    seed: int,
    metadata: dict[str, Any],
) -> DesignSet:
    train_codes, _, train_ids = _training_view(run)
    elbo = (
        sequence_elbo(run.model, codes, elbo_samples, seed + 1)
        if elbo_samples > 0
        else np.full(len(codes), np.nan)
    )
    index, distance = nearest_sequences(codes, train_codes, run.model.config.alphabet_size)
    return DesignSet(
        ids=ids,
        codes=codes,
        z=np.asarray(z, dtype=np.float32),
        elbo=elbo,
        nearest_id=[train_ids[i] for i in index],
        nearest_hamming=distance,
        alphabet=run.registry.alphabet,
        metadata=metadata,
    )


def _check_sequence_run(run) -> None:
    if run.registry is None or run.model.config.likelihood != "categorical":
        raise InputError(
            f"this run models {getattr(run, 'kind', 'continuous')} data; only sequence runs can generate "
            "sequences",
            run.path,
        )


def generate(
    run,
    n: int,
    seed: int = 0,
    decoding: str = "sample",
    temperature: float = 1.0,
    region: LatentRegion | None = None,
    elbo_samples: int = 8,
    batch_size: int = 2048,
) -> DesignSet:
    """Generate ``n`` sequences from a run.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` trained on sequences.
    n
        Number of designs (>= 1).
    seed
        Seeds the z draws and the per-position sampling (ELBO estimates use ``seed + 1``).
    decoding
        ``sample`` (each position from the decoder's categorical at ``temperature``) or
        ``argmax``.
    region
        Where z comes from; ``None`` = the prior N(0, I).
    elbo_samples
        z draws per design for its ELBO (0 skips it).
    """
    _check_sequence_run(run)
    n = _check_value("n", n)
    _check_decoding(decoding, temperature)
    d = run.config.model.latent_dim
    region = region or prior_region(d)
    if region.latent_dim != d:
        raise InputError(f"the region has {region.latent_dim} dimensions, the run {d}")
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.cat([region.sample(min(batch_size, n - s), generator) for s in range(0, n, batch_size)])
    codes = decode_latents(run.model, z, decoding, temperature, generator, batch_size)
    width = max(5, len(str(n)))
    ids = [f"design_{i + 1:0{width}d}" for i in range(n)]
    metadata = {
        "run": str(run.path),
        "n": int(n),
        "seed": int(seed),
        "decoding": decoding,
        "temperature": float(temperature) if decoding == "sample" else None,
        "region": region.to_dict(),
        "elbo_samples": int(elbo_samples),
        "model_gaps": bool(run.model.config.model_gaps),
        "gaps_note": None
        if run.model.config.model_gaps
        else "the model has no gap state (model_gaps=False): designs contain no gaps",
    }
    return _annotate(run, codes, z.numpy(), ids, elbo_samples, seed, metadata)


def interpolate(
    run,
    id_a: str,
    id_b: str,
    steps: int = 10,
    seed: int = 0,
    decoding: str = "argmax",
    temperature: float = 1.0,
    elbo_samples: int = 8,
) -> DesignSet:
    """Decode ``steps`` points on the straight line between two sequences' latent means.

    The designs carry ``t`` (0 at A, 1 at B) and their Hamming distances to the natural
    sequences A and B (``hamming_to_a``, ``hamming_to_b``).
    """
    _check_sequence_run(run)
    steps = _check_value("steps", steps)
    _check_decoding(decoding, temperature)
    codes_all, _, ids_all = _training_view(run)
    rows = [select_training_rows(ids_all, [name], _field("interpolate"))[0] for name in (id_a, id_b)]
    means, _ = run.encode(codes_all[rows])
    t = np.linspace(0.0, 1.0, steps)
    z = (1.0 - t)[:, None] * means[0][None, :].astype(np.float64) + t[:, None] * means[1][None, :]
    generator = torch.Generator().manual_seed(int(seed))
    codes = decode_latents(
        run.model, torch.as_tensor(z, dtype=torch.float32), decoding, temperature, generator
    )
    width = max(3, len(str(steps)))
    ids = [f"interp_{i:0{width}d}" for i in range(steps)]
    metadata = {
        "run": str(run.path),
        "interpolate": [id_a, id_b],
        "steps": int(steps),
        "seed": int(seed),
        "decoding": decoding,
        "temperature": float(temperature) if decoding == "sample" else None,
        "elbo_samples": int(elbo_samples),
        "model_gaps": bool(run.model.config.model_gaps),
    }
    designs = _annotate(run, codes, z, ids, elbo_samples, seed, metadata)
    predictable = predictable_positions(run.model, codes_all[rows])
    designs.extra = {
        "t": t,
        "hamming_to_a": ((codes != codes_all[rows[0]]) & predictable[0]).sum(axis=1),
        "hamming_to_b": ((codes != codes_all[rows[1]]) & predictable[1]).sum(axis=1),
    }
    return designs


# -- baselines without a latent space -------------------------------------------------------------
@dataclass
class SampleSet:
    """Sequences sampled from a baseline (site-independent or Potts model), with their score.

    Attributes
    ----------
    ids
        ``sample_00001`` …
    codes
        ``uint8 [n, L]``.
    log_likelihood
        ``[n]`` log p(x) under the baseline: exact for the site-independent model, up to the
        (unknown) log partition function for a Potts model (``score_name`` says which).
    alphabet
        For writing letters.
    metadata
        Settings: baseline, seed, temperature, counts.
    score_name
        The column name of ``log_likelihood`` in the CSV: ``log_likelihood`` or ``hamiltonian``.
    """

    ids: list[str]
    codes: np.ndarray
    log_likelihood: np.ndarray
    alphabet: Alphabet
    metadata: dict[str, Any] = field(default_factory=dict)
    score_name: str = "log_likelihood"

    @classmethod
    def numbered(
        cls,
        codes: np.ndarray,
        scores: np.ndarray,
        alphabet: Alphabet,
        metadata: dict[str, Any],
        score_name: str = "log_likelihood",
    ) -> SampleSet:
        """Samples named ``sample_00001`` … in draw order."""
        width = max(5, len(str(len(codes))))
        ids = [f"sample_{i + 1:0{width}d}" for i in range(len(codes))]
        return cls(ids, codes, scores, alphabet, metadata, score_name)

    def __len__(self) -> int:
        return len(self.ids)

    def sequences(self) -> list[str]:
        return [self.alphabet.decode(row) for row in self.codes]

    def table(self) -> pd.DataFrame:
        """One row per sample: id, sequence, and the log-likelihood (or Hamiltonian)."""
        return pd.DataFrame(
            {"id": self.ids, "sequence": self.sequences(), self.score_name: self.log_likelihood}
        )

    def to_frame(self) -> pd.DataFrame:
        """The CSV :meth:`save` writes (the same as :meth:`table`)."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The settings and counts :meth:`save` writes as JSON beside the FASTA."""
        return dict(self.metadata)

    def save(self, fasta_path: str | Path = DESIGNS_FASTA) -> dict[str, Path]:
        """Write the FASTA, a CSV (id, sequence, score) and a JSON of settings
        (:func:`sequence_set_files`); returns the ``fasta``, ``table`` and ``settings`` paths."""
        notes = [f" {self.score_name}={value:.3f}" for value in self.log_likelihood]
        return _write_sequence_set(fasta_path, self.ids, self.sequences(), notes, self.table(), self.metadata)

    def write(self, fasta_path: str | Path) -> tuple[Path, Path, Path]:
        """Write the FASTA, a CSV (id, sequence, score) and a JSON of settings."""
        paths = self.save(fasta_path)
        return paths["fasta"], paths["table"], paths["settings"]

    def describe(self) -> str:
        """One line: how the samples were drawn and their score (a Potts model: whether the chains settled)."""
        if self.metadata.get("model") == "potts":
            before, last = self.metadata["mean_hamiltonian_last_two_tenths"]
            return (
                f"{len(self)} Gibbs samples from the Potts model ({self.metadata['sweeps']} sweeps): "
                f"mean H {before:.2f} over the second-last tenth of the sweeps, {last:.2f} over the last "
                "(close values: the chains have settled; otherwise raise --sweeps)"
            )
        return (
            f"{len(self)} samples from the site-independent model: median log-likelihood "
            f"{float(np.median(self.log_likelihood)):.2f}"
        )

    @property
    def note(self) -> str | None:
        """What to tell a reader about gaps (a model fitted without the gap state draws none), or ``None``."""
        if self.metadata.get("model_gaps", True):
            return None
        return "note: fitted without --model-gaps, so the samples contain no gaps"


def sample_site_independent(
    model: SiteIndependentModel,
    alphabet: Alphabet,
    n: int,
    seed: int = 0,
    temperature: float = 1.0,
    source: str | None = None,
) -> SampleSet:
    """Draw ``n`` sequences from a site-independent model (each column independently).

    Parameters
    ----------
    model
        A fitted :class:`~seqvae.models.site_independent.SiteIndependentModel`
        (:func:`seqvae.training.baselines.fit_site_independent`, or ``load_baseline``).
    alphabet
        The alphabet its codes refer to (the baseline registry's).
    n
        Number of samples (>= 1).
    seed
        Seeds the ``torch.Generator`` that draws every position.
    temperature
        Draw from softmax(log f / T); 1 = the fitted frequencies.
    source
        Where the model came from (recorded in the metadata).
    """
    if model.length < 1 or alphabet.gap_code != model.gap_code:
        raise InputError("the alphabet does not match the site-independent model")
    generator = torch.Generator().manual_seed(int(seed))
    codes = model.sample(n, generator, temperature).numpy()
    log_likelihood = model.log_likelihood(torch.from_numpy(codes)).numpy()
    return SampleSet.numbered(
        codes,
        log_likelihood,
        alphabet,
        metadata={
            "baseline": source,
            "model": "site-independent",
            "n": int(n),
            "seed": int(seed),
            "temperature": float(temperature),
            "model_gaps": bool(model.model_gaps),
            "gaps_note": None
            if model.model_gaps
            else "the model has no gap state (fitted without --model-gaps): samples contain no gaps",
        },
    )


def sample_potts(
    model: PottsModel,
    alphabet: Alphabet,
    n: int,
    seed: int = 0,
    sweeps: int = 200,
    temperature: float = 1.0,
    source: str | None = None,
) -> SampleSet:
    """Draw ``n`` sequences from a Potts model by Gibbs sampling (``n`` independent chains).

    Parameters
    ----------
    model
        A fitted :class:`~seqvae.models.potts.PottsModel` (``seqvae baseline fit --model potts``).
    alphabet
        The alphabet its codes refer to (the baseline registry's).
    n
        Number of samples = chains (>= 1).
    seed
        Seeds the ``torch.Generator`` of the start states and every draw.
    sweeps
        Gibbs sweeps per chain (>= 1); the metadata records the mean Hamiltonian per sweep so
        that convergence can be checked (it should level off well before the end).
    temperature
        Sample from p(x)^(1/T).
    source
        Where the model came from (recorded in the metadata).
    """
    n = _check_value("n", n)
    sweeps = _check_value("sweeps", sweeps)
    temperature = _check_value("temperature", temperature)
    if alphabet.size != model.n_states:
        raise InputError("the alphabet does not match the Potts model")
    generator = torch.Generator().manual_seed(int(seed))
    trace: list[float] = []
    codes = model.sample(int(n), generator, sweeps=int(sweeps), temperature=float(temperature), trace=trace)
    hamiltonian = model.hamiltonian(codes).numpy()
    tenth = max(1, len(trace) // 10)
    return SampleSet.numbered(
        codes.numpy(),
        hamiltonian,
        alphabet,
        score_name="hamiltonian",
        metadata={
            "baseline": source,
            "model": "potts",
            "n": int(n),
            "seed": int(seed),
            "sweeps": int(sweeps),
            "temperature": float(temperature),
            "mean_hamiltonian_per_sweep": [round(v, 4) for v in trace],
            # settled chains: the last two tenths of the sweeps agree
            "mean_hamiltonian_last_two_tenths": [
                float(np.mean(trace[-2 * tenth : -tenth] or trace[-tenth:])),
                float(np.mean(trace[-tenth:])),
            ],
            "note": "hamiltonian = log p(x) + log Z (higher = more probable); chains start from "
            "uniform random sequences",
        },
    )


# -- what `seqvae generate` does, as one call ------------------------------------------------------
def read_id_list(value: str | Path) -> list[str]:
    """Sequence ids from a file (one per line, or a CSV/TSV with an ``id`` column) or a comma list.

    Parameters
    ----------
    value
        A path to an existing file, or ids separated by commas (``"seq1,seq7"``).

    Raises
    ------
    InputError
        A table without an ``id`` column, or a file that cannot be read.
    """
    path = Path(value)
    if path.is_file():
        from seqvae.io.alignment_formats import read_text
        from seqvae.io.tables import read_table

        text = read_text(path)
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if lines and ("," in lines[0] or "\t" in lines[0]):
            from seqvae.analysis.mutations import detect_separator

            table = read_table(path, "cannot read the id table", sep=detect_separator(path), dtype=str)
            if "id" not in table.columns:
                raise InputError("an id table needs an 'id' column", path, 1)
            return [v for v in table["id"].dropna().astype(str)]
        return lines
    return [v.strip() for v in str(value).split(",") if v.strip()]


def check_fasta_target(out: str | Path) -> None:
    """Refuse an output path that names one of the files written beside the FASTA.

    The error's ``source`` is the path and its ``field`` ``generation.out`` (the FASTA a
    generated set is saved to; ``seqvae generate --out``).
    """
    if Path(out).suffix.lower() in (TABLE_SUFFIX, SETTINGS_SUFFIX, FIGURE_SUFFIX):
        out_field = _field("out")
        raise ConfigError(
            f"{out_field} is the FASTA file; the CSV and JSON are written beside it", out, field=out_field
        )


def _ids_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | Path):
        return None
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return None
    return f"must be a list of ids, a file of ids, a comma list or null (got {value!r})"


def _path_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | Path):
        return None
    return f"must be a path or null (got {value!r})"


def _coords_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str):  # the CLI's text is parsed once the options fit
        return None
    if (
        isinstance(value, list | tuple | np.ndarray)
        and len(value) > 0
        and all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in value)
    ):
        return None
    return f"must be a non-empty list of numbers, a comma list or null (got {value!r})"


def _field(name: str) -> str:
    """The dotted name of a generation option in errors: ``generation.n`` (the CLI shows its flag)."""
    return f"{GenerationOptions.section}.{name}"


def _parse_coordinates(text: str) -> list[float]:
    """``"0.1,-0.3"`` (commas or semicolons) -> ``[0.1, -0.3]``."""
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ConfigError(
            f"coordinates must be comma-separated numbers, got {text!r}", field=_field("region_coords")
        ) from None


def _pair_problem(value: Any) -> str | None:
    if value is None or (
        isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, str) for v in value)
    ):
        return None
    return f"must be two training sequence ids or null (got {value!r})"


@register
@dataclass
class GenerationOptions(Options):
    """How to draw sequences from a run or a baseline directory (``seqvae generate``'s options).

    Attributes
    ----------
    n
        Number of sequences (>= 1); leave it out with ``interpolate`` (``steps`` sequences).
    seed
        Seeds the z draws and the per-position sampling (see the module docstring).
    temperature
        Sample each position from softmax(log p / T); ``None`` = 1 (an interpolation: argmax).
    argmax
        Decode by argmax instead of sampling (VAE runs).
    region_ids
        A Gaussian fitted to these training sequences' latent means: a list of ids, or a string
        naming a file of ids or a comma list (:func:`read_id_list`).
    region_phenotype, phenotypes, id_column
        A Gaussian fitted to the training sequences passing a threshold such as
        ``"RE_norm >= q90"`` in the phenotype table ``phenotypes`` (ids in ``id_column``).
    region_scale
        Scales the fitted Gaussian's standard deviations.
    region_ball, radius
        Uniform in the ball of ``radius`` around this training sequence's latent mean.
    region_coords
        A ball (``radius``, default 0) around explicit latent coordinates.
    interpolate, steps
        Decode ``steps`` points on the straight latent path between two training sequences.
    elbo_samples
        z draws per design for its ELBO (0 skips it).
    sweeps
        Potts baselines: Gibbs sweeps per chain (default 200).
    """

    n: int | None = None
    seed: int = 0
    temperature: float | None = None
    argmax: bool = False
    region_ids: str | Sequence[str] | None = None
    region_phenotype: str | None = None
    phenotypes: str | Path | None = None
    id_column: str = "id"
    region_scale: float = 1.0
    region_ball: str | None = None
    region_coords: Sequence[float] | None = None
    radius: float | None = None
    interpolate: tuple[str, str] | None = None
    steps: int = 10
    elbo_samples: int = 8
    sweeps: int | None = None

    section: ClassVar[str] = "generation"
    constraints: ClassVar[dict] = {
        "n": Optional(Integer(1)),
        "seed": Integer(),
        "temperature": Optional(Interval(0.0, closed="neither")),
        "argmax": Boolean(),
        "region_ids": Check(_ids_problem, "a list of ids, a file of ids, a comma list or null", (3, [1, 2])),
        "region_phenotype": Optional(Text()),
        "phenotypes": Check(_path_problem, "a path or null", (3,)),
        "id_column": Text(),
        "region_scale": Interval(0.0),
        "region_ball": Optional(Text()),
        "region_coords": Check(_coords_problem, "a non-empty list of numbers or null", ([], ["a"], 3)),
        "radius": Optional(Interval(0.0)),
        "interpolate": Check(_pair_problem, "two training sequence ids or null", (("a",), "a", ("a", 1))),
        "steps": Integer(2),
        "elbo_samples": Integer(0),
        "sweeps": Optional(Integer(1)),
    }

    def selectors(self) -> list[str]:
        """The latent-region fields in use (at most one may be), ``generation.region_ids`` …"""
        return [
            _field(name)
            for name in ("region_ids", "region_phenotype", "region_ball", "region_coords", "interpolate")
            if getattr(self, name) is not None
        ]

    def _check_one_selector(self) -> None:
        selectors = self.selectors()
        if len(selectors) > 1:
            raise ConfigError(f"choose one of {', '.join(selectors)}", field=selectors[1])

    def validate(self, out: str | Path | None = None) -> GenerationOptions:
        """Check the options for a VAE run (and ``out``, the FASTA to write) before any work.

        ``region_coords`` given as text (``"0.1,-0.3"``) becomes numbers once the combination
        of options is known to be valid.

        Raises
        ------
        ConfigError
            A bad value of one field (``generation.n: must be …``), or fields that exclude each
            other or miss a partner, in one line naming the fields (``generation.argmax and
            generation.temperature exclude each other``) with ``field`` the one at fault.
            An unreadable phenotype selector (``field``: ``generation.region_phenotype``), or an
            ``out`` that names a file written beside the FASTA (``generation.out``, the path as
            ``source``).
        """
        self.check()
        self._check_one_selector()
        n, steps, sweeps = _field("n"), _field("steps"), _field("sweeps")
        temperature, phenotypes, radius = _field("temperature"), _field("phenotypes"), _field("radius")
        region_phenotype, ball, coords = (
            _field("region_phenotype"),
            _field("region_ball"),
            _field("region_coords"),
        )
        if self.sweeps is not None:
            raise ConfigError(f"{sweeps} applies to Potts baselines only", field=sweeps)
        if self.argmax and self.temperature is not None:
            raise ConfigError(f"{_field('argmax')} and {temperature} exclude each other", field=temperature)
        if self.region_phenotype is not None and self.phenotypes is None:
            raise ConfigError(f"{region_phenotype} needs a phenotype table ({phenotypes})", field=phenotypes)
        if self.phenotypes is not None and self.region_phenotype is None:
            raise ConfigError(f"{phenotypes} goes with {region_phenotype}", field=phenotypes)
        if self.region_phenotype is not None:
            parse_phenotype_threshold(self.region_phenotype)  # fail on a typo before loading the run
        if self.radius is not None and self.region_ball is None and self.region_coords is None:
            raise ConfigError(f"{radius} goes with {ball} or {coords}", field=radius)
        if self.region_ball is not None and self.radius is None:
            raise ConfigError(f"{ball} needs {radius}", field=ball)
        if self.interpolate is not None:
            if self.n is not None:
                raise ConfigError(f"{_field('interpolate')} makes {steps} designs; leave out {n}", field=n)
        elif self.n is None:
            raise ConfigError(f"give the number of designs with {n} N", field=n)
        if out is not None:
            check_fasta_target(out)
        if isinstance(self.region_coords, str):
            self.region_coords = _parse_coordinates(self.region_coords)
        return self

    def validate_for_baseline(
        self, out: str | Path | None = None, vae_only: Sequence[str] = ()
    ) -> GenerationOptions:
        """Check the options for a baseline directory, which samples from its columns only.

        ``vae_only`` names further options in use that need a VAE run (the CLI's ``--figure``).

        Raises
        ------
        ConfigError
            A bad value of one field, fields in use that need a VAE run (naming them, ``field``
            the first), or no ``n``.
        InputError
            Only ``vae_only`` options in use (``source``: the first).
        """
        self.check()
        self._check_one_selector()
        fields = [
            *self.selectors(),
            *(
                _field(name)
                for name, used in (
                    ("argmax", self.argmax),
                    ("phenotypes", self.phenotypes is not None),
                    ("radius", self.radius is not None),
                )
                if used
            ),
        ]
        if fields or vae_only:
            message = (
                f"{', '.join([*fields, *vae_only])} need a VAE run; a baseline directory samples from "
                "its columns only"
            )
            raise ConfigError(message, field=fields[0]) if fields else InputError(message, vae_only[0])
        if self.n is None:
            raise ConfigError(f"give the number of samples with {_field('n')} N", field=_field("n"))
        if out is not None:
            check_fasta_target(out)
        return self


def region_for(run, options: GenerationOptions, log: Callable[[str], None] | None = None) -> LatentRegion:
    """The latent region ``options`` choose (the prior when none is chosen).

    ``log`` receives one line on which training sequences a phenotype threshold selected.
    """
    d = run.config.model.latent_dim
    if options.region_ids is not None:
        ids = options.region_ids
        return region_from_sequences(
            run, read_id_list(ids) if isinstance(ids, str | Path) else list(ids), scale=options.region_scale
        )
    if options.region_phenotype is not None:
        region, selection = region_from_phenotype(
            run,
            options.phenotypes,
            options.region_phenotype,
            id_column=options.id_column,
            scale=options.region_scale,
        )
        if log is not None:
            log(f"region: {selection.describe()}")
        return region
    if options.region_ball is not None:
        return region_ball(run, options.region_ball, float(options.radius))
    if options.region_coords is not None:
        return region_coordinates(options.region_coords, d, options.radius or 0.0)
    return prior_region(d)


def generate_designs(run, options: GenerationOptions, log: Callable[[str], None] | None = None) -> DesignSet:
    """Designs from a run as ``seqvae generate RUN`` makes them: from the chosen region (or the
    prior), or along an interpolation path.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` trained on sequences (on the device it should compute on).
    options
        What to draw (checked with :meth:`GenerationOptions.validate`).
    log
        Receives progress lines (which sequences a phenotype threshold selected).

    Returns
    -------
    DesignSet
        :meth:`DesignSet.save` writes ``seqvae generate``'s files; an interpolation's figure is
        :func:`seqvae.plots.generation.plot_design_figures`.
    """
    options.validate()
    temperature = options.temperature or 1.0
    if options.interpolate is not None:
        return interpolate(
            run,
            options.interpolate[0],
            options.interpolate[1],
            steps=options.steps,
            seed=options.seed,
            decoding="sample" if options.temperature is not None else "argmax",
            temperature=temperature,
            elbo_samples=options.elbo_samples,
        )
    return generate(
        run,
        int(options.n),
        seed=options.seed,
        decoding="argmax" if options.argmax else "sample",
        temperature=temperature,
        region=region_for(run, options, log),
        elbo_samples=options.elbo_samples,
    )


def sample_baseline(
    baseline_dir: str | Path, options: GenerationOptions, vae_only: Sequence[str] = ()
) -> SampleSet:
    """Samples from a baseline directory (``seqvae baseline fit``) as ``seqvae generate`` draws
    them: column by column from a site-independent model, by Gibbs sampling from a Potts model.

    Parameters
    ----------
    baseline_dir
        The baseline directory.
    options
        ``n``, ``seed``, ``temperature`` and (Potts) ``sweeps``; checked with
        :meth:`GenerationOptions.validate_for_baseline` (``vae_only``: further options in use
        that need a VAE run).
    """
    from seqvae.training.baselines import load_baseline

    options.validate_for_baseline(vae_only=vae_only)
    model, registry, kind = load_baseline(baseline_dir)
    temperature = options.temperature or 1.0
    if kind == "potts":
        sweeps = 200 if options.sweeps is None else options.sweeps
        return sample_potts(
            model,
            registry.alphabet,
            int(options.n),
            options.seed,
            sweeps,
            temperature,
            source=str(baseline_dir),
        )
    if options.sweeps is not None:
        raise ConfigError(f"{_field('sweeps')} applies to Potts baselines only", field=_field("sweeps"))
    return sample_site_independent(
        model, registry.alphabet, int(options.n), options.seed, temperature, source=str(baseline_dir)
    )


def generate_from(
    source: str | Path,
    options: GenerationOptions,
    out: str | Path | None = None,
    *,
    vae_only: Sequence[str] = (),
    device: torch.device | None = None,
    log: Callable[[str], None] | None = None,
) -> DesignSet | SampleSet:
    """``seqvae generate SOURCE`` as one call: designs from a VAE run directory
    (:func:`generate_designs`), samples from a baseline directory (:func:`sample_baseline`).

    Parameters
    ----------
    source
        A trained run directory or a baseline directory (``seqvae baseline fit``).
    options
        What to draw; checked for what ``source`` is, with ``out`` (the FASTA to be written),
        before anything is loaded.
    vae_only
        Further options in use that need a VAE run (the CLI's ``--figure``).
    device
        Where a VAE computes (``None``: the CPU); baselines sample on the CPU.
    log
        Receives progress lines (which sequences a phenotype threshold selected).

    Returns
    -------
    DesignSet or SampleSet
        ``save(fasta_path)`` writes the command's files; the figures:
        :func:`seqvae.plots.generation.plot_design_figures`.
    """
    from seqvae.run import load
    from seqvae.training.baselines import is_baseline_directory

    if is_baseline_directory(source):
        options.validate_for_baseline(out, vae_only)
        return sample_baseline(source, options)
    options.validate(out)
    run = load(source)
    if device is not None:
        run.model.to(device)
    return generate_designs(run, options, log=log)
