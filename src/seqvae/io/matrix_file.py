"""The position-matrix NPZ convention shared by ``seqvae sca``, ``couplings``, ``compare`` and
``contacts`` (and any other producer of an L x L matrix, e.g. a Potts model's coupling norms).

An NPZ file holds:

``matrix``
    ``float64 [L, L]``, symmetric: one value per pair of positions (diagonal ignored by
    comparisons and contact predictions).
``numbering`` (optional)
    ``int64 [L]``: each position's residue number in the reference sequence, -1 where the
    reference has a gap. Used to align two matrices and to compute sequence separation.
``labels`` (optional)
    ``str [L]``: each position's residue label in a structure's numbering (e.g. ``"184A"``
    with an insertion code); empty string where unmapped. Preferred over ``numbering`` to
    align two matrices and to map positions onto a structure.
``residues`` (optional)
    ``str [L]``: the reference's one-letter residue at each position (``-`` for a gap); lets
    ``contacts`` check (or do) the mapping onto a structure by sequence.
``kind`` (optional)
    ``str``: what the matrix is (``sca``, ``vae``, ``pca``, ``potts``...).

Anything else in the file (eigenvectors, sectors, ...) is kept in :attr:`PositionMatrix.extra`.

Coupling matrices are also written as a ranked pair table CSV (:func:`save_pair_table`:
``i, A_i, j, A_j, score``, EVcouplings' columns) for tools that read contacts as pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.errors import InputError
from seqvae.io.atomic import write_csv, write_npz

RESERVED_KEYS = ("matrix", "numbering", "labels", "residues", "kind")


@dataclass
class PositionMatrix:
    """An L x L matrix over alignment positions, with optional reference numbering and labels."""

    matrix: np.ndarray
    numbering: np.ndarray | None = None
    labels: np.ndarray | None = None
    residues: np.ndarray | None = None
    kind: str = ""
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        matrix = np.asarray(self.matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
            raise InputError(
                f"'matrix' must be a square L x L array with L >= 2, got shape {matrix.shape}", self.source
            )
        if not np.isfinite(matrix).all():
            raise InputError("'matrix' contains NaN or infinite values", self.source)
        self.matrix = matrix
        length = matrix.shape[0]
        if self.numbering is not None:
            self.numbering = np.asarray(self.numbering, dtype=np.int64)
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=str)
        if self.residues is not None:
            self.residues = np.asarray(self.residues, dtype=str)
        for name in ("numbering", "labels", "residues"):
            value = getattr(self, name)
            if value is not None and value.shape != (length,):
                raise InputError(
                    f"'{name}' must have one entry per position ({length}), got shape {value.shape}",
                    self.source,
                )

    @property
    def length(self) -> int:
        return int(self.matrix.shape[0])

    def position_keys(self) -> tuple[str, np.ndarray] | None:
        """The best available per-position keys for aligning with another matrix.

        Returns ``("labels", array)``, ``("numbering", array)`` or ``None``; unmapped positions
        have the key ``""``/``-1``.
        """
        if self.labels is not None and (self.labels != "").any():
            return "labels", self.labels
        if self.numbering is not None and (self.numbering >= 0).any():
            return "numbering", self.numbering
        return None

    def subset(self, index: np.ndarray) -> PositionMatrix:
        """The matrix restricted to (and reordered by) the given positions."""
        index = np.asarray(index, dtype=np.int64)

        def pick(value):
            return None if value is None else value[index]

        return PositionMatrix(
            matrix=self.matrix[np.ix_(index, index)],
            numbering=pick(self.numbering),
            labels=pick(self.labels),
            residues=pick(self.residues),
            kind=self.kind,
            extra={},
            source=self.source,
        )


def save_matrix_npz(
    path: str | Path,
    matrix: np.ndarray,
    *,
    numbering: np.ndarray | None = None,
    labels: np.ndarray | list[str] | None = None,
    residues: np.ndarray | list[str] | str | None = None,
    kind: str = "",
    **extra: np.ndarray,
) -> Path:
    """Write a position matrix NPZ atomically (see the module docstring for the keys)."""
    if isinstance(residues, str):
        residues = list(residues)
    checked = PositionMatrix(
        matrix,
        numbering,
        None if labels is None else np.asarray(labels, str),
        None if residues is None else np.asarray(residues, str),
        kind,
    )
    arrays: dict[str, Any] = {"matrix": checked.matrix, "kind": np.asarray(kind)}
    if checked.numbering is not None:
        arrays["numbering"] = checked.numbering
    if checked.labels is not None:
        arrays["labels"] = checked.labels
    if checked.residues is not None:
        arrays["residues"] = checked.residues
    for key, value in extra.items():
        if key in RESERVED_KEYS:
            raise ValueError(f"{key!r} is a reserved key")
        arrays[key] = np.asarray(value)
    return write_npz(path, **arrays)


def pair_table(
    matrix: np.ndarray,
    numbering: np.ndarray | None = None,
    residues: np.ndarray | list[str] | str | None = None,
) -> pd.DataFrame:
    """Every pair ``i < j`` of a symmetric position matrix, ranked by score (highest first).

    The columns follow EVcouplings' coupling-score tables: ``i``, ``A_i``, ``j``, ``A_j``,
    ``score``. ``i``/``j`` are the positions' reference residue numbers (``numbering``; -1 where
    the reference has a gap), or 1-based column numbers without one; ``A_i``/``A_j`` the
    reference residues (empty without them). Ties keep the order of ``(i, j)``.
    """
    checked = PositionMatrix(
        matrix, numbering, residues=None if residues is None else np.asarray(list(residues), str)
    )
    length = checked.length
    rows, cols = np.triu_indices(length, k=1)
    scores = checked.matrix[rows, cols]
    order = np.argsort(-scores, kind="stable")
    rows, cols, scores = rows[order], cols[order], scores[order]
    number = checked.numbering if checked.numbering is not None else np.arange(1, length + 1)
    letter = checked.residues if checked.residues is not None else np.full(length, "")
    return pd.DataFrame(
        {"i": number[rows], "A_i": letter[rows], "j": number[cols], "A_j": letter[cols], "score": scores}
    )


def save_pair_table(
    path: str | Path,
    matrix: np.ndarray,
    *,
    numbering: np.ndarray | None = None,
    residues: np.ndarray | list[str] | str | None = None,
) -> Path:
    """Write :func:`pair_table` as CSV atomically (every producer of a coupling matrix uses it)."""
    return write_csv(path, pair_table(matrix, numbering, residues), "%.6g")


def load_matrix_npz(path: str | Path) -> PositionMatrix:
    """Read a position matrix NPZ; a missing file or a missing/ill-shaped ``matrix`` is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable NPZ file ({err})", path) from None
    with data:
        if "matrix" not in data.files:
            raise InputError(f"no 'matrix' array (keys: {', '.join(data.files) or 'none'})", path)
        arrays = {key: data[key] for key in data.files}
    kind = str(arrays.pop("kind")) if "kind" in arrays else ""
    return PositionMatrix(
        matrix=arrays.pop("matrix"),
        numbering=arrays.pop("numbering", None),
        labels=arrays.pop("labels", None),
        residues=arrays.pop("residues", None),
        kind=kind,
        extra=arrays,
        source=str(path),
    )
