"""Structure files: one chain of a PDB or mmCIF file (plain or gzip), read with Biopython, and
residue-residue contact maps given as text.

A residue's *label* is its PDB residue number plus insertion code (``"184A"``). The format is
told by the content (an mmCIF file starts with ``data_``), so ``.ent``, ``.pdb.gz`` or a file
without a suffix all read.

Predicted models (AlphaFold convention) carry their per-residue confidence, pLDDT in [0, 100],
in the B-factor column. :func:`read_structure` reads it as confidence when the caller says so
(``confidence="plddt"``), never with ``confidence="none"``, and with ``"auto"`` (the default)
when the file declares a predicted model (an mmCIF ``_ma_qa_metric`` category, the ModelCIF
convention, or a header/title naming AlphaFold, ColabFold, ESMFold, RoseTTAFold or a predicted
model) or, failing a declaration, when its B-factors look like pLDDT and not like a crystal's:
every residue's atoms share one value, all values lie in [0, 100], they are not all equal, and
the model holds no water (refined structures have per-atom B-factors and waters; a predicted
model has neither). Some predictors (ESMFold) write pLDDT as a fraction: a predicted model
whose values all lie in [0, 1] is read on the 0-100 scale (times 100). Residues under
:data:`LOW_CONFIDENCE_PLDDT` are flagged.

A contact map (:func:`read_contact_map`) is whitespace columns ``i j score distance``, with
``i, j`` 1-based alignment columns and the distance in Å (``PF00595_struct.dat`` of ArDCA's data).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from Bio.PDB import MMCIFParser, PDBParser
from Bio.PDB.PDBExceptions import PDBConstructionException

from seqvae.errors import InputError
from seqvae.io.alignment_formats import read_text

THREE_TO_ONE = {
    "ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
    "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
    "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V", "MSE": "M", "SEC": "C", "PYL": "K",
}  # fmt: skip
#: pLDDT under this is low confidence (AlphaFold's own bands: < 70 "low", < 50 "very low")
LOW_CONFIDENCE_PLDDT = 70.0
CONFIDENCE_MODES = ("auto", "plddt", "none")
_PREDICTED = re.compile(
    r"ALPHAFOLD|COLABFOLD|ESMFOLD|ROSETTAFOLD|PREDICTED (MODEL|STRUCTURE)|PREDICTION", re.I
)
_WATERS = frozenset({"HOH", "WAT", "DOD", "H2O"})


@dataclass
class Structure:
    """The amino-acid residues of one chain.

    Attributes
    ----------
    labels
        Residue number plus insertion code, as written in the file (``"184A"``).
    sequence
        One-letter residues in chain order.
    atoms
        ``float [n_atoms, 3]`` heavy-atom coordinates of all residues, grouped by residue.
    atom_residue
        ``int [n_atoms]``: the residue index of each atom.
    beta
        ``float [R, 3]``: C-beta coordinates (C-alpha for glycine; NaN when missing).
    chain, source
        The chain's id and the file.
    bfactor
        ``float [R]``: the mean B-factor of each residue's heavy atoms.
    confidence
        ``float [R]``: pLDDT of a predicted model (see the module), else ``None``.
    confidence_rule
        Why ``confidence`` was read: ``declared`` (the file says it is a predicted model),
        ``per-residue B-factors`` (the auto rule), ``caller``; ``None`` when it was not.
    residues
        The Biopython residues kept, in order (for solvent accessibility and half-sphere exposure).
    """

    labels: list[str]
    sequence: str
    atoms: np.ndarray
    atom_residue: np.ndarray
    beta: np.ndarray
    chain: str
    source: str
    bfactor: np.ndarray | None = None
    confidence: np.ndarray | None = None
    confidence_rule: str | None = None
    residues: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_residues(self) -> int:
        return len(self.labels)

    @property
    def low_confidence(self) -> np.ndarray:
        """``bool [R]``: pLDDT under :data:`LOW_CONFIDENCE_PLDDT` (all ``False`` without confidence)."""
        if self.confidence is None:
            return np.zeros(self.n_residues, dtype=bool)
        return self.confidence < LOW_CONFIDENCE_PLDDT

    def index_of(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


def _read_text(path: Path) -> str:
    """The file's text through the project's one reader (gzip, UTF-8, errors naming the file);
    a ``.gz`` name must hold gzip data."""
    if path.name.lower().endswith(".gz") and path.read_bytes()[:2] != b"\x1f\x8b":
        raise InputError("cannot read the structure (not gzip: the name ends in .gz)", path)
    try:
        return read_text(path)
    except InputError as err:
        raise InputError(f"cannot read the structure ({err.message})", path, err.line) from None


def _is_mmcif(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("data_")
    return False


def _declares_prediction(header: dict, text: str, mmcif: bool) -> bool:
    if mmcif and re.search(r"^_ma_qa_metric", text, re.M):
        return True
    words = " ".join(str(header.get(key) or "") for key in ("name", "head", "keywords", "structure_method"))
    if not mmcif:
        words += " " + " ".join(
            line[10:] for line in text.splitlines()[:50] if line.startswith(("TITLE", "EXPDTA"))
        )
    return bool(_PREDICTED.search(words))


def read_structure(path: str | Path, chain: str | None = None, confidence: str = "auto") -> Structure:
    """Read one chain's amino-acid residues from a PDB or mmCIF file, plain or gzip (first model).

    Parameters
    ----------
    path
        The file (PDB or mmCIF, told by its content; ``.gz``: gzip).
    chain
        The chain's id; ``None``: the first chain that holds amino-acid residues.
    confidence
        ``auto``, ``plddt`` (the B-factor column is pLDDT) or ``none`` (it is a B-factor): see
        the module.

    Raises
    ------
    InputError
        The file is missing or not a structure, the chain is absent or has no amino-acid
        residue, or ``plddt`` was asked for and a value lies outside [0, 100].
    """
    path = Path(path)
    if confidence not in CONFIDENCE_MODES:
        raise InputError(f"confidence must be one of {', '.join(CONFIDENCE_MODES)}, got {confidence!r}")
    if not path.is_file():
        raise InputError("structure file not found", path)
    text = _read_text(path)
    mmcif = _is_mmcif(text)
    parser = MMCIFParser(QUIET=True) if mmcif else PDBParser(QUIET=True)
    try:
        model_set = parser.get_structure(path.name.split(".")[0] or "structure", io.StringIO(text))
    except (PDBConstructionException, ValueError, KeyError, IndexError, TypeError, AssertionError) as err:
        raise InputError(
            f"cannot parse the structure ({str(err).splitlines()[0] if str(err) else type(err).__name__})",
            path,
        ) from None
    models = list(model_set)
    if not models or not any(True for _ in models[0].get_atoms()):
        raise InputError("no atoms read: not a PDB or mmCIF structure", path)
    model = models[0]

    def amino_acids(chain_entity) -> list:
        kept = []
        for residue in chain_entity:
            hetero = residue.id[0]
            name = residue.get_resname().upper()
            if name not in THREE_TO_ONE or (hetero.strip() and name != "MSE"):
                continue
            if any(_is_heavy(a) for a in residue):
                kept.append(residue)
        return kept

    chains = [c.id for c in model]
    if chain is None:
        chain = next((c.id for c in model if amino_acids(c)), None)
        if chain is None:
            raise InputError("no chain with amino-acid residues", path)
    elif chain not in chains:
        raise InputError(f"chain {chain!r} not found (chains: {', '.join(chains) or 'none'})", path)
    residues = amino_acids(model[chain])
    if not residues:
        raise InputError(f"chain {chain!r} has no amino-acid residues", path)
    labels: list[str] = []
    letters: list[str] = []
    atoms: list[np.ndarray] = []
    atom_residue: list[int] = []
    beta: list[np.ndarray] = []
    bfactor: list[float] = []
    constant_b = True
    for index, residue in enumerate(residues):
        _, number, icode = residue.id
        heavy = [a for a in residue if _is_heavy(a)]
        labels.append(f"{number}{icode.strip()}")
        letters.append(THREE_TO_ONE[residue.get_resname().upper()])
        atoms.extend(np.asarray(a.coord, dtype=np.float64) for a in heavy)
        atom_residue.extend([index] * len(heavy))
        values = np.array([a.get_bfactor() for a in residue], dtype=np.float64)
        constant_b &= bool(np.ptp(values) < 1e-3)
        bfactor.append(float(np.mean([a.get_bfactor() for a in heavy])))
        anchor = residue["CB"] if "CB" in residue else residue["CA"] if "CA" in residue else None
        beta.append(np.full(3, np.nan) if anchor is None else np.asarray(anchor.coord, dtype=np.float64))
    b = np.asarray(bfactor)
    in_range = bool(((b >= 0) & (b <= 100)).all())
    rule = None
    if confidence == "plddt":
        if not in_range:
            raise InputError("the B-factor column is not pLDDT: values lie outside [0, 100]", path)
        rule = "caller"
    elif confidence == "auto" and in_range:
        if _declares_prediction(getattr(model_set, "header", {}) or {}, text, mmcif):
            rule = "declared"
        else:
            waters = any(r.get_resname().upper() in _WATERS for r in model.get_residues())
            if constant_b and np.ptp(b) > 0 and not waters:
                rule = "per-residue B-factors"
    plddt = None
    if rule:
        plddt = b * 100.0 if b.max() <= 1.0 else b.copy()
    return Structure(
        labels=labels,
        sequence="".join(letters),
        atoms=np.asarray(atoms, dtype=np.float64).reshape(-1, 3),
        atom_residue=np.asarray(atom_residue, dtype=np.int64),
        beta=np.asarray(beta, dtype=np.float64),
        chain=chain,
        source=str(path),
        bfactor=b,
        confidence=plddt,
        confidence_rule=rule,
        residues=residues,
    )


def _is_heavy(atom) -> bool:
    return (atom.element or atom.get_id()[0]).upper() not in ("H", "D")


@dataclass
class ContactMap:
    """Residue pairs of an alignment with their distances.

    Attributes
    ----------
    i, j
        ``int [n]``: 0-based alignment columns of each pair (the file's are 1-based).
    distance
        ``float [n]``: distance in Å.
    score
        ``float [n]``: the file's third column (kept, unused here).
    source
        The file.
    """

    i: np.ndarray
    j: np.ndarray
    distance: np.ndarray
    score: np.ndarray
    source: str

    def contact_numbers(self, n_columns: int, cutoff: float = 6.0, min_separation: int = 3) -> np.ndarray:
        """``float [n_columns]``: the number of partners of each column closer than ``cutoff`` Å
        with ``|i - j| >= min_separation``; NaN for a column no pair of the map holds."""
        counts = np.zeros(n_columns)
        inside = (self.i < n_columns) & (self.j < n_columns)
        i, j, d = self.i[inside], self.j[inside], self.distance[inside]
        contact = (d < cutoff) & (np.abs(i - j) >= min_separation) & (i != j)
        np.add.at(counts, i[contact], 1)
        np.add.at(counts, j[contact], 1)
        seen = np.zeros(n_columns, dtype=bool)
        seen[i] = True
        seen[j] = True
        counts[~seen] = np.nan
        return counts


def read_contact_map(path: str | Path) -> ContactMap:
    """A contact map: whitespace columns ``i j score distance`` (``i, j`` 1-based alignment
    columns, distance in Å), one pair per line; ``#`` starts a comment. Plain or gzip.

    Raises
    ------
    InputError
        Missing file, a line without four numbers, a column below 1 or a negative distance
        (naming the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("contact map not found", path)
    text = _read_text(path)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        parts = stripped.split()
        try:
            i, j, score, distance = (float(p) for p in parts[:4])
            if len(parts) < 4:
                raise ValueError
        except ValueError:
            raise InputError(
                "expected four numbers per line: i j score distance (1-based columns, Å)", path, number
            ) from None
        if i < 1 or j < 1 or i != int(i) or j != int(j) or not distance >= 0:
            raise InputError(
                f"columns must be whole numbers >= 1 and the distance >= 0 (got {parts[0]} {parts[1]} ... {parts[3]})",
                path,
                number,
            )
        rows.append((int(i) - 1, int(j) - 1, score, distance))
    if not rows:
        raise InputError("the contact map holds no pair", path)
    table = np.asarray(rows, dtype=np.float64)
    return ContactMap(
        i=table[:, 0].astype(np.int64),
        j=table[:, 1].astype(np.int64),
        distance=table[:, 3],
        score=table[:, 2],
        source=str(path),
    )
