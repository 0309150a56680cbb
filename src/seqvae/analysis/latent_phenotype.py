"""A phenotype as a smooth function of the latent space: a Gaussian process on z.

:class:`LatentPhenotypeModel` is fitted to the latent means of labelled sequences (a phenotype
table joined on ids, :mod:`seqvae.analysis.phenotypes`) and predicts a mean and a standard
deviation anywhere in z. Its kernel is an RBF with one length scale per latent dimension times
an amplitude, plus white noise for the measurement scatter; the three are fitted by maximum
marginal likelihood (scikit-learn). :func:`cross_validate` gives the held-out Spearman ρ on the
labelled sequences, and :func:`phenotype_map` the predicted phenotype over the latent plane (a
2-D run) or over the plane of the first two principal axes of the sequences' latent means.

Cost: an exact GP grows as n³ in the sequences it is conditioned on, so the hyperparameters are
fitted on a seeded subset of at most ``hyperparameter_points`` and the posterior conditioned on
at most ``max_points`` (in 2-D, a few thousand noisy labels pin the surface down as well as all).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from seqvae.analysis.phenotypes import join_phenotypes, phenotype_table
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import atomic_path

__all__ = [
    "CrossValidation",
    "LabelledLatent",
    "LatentPhenotypeModel",
    "PhenotypeMap",
    "cross_validate",
    "labelled_latent",
    "phenotype_map",
]


@dataclass
class LabelledLatent:
    """The latent means of a run's sequences with one phenotype column joined on their ids.

    Attributes
    ----------
    ids
        Sequence ids.
    z
        ``float64 [N, d]`` latent means.
    labels
        ``float64 [N]`` the phenotype, NaN where the table has no value.
    label
        The phenotype column's name.
    """

    ids: list[str]
    z: np.ndarray
    labels: np.ndarray
    label: str

    @property
    def labelled(self) -> np.ndarray:
        """``bool [N]``: sequences with a value."""
        return np.isfinite(self.labels)


def labelled_latent(
    run,
    phenotypes: str | Path | pd.DataFrame,
    label_column: str,
    id_column: str = "id",
    min_labelled: int = 2,
    field: str = "design",
) -> LabelledLatent:
    """Join a phenotype column to a run's training sequences and embed them.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` on sequences.
    phenotypes
        A phenotype table (path or DataFrame) keyed by ``id_column``.
    label_column
        The numeric column to model.
    min_labelled
        Fewest labelled sequences accepted (e.g. the number of cross-validation folds).
    field
        The options section whose fields errors name (``design.label_col``, ``design.folds``).

    Raises
    ------
    InputError
        A table that cannot be read, no id matching a sequence (naming the table).
    ConfigError
        An unknown or non-numeric column, a column with no value or one value for the matched
        sequences, or fewer than ``min_labelled`` labelled sequences (naming the field).
    """
    source, table = phenotype_table(phenotypes, id_column)
    label_field = f"{field}.label_col"
    if label_column not in table.columns or label_column == id_column:
        columns = [str(c) for c in table.columns if c != id_column]
        raise ConfigError(
            f"{label_field}: no column {label_column!r} in {source} (columns: {', '.join(columns[:12])})",
            field=label_field,
        )
    codes, _, ids, _ = run.training_data()
    joined = join_phenotypes(ids, table, id_column=id_column, source=source)
    values = joined.table[label_column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise ConfigError(
            f"{label_field}: column {label_column!r} of {source} is not numeric", field=label_field
        )
    labels = values.to_numpy(dtype=np.float64, na_value=np.nan)
    labels[~np.isfinite(labels)] = np.nan
    finite = labels[np.isfinite(labels)]
    if finite.size == 0:
        raise ConfigError(
            f"{label_field}: column {label_column!r} of {source} has no value for any of the "
            f"{joined.n_matched} matched sequences",
            field=label_field,
        )
    if np.ptp(finite) == 0:
        raise ConfigError(
            f"{label_field}: column {label_column!r} of {source} is constant ({finite[0]:g}) over "
            f"its {finite.size} labelled sequences: nothing to learn",
            field=label_field,
        )
    if finite.size < min_labelled:
        raise ConfigError(
            f"{field}.folds: {finite.size} labelled sequences, fewer than the {min_labelled} folds",
            field=f"{field}.folds",
        )
    means, _ = run.encode(codes)
    return LabelledLatent(ids=list(ids), z=means.astype(np.float64), labels=labels, label=label_column)


def _subset(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


class LatentPhenotypeModel:
    """A Gaussian process regression of a phenotype on latent coordinates.

    Fit it with :meth:`fit`; :meth:`predict` gives the mean and standard deviation of the
    phenotype's smooth part (the white-noise term, the scatter of single measurements, is left
    out of the sd: it is the uncertainty about the phenotype at z, not about one measurement).
    :meth:`posterior` is the same computation on torch tensors, differentiable in z.

    Attributes
    ----------
    x, y
        ``[n, d]`` the latent points the posterior is conditioned on and ``[n]`` their phenotype.
    length_scales, amplitude, noise
        The fitted kernel: amplitude · exp(−½ Σ_k ((a_k − b_k) / ℓ_k)²) + noise · δ, on the
        standardised phenotype.
    y_mean, y_sd
        The standardisation of the phenotype.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        length_scales: np.ndarray,
        amplitude: float,
        noise: float,
    ):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = y = np.asarray(y, dtype=np.float64)
        self.y_mean = float(y.mean())
        self.y_sd = float(y.std()) or 1.0
        self.length_scales = np.array(length_scales, dtype=np.float64).reshape(-1)
        self.amplitude = float(amplitude)
        self.noise = float(noise)
        X = torch.as_tensor(self.x)
        K = self._kernel(X, X) + self.noise * torch.eye(len(X), dtype=torch.float64)
        self._cholesky = torch.linalg.cholesky(K)
        target = torch.as_tensor((y - self.y_mean) / self.y_sd).reshape(-1, 1)
        self._alpha = torch.cholesky_solve(target, self._cholesky).reshape(-1)

    @property
    def latent_dim(self) -> int:
        return int(self.x.shape[1])

    @classmethod
    def fit(
        cls,
        z: np.ndarray,
        y: np.ndarray,
        seed: int = 0,
        max_points: int = 2000,
        hyperparameter_points: int = 500,
        restarts: int = 1,
    ) -> LatentPhenotypeModel:
        """Fit the kernel by maximum marginal likelihood and condition on the data.

        Parameters
        ----------
        z, y
            ``[n, d]`` latent points and ``[n]`` finite phenotype values (n >= 2, y not constant).
        seed
            Seeds the subsets and the optimiser's restarts.
        max_points
            The posterior is conditioned on at most this many points (a seeded subset).
        hyperparameter_points
            The kernel is fitted on at most this many of those.
        restarts
            Extra optimiser starts from random hyperparameters.
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        z = np.asarray(z, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if z.ndim != 2 or len(z) != len(y) or len(y) < 2:
            raise InputError(f"need [n, d] latent points and n >= 2 values, got {z.shape} and {y.shape}")
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(y))):
            raise InputError("latent points and phenotype values must be finite")
        rng = np.random.default_rng(seed)
        keep = _subset(len(y), max_points, rng)
        z, y = z[keep], y[keep]
        rows = _subset(len(y), hyperparameter_points, rng)
        d = z.shape[1]
        spread = np.maximum(z.std(axis=0), 1e-3)
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(
            spread, [(s * 1e-2, s * 1e2) for s in spread]
        ) + WhiteKernel(0.5, (1e-4, 10.0))
        regressor = GaussianProcessRegressor(
            kernel, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed
        )
        with warnings.catch_warnings():
            # a bound reached or an optimiser stopped early still gives a usable kernel; the
            # cross-validation is the judge of the fit, not these warnings
            warnings.simplefilter("ignore", ConvergenceWarning)
            regressor.fit(z[rows], y[rows])
        fitted = regressor.kernel_
        length_scales = np.broadcast_to(np.asarray(fitted.k1.k2.length_scale, dtype=np.float64), (d,))
        return cls(z, y, length_scales, float(fitted.k1.k1.constant_value), float(fitted.k2.noise_level))

    def _kernel(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        scale = torch.as_tensor(self.length_scales, dtype=torch.float64)
        distance = torch.cdist(a / scale, b / scale).pow(2)
        return self.amplitude * torch.exp(-0.5 * distance)

    def posterior(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and sd of the phenotype at ``z`` (``float64 [m, d]`` tensor; differentiable)."""
        cross = self._kernel(z.to(torch.float64), torch.as_tensor(self.x))
        mean = cross @ self._alpha
        v = torch.linalg.solve_triangular(self._cholesky, cross.T, upper=False)
        variance = (self.amplitude - v.pow(2).sum(dim=0)).clamp_min(1e-12)
        return self.y_mean + self.y_sd * mean, self.y_sd * variance.sqrt()

    def predict(self, z: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Predicted phenotype mean and sd, each ``float64 [m]``, at latent points ``[m, d]``."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, self.latent_dim)
        means, sds = [], []
        with torch.no_grad():
            for start in range(0, len(z), batch_size):
                mean, sd = self.posterior(torch.as_tensor(z[start : start + batch_size]))
                means.append(mean.numpy())
                sds.append(sd.numpy())
        if not means:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(means), np.concatenate(sds)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the model is, as arrays (for an NPZ; :meth:`from_arrays` rebuilds it)."""
        return {
            "x": self.x,
            "y": self.y,
            "length_scales": self.length_scales,
            "amplitude": np.float64(self.amplitude),
            "noise": np.float64(self.noise),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LatentPhenotypeModel:
        """The model :meth:`arrays` describes (the same predictions)."""
        return cls(
            arrays["x"],
            arrays["y"],
            arrays["length_scales"],
            float(arrays["amplitude"]),
            float(arrays["noise"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The fitted kernel and the data size (no data)."""
        return {
            "kernel": "amplitude * RBF(length_scales) + white noise, on the standardised phenotype",
            "length_scales": [float(v) for v in self.length_scales],
            "amplitude": self.amplitude,
            "noise": self.noise,
            "signal_to_noise": self.amplitude / self.noise,
            "y_mean": self.y_mean,
            "y_sd": self.y_sd,
            "n_points": int(len(self.x)),
        }


@dataclass
class CrossValidation:
    """Held-out predictions of a phenotype model on labelled sequences.

    Attributes
    ----------
    rho
        Spearman ρ between the held-out predictions and the labels, pooled over folds.
    r2
        1 − Σ(y − ŷ)² / Σ(y − ȳ)² of the same predictions (a phenotype whose bulk is a noisy
        floor, with the signal in a tail, ranks poorly but can still be predicted well).
    fold_rhos
        ρ within each fold.
    predicted
        ``[n]`` each labelled sequence's prediction by the model fitted without its fold.
    """

    rho: float
    fold_rhos: list[float]
    predicted: np.ndarray
    folds: int
    r2: float

    def to_dict(self) -> dict[str, Any]:
        return {"spearman": self.rho, "r2": self.r2, "fold_spearman": self.fold_rhos, "folds": self.folds}


def cross_validate(
    z: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0, **fit_options
) -> CrossValidation:
    """K-fold cross-validated Spearman ρ of :meth:`LatentPhenotypeModel.fit` (kernel refitted
    in every fold, folds shuffled with ``seed``)."""
    from sklearn.model_selection import KFold

    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    predicted = np.empty(len(y))
    fold_rhos = []
    for k, (train, test) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(z)):
        model = LatentPhenotypeModel.fit(z[train], y[train], seed=seed + k, **fit_options)
        predicted[test] = model.predict(z[test])[0]
        fold_rhos.append(
            float(spearmanr(predicted[test], y[test])[0]) if np.ptp(y[test]) > 0 else float("nan")
        )
    r2 = 1.0 - float(((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    return CrossValidation(float(spearmanr(predicted, y)[0]), fold_rhos, predicted, folds, r2)


# -- the map ---------------------------------------------------------------------------------------
PHENOTYPE_MAP_FILE = "phenotype_map.npz"


@dataclass
class PhenotypeMap:
    """The predicted phenotype over a plane of the latent space.

    The plane is ``z = center + axes @ (u, v)``: the latent plane itself for a 2-D run, else the
    plane of the first two principal axes of the sequences' latent means through their mean.

    Attributes
    ----------
    u, v
        Grid coordinates along the two axes.
    mean, sd
        ``[len(v), len(u)]`` predicted phenotype and its sd on the grid.
    center, axes
        ``[d]`` and ``[d, 2]``: the plane in z.
    axis_names
        ``("z_0", "z_1")`` or ``("PC 1", "PC 2")``.
    points, labels
        The sequences' positions on the plane ``[N, 2]`` and their phenotype (NaN: unlabelled).
    label
        The phenotype's name.
    """

    u: np.ndarray
    v: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    center: np.ndarray
    axes: np.ndarray
    axis_names: tuple[str, str]
    points: np.ndarray
    labels: np.ndarray
    label: str

    def project(self, z: np.ndarray) -> np.ndarray:
        """Latent points ``[m, d]`` on the plane, ``[m, 2]`` (orthogonal projection)."""
        return (np.asarray(z, dtype=np.float64) - self.center) @ self.axes

    def save(self, path: str | Path) -> Path:
        """Write the map as a compressed NPZ, atomically."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(
                handle,
                u=self.u,
                v=self.v,
                mean=self.mean,
                sd=self.sd,
                center=self.center,
                axes=self.axes,
                axis_names=np.array(self.axis_names),
                points=self.points,
                labels=self.labels,
                label=np.array(self.label),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> PhenotypeMap:
        """Read a map written by :meth:`save` (no pickled objects)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                values = {key: data[key] for key in data.files}
            return cls(
                **{
                    key: values[key] for key in ("u", "v", "mean", "sd", "center", "axes", "points", "labels")
                },
                axis_names=tuple(str(a) for a in values["axis_names"]),  # type: ignore[arg-type]
                label=str(values["label"]),
            )
        except (OSError, ValueError, KeyError) as err:
            raise InputError(f"cannot read the phenotype map ({err})", path) from None


def phenotype_map(
    model: LatentPhenotypeModel, data: LabelledLatent, resolution: int = 80, margin: float = 0.1
) -> PhenotypeMap:
    """The model's prediction on a ``resolution`` × ``resolution`` grid covering the sequences'
    latent means (their range on the plane, widened by ``margin`` of it on each side)."""
    z = data.z
    d = z.shape[1]
    if d == 2:
        center, axes, names = np.zeros(2), np.eye(2), ("z_0", "z_1")
    else:
        center = z.mean(axis=0)
        _, _, vt = np.linalg.svd(z - center, full_matrices=False)
        axes = vt[:2].T
        # signs fixed by the largest loading, so reruns draw the same orientation
        axes = axes * np.sign(axes[np.abs(axes).argmax(axis=0), [0, 1]])
        names = ("PC 1", "PC 2")
    points = (z - center) @ axes
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * (high - low)
    u = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    v = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    uu, vv = np.meshgrid(u, v)
    grid = center + np.column_stack([uu.ravel(), vv.ravel()]) @ axes.T
    mean, sd = model.predict(grid)
    return PhenotypeMap(
        u=u,
        v=v,
        mean=mean.reshape(uu.shape),
        sd=sd.reshape(uu.shape),
        center=center,
        axes=axes,
        axis_names=names,
        points=points,
        labels=data.labels,
        label=data.label,
    )
