"""Pairwise alignment of two sequences (Biopython): which residue of one is which of the other."""

from __future__ import annotations

import numpy as np
from Bio.Align import PairwiseAligner, substitution_matrices


def align_sequences(query: str, target: str) -> np.ndarray:
    """Map each residue of ``query`` to an index in ``target`` (-1 where unaligned).

    Global alignment with free end gaps (BLOSUM62, gap open -10, extend -0.5): robust to a
    structure that covers only part of the reference and vice versa.
    """
    aligner = PairwiseAligner()
    aligner.mode = "global"
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10.0
    aligner.extend_gap_score = -0.5
    aligner.end_gap_score = 0.0
    clean_q = query.upper().replace("X", "A")
    clean_t = target.upper().replace("X", "A")
    alignment = aligner.align(clean_q, clean_t)[0]
    mapping = np.full(len(query), -1, dtype=np.int64)
    for (q0, q1), (t0, t1) in zip(*alignment.aligned):
        mapping[q0:q1] = np.arange(t0, t1)
    return mapping
