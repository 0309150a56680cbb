"""Where in a run's latent space to draw z from.

A :class:`LatentRegion` is the prior N(0, I), a Gaussian fitted to the latent means of chosen
training sequences (by id, by mask or by a phenotype threshold), a ball around one training
sequence's latent mean, or a ball around explicit coordinates. Errors name the generation option
that chose the region (``generation.region_ids`` …), and single values are checked with
:class:`~seqvae.analysis.generation_options.GenerationOptions`' constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqvae.analysis.generation_options import check_option_value, option_field
from seqvae.analysis.phenotype_selection import PhenotypeSelection, select_by_phenotype
from seqvae.errors import ConfigError, InputError


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
    scale = check_option_value("region_scale", scale)
    codes, weights, ids, _ = run.training_data()
    rows = select_training_rows(ids, selection, field)
    if rows.size < 2:
        raise ConfigError(
            "a Gaussian region needs at least two sequences; for one sequence use a ball "
            f"({option_field('region_ball')} ID {option_field('radius')} R)",
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
    _, _, ids, _ = run.training_data()
    selection = select_by_phenotype(ids, phenotypes, expression, id_column)
    region = region_from_sequences(run, selection.mask, scale=scale, field=option_field("region_phenotype"))
    region.description = f"{region.description}; selected by {selection.describe()}"
    return region, selection


def sequence_latent_mean(run, sequence_id: str, field: str = "generation.region_ball") -> np.ndarray:
    """The latent mean of one training sequence, ``float64 [d]`` (an unknown id: a ConfigError
    naming ``field``)."""
    codes, _, ids, _ = run.training_data()
    rows = select_training_rows(ids, [sequence_id], field)
    return run.encode(codes[rows])[0][0].astype(np.float64)


def region_ball(run, sequence_id: str, radius: float) -> LatentRegion:
    """Uniform draws in the ball of ``radius`` around one training sequence's latent mean."""
    radius = check_option_value("radius", radius)
    center = sequence_latent_mean(run, sequence_id)
    return LatentRegion(
        "ball", center, radius=float(radius), description=f"ball of radius {radius:g} around {sequence_id}"
    )


def region_coordinates(coordinates: Any, latent_dim: int, radius: float = 0.0) -> LatentRegion:
    """Uniform draws in the ball of ``radius`` around explicit coordinates (radius 0: the point)."""
    radius = check_option_value("radius", radius)
    center = np.asarray(coordinates, dtype=np.float64).reshape(-1)
    if center.size != latent_dim:
        raise ConfigError(
            f"{center.size} coordinates given but the run's latent space has {latent_dim} dimensions",
            field=option_field("region_coords"),
        )
    if not np.all(np.isfinite(center)):
        raise ConfigError("coordinates must be finite numbers", field=option_field("region_coords"))
    return LatentRegion(
        "ball",
        center,
        radius=float(radius),
        description=f"ball of radius {radius:g} around ({', '.join(f'{v:g}' for v in center)})",
    )
