"""A generated set of sequences, one row of annotations each, and the files it is saved to.

Designs decoded from a VAE run's latent space and samples drawn from a baseline are the same
result (:class:`SequenceSet`): ids, coded sequences and one score each (the ELBO of a design, the
log-likelihood or Hamiltonian of a baseline sample); designs also carry the latent points they
were decoded from and their nearest training sequence.

The files of a set are named after its FASTA: ``designs.fasta``, ``designs.csv`` (one row per
sequence), ``designs.json`` (the settings) and, for an interpolation, ``designs.png`` (the figure
drawn by :func:`seqvae.plots.generation.plot_design_figures`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.analysis.drawable import Drawable
from seqvae.data.alphabet import Alphabet
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, write_csv, write_json

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


def numbered_ids(prefix: str, n: int, first: int = 1, digits: int = 5) -> list[str]:
    """``n`` ids ``prefix_00001`` … counted from ``first``, zero-padded to ``digits`` (more when
    ``n`` needs them), so that they sort in draw order."""
    width = max(digits, len(str(n)))
    return [f"{prefix}_{i:0{width}d}" for i in range(first, first + n)]


@dataclass(repr=False)
class SequenceSet(Drawable):
    """Generated sequences with their score and annotations (:meth:`to_frame`, :meth:`save`;
    :meth:`plot`: a sequence logo, or an interpolation's path).

    Attributes
    ----------
    ids
        ``design_00001`` … (``interp_000`` … along an interpolation, ``sample_00001`` … from a
        baseline).
    codes
        ``uint8 [n, L]``.
    score
        ``[n]`` one score per sequence, named ``score_name``: a design's ELBO under the run (NaN
        when skipped), or log p(x) under a baseline — exact for the site-independent model, up
        to the (unknown) log partition function for a Potts model (``hamiltonian``).
    alphabet
        For writing letters.
    score_name
        ``elbo``, ``log_likelihood`` or ``hamiltonian``: the score's column in the CSV and its
        key in the FASTA headers.
    z
        ``float32 [n, d]`` the latent points designs were decoded from; ``None`` for samples
        from a baseline, which has no latent space.
    nearest_id, nearest_hamming
        Designs: the nearest training (natural) sequence and the Hamming distance to it.
    extra
        Additional per-sequence columns (interpolation: ``t``, ``hamming_to_a``, ``hamming_to_b``).
    metadata
        Settings: run or baseline, seed, decoding, temperature, region, counts.
    """

    ids: list[str]
    codes: np.ndarray
    score: np.ndarray
    alphabet: Alphabet
    score_name: str = "elbo"
    z: np.ndarray | None = None
    nearest_id: list[str] | None = None
    nearest_hamming: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def elbo(self) -> np.ndarray:
        """The score of designs by its name: each design's ELBO."""
        return self.score

    @property
    def log_likelihood(self) -> np.ndarray:
        """The score of baseline samples by its name: log p(x) (a Potts model: the Hamiltonian)."""
        return self.score

    @property
    def is_design(self) -> bool:
        """Decoded from a VAE's latent space (``False``: sampled from a baseline)."""
        return self.z is not None

    def __len__(self) -> int:
        return len(self.ids)

    def sequences(self) -> list[str]:
        return [self.alphabet.decode(row) for row in self.codes]

    def table(self) -> pd.DataFrame:
        """One row per sequence: id, sequence, z_* (designs), the score, the nearest natural and
        its Hamming distance (designs), extras."""
        data: dict[str, Any] = {"id": self.ids, "sequence": self.sequences()}
        if self.z is not None:
            for k in range(self.z.shape[1]):
                data[f"z_{k}"] = self.z[:, k]
        data[self.score_name] = self.score
        if self.nearest_id is not None:
            data["nearest_natural_id"] = self.nearest_id
            data["nearest_natural_hamming"] = self.nearest_hamming
        data.update(self.extra)
        return pd.DataFrame(data)

    def _facts(self) -> dict[str, str]:
        scores = self.score[np.isfinite(self.score)]
        kind = "interpolation" if "t" in self.extra else ("designs" if self.is_design else "samples")
        return {
            kind: str(len(self)),
            "L": str(self.codes.shape[1]) if self.codes.ndim == 2 else "",
            f"median {self.score_name}": f"{float(np.median(scores)):.2f}" if scores.size else "",
            "median Hamming to nearest natural": (
                f"{float(np.median(self.nearest_hamming)):.0f}" if self.nearest_hamming is not None else ""
            ),
        }

    def to_frame(self) -> pd.DataFrame:
        """The CSV :meth:`save` writes (the same as :meth:`table`)."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The settings and counts :meth:`save` writes as JSON beside the FASTA."""
        return dict(self.metadata)

    def save(self, fasta_path: str | Path = DESIGNS_FASTA) -> dict[str, Path]:
        """Write the FASTA (each header notes the score), the CSV and the JSON of settings
        (:func:`sequence_set_files`), atomically. A path without a suffix (or an existing
        directory) is a folder: ``designs.fasta`` and its files go into it.

        Returns
        -------
        dict
            ``fasta``, ``table`` and ``settings`` paths.
        """
        fasta_path = Path(fasta_path)
        if fasta_path.is_dir() or not fasta_path.suffix:  # a folder: the default file name in it
            fasta_path.mkdir(parents=True, exist_ok=True)
            fasta_path = fasta_path / DESIGNS_FASTA
        if fasta_path.suffix.lower() in (TABLE_SUFFIX, SETTINGS_SUFFIX):
            raise InputError("the output should be a FASTA file (.fasta/.fa)", fasta_path)
        paths = sequence_set_files(fasta_path)
        del paths["figure"]
        # a skipped ELBO is NaN: such headers carry the id only
        notes = [f" {self.score_name}={value:.3f}" if np.isfinite(value) else "" for value in self.score]
        with atomic_open(paths["fasta"], "w", encoding="utf-8") as handle:
            for name, sequence, note in zip(self.ids, self.sequences(), notes):
                handle.write(f">{name}{note}\n{sequence}\n")
        write_csv(paths["table"], self.table(), "%.6g")
        write_json(paths["settings"], self.metadata)
        return paths

    def write(self, fasta_path: str | Path) -> tuple[Path, Path, Path]:
        """Write the FASTA, the CSV and the JSON of settings, atomically; their paths."""
        paths = self.save(fasta_path)
        return paths["fasta"], paths["table"], paths["settings"]

    def describe(self) -> str:
        """One line: designs — how many, their median ELBO and their distance to the training
        set; baseline samples — how they were drawn and their score (a Potts model: whether the
        chains settled)."""
        if self.is_design:
            assert self.nearest_hamming is not None
            elbo = (
                f"median ELBO {float(np.median(self.score)):.2f}"
                if self.metadata.get("elbo_samples")
                else "ELBO skipped"
            )
            return (
                f"{len(self)} designs ({self.metadata['decoding']}): {elbo}, "
                f"median Hamming to nearest natural {np.median(self.nearest_hamming):.0f}, "
                f"{int((self.nearest_hamming == 0).sum())} identical to a training sequence"
            )
        if self.metadata.get("model") == "potts":
            before, last = self.metadata["mean_hamiltonian_last_two_tenths"]
            return (
                f"{len(self)} Gibbs samples from the Potts model ({self.metadata['sweeps']} sweeps): "
                f"mean H {before:.2f} over the second-last tenth of the sweeps, {last:.2f} over the last "
                "(close values: the chains have settled; otherwise raise --sweeps)"
            )
        return (
            f"{len(self)} samples from the site-independent model: median log-likelihood "
            f"{float(np.median(self.score)):.2f}"
        )

    @property
    def note(self) -> str | None:
        """What to tell a reader about gaps (a model without a gap state draws none), or ``None``."""
        if self.metadata.get("model_gaps", True):
            return None
        if self.is_design:
            return "note: the run has no gap state (model_gaps=False), so the designs contain no gaps"
        return "note: fitted without --model-gaps, so the samples contain no gaps"


# the names of a set by where it came from: designs from a VAE run, samples from a baseline
DesignSet = SequenceSet
SampleSet = SequenceSet
