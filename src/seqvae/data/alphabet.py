"""Alphabets map residue letters to small integer codes (stored as ``uint8``).

Convention used everywhere in seqvae: the gap is the *last* code, ``alphabet.gap_code ==
alphabet.size - 1``, so the residue states are ``range(alphabet.n_residues)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqvae.errors import InputError

INVALID_CODE = 255

PROTEIN_RESIDUES = "ACDEFGHIKLMNPQRSTVWY"
# Letters that are amino-acid symbols but not one of the 20 standard residues (IUPAC
# ambiguity codes, selenocysteine, pyrrolysine, unknown). They are filtered, not rejected.
PROTEIN_NONSTANDARD = "BJOUXZ"
DNA_RESIDUES = "ACGT"
RNA_RESIDUES = "ACGU"
NUCLEOTIDE_NONSTANDARD = "NRYSWKMBDHV"


@dataclass(frozen=True)
class Alphabet:
    """A residue alphabet plus a gap symbol.

    Parameters
    ----------
    residues
        The residue letters, in code order (upper case).
    gap
        The gap letter written in outputs. ``.`` is read as a gap too.
    nonstandard
        Letters accepted in input but not modelled (dropped or mapped to gap by a filter).
    name
        A short name saved in run registries.
    """

    residues: str
    gap: str = "-"
    nonstandard: str = ""
    name: str = "custom"
    _lookup: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.residues)) != len(self.residues) or not self.residues:
            raise InputError(
                f"alphabet residues must be distinct and non-empty: {self.residues!r}", "alphabet"
            )
        bad = [c for c in self.residues if c in "-.>#/" or c.isspace() or not c.isprintable() or ord(c) > 126]
        if bad:
            raise InputError(
                f"alphabet residues must be printable ASCII other than '-', '.', '>', '#', '/': {bad[0]!r}",
                "alphabet",
            )
        if self.gap in self.residues or len(self.gap) != 1:
            raise InputError(f"gap symbol {self.gap!r} must be one character not in the residues", "alphabet")
        if len(self.residues) + 1 >= INVALID_CODE:
            raise InputError("alphabet too large for uint8 codes")
        lookup = np.full(256, INVALID_CODE, dtype=np.uint8)
        for code, letter in enumerate(self.residues):
            lookup[ord(letter)] = code
            lookup[ord(letter.lower())] = code
        lookup[ord(self.gap)] = self.gap_code
        lookup[ord(".")] = self.gap_code
        object.__setattr__(self, "_lookup", lookup)

    @property
    def n_residues(self) -> int:
        """Number of residue states (gap excluded)."""
        return len(self.residues)

    @property
    def size(self) -> int:
        """Number of codes including the gap."""
        return len(self.residues) + 1

    @property
    def gap_code(self) -> int:
        return len(self.residues)

    @property
    def symbols(self) -> str:
        """All letters in code order, gap last."""
        return self.residues + self.gap

    def is_nonstandard(self, letters: np.ndarray) -> np.ndarray:
        """Boolean mask of byte values that are non-standard residue letters."""
        table = np.zeros(256, dtype=bool)
        for letter in self.nonstandard:
            table[ord(letter)] = True
            table[ord(letter.lower())] = True
        return table[letters]

    def encode_bytes(self, letters: np.ndarray) -> np.ndarray:
        """Map an array of ASCII byte values to codes; unknown letters become ``INVALID_CODE``."""
        return self._lookup[letters]

    def encode(self, sequence: str) -> np.ndarray:
        """Encode one sequence string; raises :class:`InputError` on unknown letters."""
        codes = self.encode_bytes(np.frombuffer(sequence.encode("ascii", "replace"), np.uint8))
        bad = np.flatnonzero(codes == INVALID_CODE)
        if bad.size:
            raise InputError(
                f"letter {sequence[bad[0]]!r} at position {bad[0] + 1} is not in the "
                f"{self.name} alphabet {self.symbols!r}"
            )
        return codes

    def decode(self, codes: np.ndarray) -> str:
        """Codes back to a string."""
        table = np.frombuffer(self.symbols.encode("ascii"), np.uint8)
        return table[np.asarray(codes, dtype=np.intp)].tobytes().decode("ascii")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "residues": self.residues,
            "gap": self.gap,
            "nonstandard": self.nonstandard,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Alphabet:
        return cls(
            residues=data["residues"],
            gap=data.get("gap", "-"),
            nonstandard=data.get("nonstandard", ""),
            name=data.get("name", "custom"),
        )


PROTEIN = Alphabet(PROTEIN_RESIDUES, nonstandard=PROTEIN_NONSTANDARD, name="protein")
DNA = Alphabet(DNA_RESIDUES, nonstandard=NUCLEOTIDE_NONSTANDARD + "U", name="dna")
RNA = Alphabet(RNA_RESIDUES, nonstandard=NUCLEOTIDE_NONSTANDARD + "T", name="rna")

_NAMED = {"protein": PROTEIN, "dna": DNA, "rna": RNA}


def get_alphabet(name_or_residues: str) -> Alphabet:
    """An alphabet by name (``protein``, ``dna``, ``rna``) or from a string of residue letters."""
    if name_or_residues.lower() in _NAMED:
        return _NAMED[name_or_residues.lower()]
    return Alphabet(name_or_residues.upper(), name="custom")
