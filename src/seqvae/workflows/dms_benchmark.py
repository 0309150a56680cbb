"""Train -> score -> evaluate on one deep mutational scan, for every model kind side by side: a
panel of one protein (:func:`~seqvae.workflows.dms_panel.run_panel`) laid out in one folder.

A workflow (it trains, then analyses), like :mod:`seqvae.workflows.dms_panel`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqvae.workflows.dms_panel import BENCHMARK_FILE, MODEL_KINDS, PanelProtein, run_panel

__all__ = ["BENCHMARK_FILE", "MODEL_KINDS", "run_dms_benchmark"]


def run_dms_benchmark(
    alignment: str | Path,
    dms: str | Path,
    score_col: str,
    out: str | Path,
    sep: str | None = None,
    mutation_separator: str | None = None,
    reference_sequence: str | Path | None = None,
    mutant_column: str | None = None,
    structure: str | Path | None = None,
    chain: str | None = None,
    contact_map: str | Path | None = None,
    reference: str | None = None,
    **settings: Any,
) -> list[dict]:
    """Fit each model on ``alignment``, score ``dms`` and evaluate against ``score_col``; resumable.

    The models go to ``out/<model>/`` (``site-independent``, ``potts``, ``vae_seed<k>``), each
    scan's scores to ``out/scores_<model>.csv`` with its evaluation ``out/eval_<model>.json``, and
    the rows to ``out/benchmark.json``. ``sep``, ``mutation_separator``, ``mutant_column``
    (default ``mutant``) and ``reference_sequence`` (a FASTA of the full wild type) say how to
    read the scan (see :func:`~seqvae.analysis.scoring.score_file`); ``reference`` is the id of
    the alignment's wild-type row. With ``structure`` (and ``chain``) or ``contact_map`` each
    model also gets a ``<model> + structure`` row: its scores made structure-aware by
    :data:`~seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`. ``settings`` are those of
    :func:`~seqvae.workflows.dms_panel.run_panel` (``models``, ``ensemble``, ``preset``,
    ``samples``, ``potts_iterations``, ``overrides``, ``threads``, ``jobs``, ``fast``, ``log``,
    ``executor``), and the rows are the panel's: a finished model is kept on rerun.

    Returns
    -------
    list of dict
        The rows of ``benchmark.json``, one per model: ``model``, the evaluation's fields
        (``spearman``, ``ci_low``, ``ci_high``, ``n_scored``, ``n_skipped``, …), ``train_s``
        (wall time of fitting), ``score_s`` (of scoring), ``active_dims`` and ``kl`` (of a VAE),
        ``n_eff`` and ``length`` (of the alignment).
    """
    protein = PanelProtein(
        name=Path(alignment).stem,
        alignment=Path(alignment),
        scan=Path(dms),
        score_column=score_col,
        reference=reference,
        sep=sep,
        mutant_column=mutant_column,
        mutation_separator=mutation_separator,
        reference_sequence=None if reference_sequence is None else Path(reference_sequence),
        structure=None if structure is None else Path(structure),
        chain=chain,
        contact_map=None if contact_map is None else Path(contact_map),
    )
    run_panel([protein], out, one_scan=True, **settings)
    return json.loads((Path(out) / BENCHMARK_FILE).read_text(encoding="utf-8"))
