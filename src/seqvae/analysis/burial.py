"""How buried each position of a run's reference is, from a structure or a contact map.

Every measure lies in [0, 1], 1 = buried:

* ``rsa``: 1 - relative solvent accessibility. The accessible surface of each residue by
  Shrake & Rupley (1973) (Biopython's ``ShrakeRupley``, probe 1.4 Å, 100 points per atom, on the
  chain's heavy atoms alone: no other chain, ligand or water), divided by the maximum ASA of its
  residue type, the "theoretical" values of Tien, Meyer, Sydykova, Spielman & Wilke (2013),
  *Maximum allowed solvent accessibilites of residues in proteins*, PLoS ONE 8:e80635
  (:data:`MAX_ASA`); clipped to [0, 1].
* ``neighbours``: C-beta atoms (C-alpha for glycine) within :data:`NEIGHBOUR_RADIUS` Å of the
  residue's C-beta, over :data:`COUNT_SCALES` ``["neighbours"]``, capped at 1.
* ``hse``: half-sphere exposure (Hamelryck 2005): the C-alpha atoms within :data:`HSE_RADIUS` Å
  in the half-sphere the residue's C-alpha→C-beta vector points to (Biopython ``HSExposureCB``,
  the "up" count), over its scale, capped at 1.
* ``contacts``: the contact number, residues closer than :data:`CONTACT_CUTOFF` Å (minimum
  heavy-atom distance) with ``|i - j| >= CONTACT_MIN_SEPARATION``, over its scale, capped at 1.
  The one measure a contact map without coordinates gives (PDZ3's ``PF00595_struct.dat``), and
  the one predicted contacts give: a position matrix on the run's focus columns (a Potts
  baseline's ``couplings_apc.npz``, ``seqvae couplings``' ``couplings.npz``), whose strongest
  ``L`` pairs with ``|i - j| >= PREDICTED_MIN_SEPARATION`` count as contacts.

The counts are scaled by fixed numbers (:data:`COUNT_SCALES`, about the 95th percentile of each
count over TEM-1 (1FQG), avGFP (a predicted model) and Sho1 SH3 (2VKN)), not by a chain's
maximum, so a residue gets the same value whatever the chain's length. A contact map's
distances are its own: PF00595's put residues i, i+2 at 2.6 Å (hydrogens, or the minimum over
several structures), so its contact numbers run about twice as high, and they have their own
scale (``contact_map``, the 95th percentile of PF00595's at 6 Å).

A structure reaches the run through its reference: the chain's sequence is aligned to the
reference row's residues (:func:`seqvae.data.pairwise.align_sequences`); a chain whose aligned
residues are under :data:`MIN_STRUCTURE_IDENTITY` identical, or that covers no focus column, is
refused in one line. A contact map is numbered by the alignment's own columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seqvae.analysis.contacts import residue_distances
from seqvae.data.pairwise import align_sequences
from seqvae.errors import InputError
from seqvae.io.matrix_file import PositionMatrix, load_matrix_npz
from seqvae.io.structure_files import (
    LOW_CONFIDENCE_PLDDT,
    ContactMap,
    Structure,
    read_contact_map,
    read_structure,
)

if TYPE_CHECKING:
    from seqvae.data.alignment import AlignmentRegistry

MEASURES = ("rsa", "neighbours", "hse", "contacts")
#: Tien et al. 2013, PLoS ONE 8:e80635, Table 1, "theoretical" maximum ASA (Å²)
MAX_ASA = {
    "A": 129.0, "R": 274.0, "N": 195.0, "D": 193.0, "C": 167.0, "E": 223.0, "Q": 225.0, "G": 104.0,
    "H": 224.0, "I": 197.0, "L": 201.0, "K": 236.0, "M": 224.0, "F": 240.0, "P": 159.0, "S": 155.0,
    "T": 172.0, "W": 285.0, "Y": 263.0, "V": 174.0,
}  # fmt: skip
NEIGHBOUR_RADIUS = 10.0
HSE_RADIUS = 13.0
CONTACT_CUTOFF = 6.0
CONTACT_MIN_SEPARATION = 3
#: the count at which a count measure reaches burial 1 (fixed: see the module)
COUNT_SCALES = {"neighbours": 28.0, "hse": 32.0, "contacts": 17.0, "contact_map": 40.0, "predicted": 5.0}
PREDICTED_MIN_SEPARATION = 6
#: a chain must carry the reference's residue at this fraction of its aligned positions
MIN_STRUCTURE_IDENTITY = 0.5


def _heavy_chain(structure: Structure):
    """A Biopython model holding a copy of the chain's kept residues, heavy atoms only."""
    from Bio.PDB.Chain import Chain
    from Bio.PDB.Model import Model

    model = Model(0)
    chain = Chain(structure.chain)
    model.add(chain)
    for residue in structure.residues:
        copy = residue.copy()
        for atom in list(copy):
            if (atom.element or atom.get_id()[0]).upper() in ("H", "D"):
                copy.detach_child(atom.get_id())
        chain.add(copy)
    return model, chain


def relative_accessibility(structure: Structure) -> np.ndarray:
    """``float [R]``: each residue's Shrake–Rupley ASA over its maximum (Tien et al. 2013), not clipped."""
    from Bio.PDB.SASA import ShrakeRupley

    if not structure.residues:
        raise InputError("the structure holds no residue objects (read it with read_structure)")
    _, chain = _heavy_chain(structure)
    ShrakeRupley().compute(chain, level="R")
    return np.array(
        [residue.sasa / MAX_ASA[letter] for residue, letter in zip(chain, structure.sequence)],
        dtype=np.float64,
    )


def residue_counts(structure: Structure) -> dict[str, np.ndarray]:
    """The raw counts per residue: ``neighbours``, ``hse`` (up), ``contacts`` (NaN where an atom is missing)."""
    from Bio.PDB.HSExposure import HSExposureCB

    beta = structure.beta
    diff = beta[:, None, :] - beta[None, :, :]
    with np.errstate(invalid="ignore"):
        within = np.sqrt((diff**2).sum(-1)) < NEIGHBOUR_RADIUS
    neighbours = within.sum(1).astype(np.float64) - 1.0
    neighbours[np.isnan(beta).any(1)] = np.nan
    model, chain = _heavy_chain(structure)
    HSExposureCB(model, radius=HSE_RADIUS)
    hse = np.array([float(residue.xtra.get("EXP_HSE_B_U", np.nan)) for residue in chain])
    distances = residue_distances(structure, "heavy")
    index = np.arange(structure.n_residues)
    far = np.abs(index[:, None] - index[None, :]) >= CONTACT_MIN_SEPARATION
    contacts = ((distances < CONTACT_CUTOFF) & far).sum(1).astype(np.float64)
    return {"neighbours": neighbours, "hse": hse, "contacts": contacts}


def scaled(counts: np.ndarray, scale: str) -> np.ndarray:
    """A count in [0, 1]: ``min(count / COUNT_SCALES[scale], 1)`` (NaN stays NaN)."""
    return np.minimum(np.asarray(counts, dtype=np.float64) / COUNT_SCALES[scale], 1.0)


def residue_burial(structure: Structure) -> dict[str, np.ndarray]:
    """Every measure per structure residue, ``{measure: float [R]}`` in [0, 1] (1 = buried)."""
    values = {"rsa": 1.0 - np.clip(relative_accessibility(structure), 0.0, 1.0)}
    for measure, counts in residue_counts(structure).items():
        values[measure] = scaled(counts, measure)
    return {m: values[m] for m in MEASURES}


@dataclass
class PositionBurial:
    """Burial of each focus column of a run's reference.

    Attributes
    ----------
    values
        ``{measure: float [L]}`` in [0, 1] (1 = buried), NaN where the structure does not cover
        the column (or the reference has a gap there); a contact map gives ``contacts`` only.
    numbering, wild_type
        The registry's residue number (-1: a gap in the reference) and letter of each column.
    labels
        The structure residue of each column (``''``: none); a contact map: its column (1-based).
    confidence, low_confidence
        pLDDT of a predicted model per column (NaN where uncovered; ``None``: not a predicted
        model) and its flag (pLDDT < 70).
    n_focus, n_covered
        Focus columns with a reference residue, and those the structure covers.
    identity
        Fraction of the aligned chain residues that carry the reference's residue (``None``
        for a contact map).
    source, chain, kind
        The file, the chain read, and ``structure`` or ``contact map``.
    """

    values: dict[str, np.ndarray]
    numbering: np.ndarray
    wild_type: str
    labels: list[str]
    confidence: np.ndarray | None
    n_focus: int
    n_covered: int
    identity: float | None
    source: str
    chain: str | None = None
    kind: str = "structure"
    confidence_rule: str | None = None

    @property
    def length(self) -> int:
        return len(self.numbering)

    @property
    def measures(self) -> tuple[str, ...]:
        return tuple(self.values)

    @property
    def covered(self) -> np.ndarray:
        """``bool [L]``: columns the structure covers."""
        return np.array([label != "" for label in self.labels])

    @property
    def low_confidence(self) -> np.ndarray:
        """``bool [L]``: covered columns whose pLDDT is under 70."""
        if self.confidence is None:
            return np.zeros(self.length, dtype=bool)
        with np.errstate(invalid="ignore"):
            return self.confidence < LOW_CONFIDENCE_PLDDT

    def burial(self, measure: str) -> np.ndarray:
        """``float [L]``: one measure (see :attr:`measures`)."""
        if measure not in self.values:
            have = ", ".join(self.values)
            raise InputError(
                f"burial measure {measure!r} is not available from this {self.kind} (have: {have})"
            )
        return self.values[measure]

    def to_frame(self) -> pd.DataFrame:
        """One row per focus column: ``column`` (1-based), ``position``, ``wild_type``, ``label``,
        each measure, and ``plddt`` / ``low_confidence`` for a predicted model."""
        frame = pd.DataFrame(
            {
                "column": np.arange(1, self.length + 1),
                "position": self.numbering.astype(np.int64),
                "wild_type": list(self.wild_type),
                "label": self.labels,
                **{measure: values for measure, values in self.values.items()},
            }
        )
        if self.confidence is not None:
            frame["plddt"] = self.confidence
            frame["low_confidence"] = self.low_confidence
        return frame

    def to_dict(self) -> dict[str, Any]:
        """The mapping summary (plain JSON types)."""
        return {
            "file": self.source,
            "kind": self.kind,
            "chain": self.chain,
            "focus_positions": self.n_focus,
            "covered_positions": self.n_covered,
            "identity": None if self.identity is None else round(float(self.identity), 4),
            "predicted_model": self.confidence is not None,
            "low_confidence_positions": int(self.low_confidence.sum()),
        }

    def describe(self) -> str:
        """One line: the file, the chain, coverage and identity (and low-confidence positions)."""
        where = Path(self.source).name + (f" chain {self.chain}" if self.chain else "")
        identity = "" if self.identity is None else f", identity {self.identity:.0%}"
        low = ""
        if self.confidence is not None:
            low = f"; predicted model: {int(self.low_confidence.sum())} covered positions with pLDDT < 70"
        return f"{where} covers {self.n_covered} of {self.n_focus} focus positions{identity}{low}"

    def __repr__(self) -> str:
        """One line (the arrays are not printed): the :meth:`describe` line and the measures."""
        return f"PositionBurial({self.describe()}; measures {', '.join(self.measures)})"


def _reference_residues(registry: AlignmentRegistry) -> tuple[str, np.ndarray]:
    """The reference row's residue letters, and for each focus column its index among them (-1: gap)."""
    residues = "".join(c for c in registry.reference_raw if c.isalpha()).upper()
    numbering = np.asarray(registry.numbering, dtype=np.int64)
    index = np.where(numbering >= 0, numbering - int(registry.reference_start), -1)
    return residues, index


def structure_burial(
    registry: AlignmentRegistry,
    structure: str | Path | Structure,
    chain: str | None = None,
    confidence: str = "auto",
) -> PositionBurial:
    """Burial of a run's focus columns from a structure (a file or a read :class:`Structure`).

    The chain's sequence is aligned to the reference row's residues (all of them, inserts
    included, for a better alignment); a focus column is covered when its reference residue
    is aligned to a chain residue.

    Raises
    ------
    InputError
        The file is not a structure, the chain is absent, its aligned residues are under
        :data:`MIN_STRUCTURE_IDENTITY` identical to the reference, or it covers no focus column.
    """

    chain_residues = (
        structure if isinstance(structure, Structure) else read_structure(structure, chain, confidence)
    )
    source = chain_residues.source
    residues, index = _reference_residues(registry)
    mapped = align_sequences(residues, chain_residues.sequence)  # reference residue -> chain residue
    aligned = mapped >= 0
    n_aligned = int(aligned.sum())
    identical = sum(residues[k] == chain_residues.sequence[mapped[k]] for k in np.flatnonzero(aligned))
    identity = identical / n_aligned if n_aligned else 0.0
    where = f"chain {chain_residues.chain}"
    if identity < MIN_STRUCTURE_IDENTITY:
        raise InputError(
            f"{where} does not match the reference {registry.reference_id}: {identity:.0%} of its "
            f"{n_aligned} aligned residues are identical (at least {MIN_STRUCTURE_IDENTITY:.0%} needed)",
            source,
        )
    residue_of = np.where(index >= 0, mapped[np.clip(index, 0, None)], -1)
    residue_of[index < 0] = -1
    n_focus = int((index >= 0).sum())
    n_covered = int((residue_of >= 0).sum())
    if n_covered == 0:
        raise InputError(
            f"{where} covers none of the {n_focus} focus positions of {registry.reference_id}", source
        )
    per_residue = residue_burial(chain_residues)
    covered = residue_of >= 0

    def per_column(values: np.ndarray) -> np.ndarray:
        out = np.full(len(residue_of), np.nan)
        out[covered] = values[residue_of[covered]]
        return out

    return PositionBurial(
        values={measure: per_column(values) for measure, values in per_residue.items()},
        numbering=np.asarray(registry.numbering, dtype=np.int64),
        wild_type=registry.reference_sequence,
        labels=[chain_residues.labels[r] if r >= 0 else "" for r in residue_of],
        confidence=None if chain_residues.confidence is None else per_column(chain_residues.confidence),
        n_focus=n_focus,
        n_covered=n_covered,
        identity=float(identity),
        source=source,
        chain=chain_residues.chain,
        kind="structure",
        confidence_rule=chain_residues.confidence_rule,
    )


def contact_map_burial(
    registry: AlignmentRegistry,
    contact_map: str | Path | ContactMap,
    cutoff: float = CONTACT_CUTOFF,
    min_separation: int = CONTACT_MIN_SEPARATION,
) -> PositionBurial:
    """Burial (``contacts`` only) of a run's focus columns from a contact map numbered by the
    alignment's columns (1-based, all columns of the file's rows, inserts included).

    Raises
    ------
    InputError
        The map numbers columns beyond the alignment's, or covers no focus column.
    """
    pairs = contact_map if isinstance(contact_map, ContactMap) else read_contact_map(contact_map)
    largest = int(max(pairs.i.max(), pairs.j.max())) + 1
    if largest > registry.raw_length:
        raise InputError(
            f"the contact map numbers columns up to {largest}; the alignment of {registry.reference_id} "
            f"has {registry.raw_length}: is it numbered by another alignment?",
            pairs.source,
        )
    numbers = pairs.contact_numbers(registry.raw_length, cutoff, min_separation)
    focus = np.asarray(registry.focus_columns, dtype=np.int64)
    numbering = np.asarray(registry.numbering, dtype=np.int64)
    per_column = numbers[focus]
    per_column[numbering < 0] = np.nan
    covered = ~np.isnan(per_column)
    n_focus = int((numbering >= 0).sum())
    if not covered.any():
        raise InputError(f"the contact map covers none of the {n_focus} focus positions", pairs.source)
    return PositionBurial(
        values={"contacts": scaled(per_column, "contact_map")},
        numbering=numbering,
        wild_type=registry.reference_sequence,
        labels=[str(c + 1) if ok else "" for c, ok in zip(focus, covered)],
        confidence=None,
        n_focus=n_focus,
        n_covered=int(covered.sum()),
        identity=None,
        source=pairs.source,
        kind="contact map",
    )


def predicted_contact_burial(
    registry: AlignmentRegistry,
    matrix: str | Path | Any,
    n_pairs: int | None = None,
    min_separation: int = PREDICTED_MIN_SEPARATION,
) -> PositionBurial:
    """Burial (``contacts``) from predicted contacts: the ``n_pairs`` (default: the number of
    focus columns with a reference residue, L) strongest pairs of a position matrix on the run's
    focus columns with ``|i - j| >= min_separation`` (reference numbering) are contacts; a
    position's count is scaled by ``COUNT_SCALES["predicted"]`` (the 95th percentile of the
    counts of PDZ3's Potts model, ``couplings_apc.npz``, with L pairs), capped at 1. A weak
    proxy: on PDZ3 these counts follow the true contact numbers only loosely (Spearman 0.19).

    Raises
    ------
    InputError
        The matrix is not on this run's focus columns (its size or numbering differs).
    """

    positions = matrix if isinstance(matrix, PositionMatrix) else load_matrix_npz(matrix)
    numbering = np.asarray(registry.numbering, dtype=np.int64)
    if positions.length != len(numbering) or (
        positions.numbering is not None and list(positions.numbering) != list(numbering)
    ):
        raise InputError(
            f"the matrix has {positions.length} positions, not the {len(numbering)} focus columns of "
            f"{registry.reference_id} (numbered as its registry): predicted contacts must come from "
            "a model of this alignment",
            positions.source,
        )
    present = numbering >= 0
    i, j = np.triu_indices(len(numbering), k=1)
    keep = present[i] & present[j] & (np.abs(numbering[i] - numbering[j]) >= min_separation)
    i, j = i[keep], j[keep]
    values = np.asarray(positions.matrix, dtype=np.float64)[i, j]
    n = int(present.sum()) if n_pairs is None else int(n_pairs)
    order = np.argsort(-values, kind="stable")[: max(0, n)]
    counts = np.zeros(len(numbering))
    np.add.at(counts, i[order], 1)
    np.add.at(counts, j[order], 1)
    counts[~present] = np.nan
    n_focus = int(present.sum())
    return PositionBurial(
        values={"contacts": scaled(counts, "predicted")},
        numbering=numbering,
        wild_type=registry.reference_sequence,
        labels=[str(c + 1) if ok else "" for c, ok in enumerate(present)],
        confidence=None,
        n_focus=n_focus,
        n_covered=n_focus,
        identity=None,
        source=str(positions.source),
        kind="predicted contacts",
    )


def position_burial(
    registry: AlignmentRegistry,
    structure: str | Path | Structure | None = None,
    chain: str | None = None,
    contact_map: str | Path | ContactMap | None = None,
    confidence: str = "auto",
) -> PositionBurial:
    """Burial of a run's focus columns from a structure (``seqvae score --structure``) or, without
    one, a contact map (``--contact-map``): a text map of distances (:func:`contact_map_burial`)
    or, as ``.npz``, a position matrix of predicted contacts (:func:`predicted_contact_burial`);
    exactly one of them."""
    if (structure is None) == (contact_map is None):
        raise InputError("give a structure or a contact map (exactly one)")
    if structure is not None:
        return structure_burial(registry, structure, chain, confidence)
    assert contact_map is not None  # exactly one of them
    if chain is not None:
        raise InputError("a chain applies to a structure, not to a contact map")
    if isinstance(contact_map, str | Path) and str(contact_map).lower().endswith(".npz"):
        return predicted_contact_burial(registry, contact_map)
    return contact_map_burial(registry, contact_map)
