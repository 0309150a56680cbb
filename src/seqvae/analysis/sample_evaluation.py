"""Judging generated sequences stored in files, as ``seqvae evaluate-samples`` does: read the
design and natural sets (coded with a run's registry when one is given), weight the natural set,
compute every statistic of :func:`seqvae.analysis.capacity.evaluate_samples`, and save the result.

The folder :meth:`SampleSetEvaluation.save` writes holds ``summary.json`` (the statistics and
where the sets came from), ``per_design.csv`` (nearest training sequence, reconstruction
stability) and ``r20.csv``; the figures (``statistics.png``, ``logos.png``, ``energies.png``) are
drawn by :func:`seqvae.plots.generation.plot_sample_evaluation`. ``seqvae report`` recognises such
a folder by :data:`PER_DESIGN_FILE`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from seqvae.analysis.capacity import SampleEvaluation, evaluate_samples
from seqvae.data.alignment import Alignment
from seqvae.data.weights import DEFAULT_THETA, compute_sequence_weights
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, ensure_directory, write_json
from seqvae.options import Boolean, Integer, Interval, OneOf, Optional, Options, register

# the files of an evaluation folder (the figures' names: seqvae.plots.generation)
EVALUATION_SUMMARY_FILE = "summary.json"
PER_DESIGN_FILE = "per_design.csv"  # the marker `seqvae report` looks for
R20_FILE = "r20.csv"

WEIGHTINGS = ("reference", "none")
R20_FLAT = ("drop", "zero")


@register
@dataclass
class EvaluationOptions(Options):
    """How to judge a design set (``seqvae evaluate-samples``'s options).

    Attributes
    ----------
    weighting
        ``reference``: weight the natural set by sequence weights computed within it at
        ``theta`` (designs are never weighted); ``none``.
    theta
        Identity threshold of the reference's sequence weights.
    include_gaps
        Count the gap as a state in the statistics; ``None``: yes, unless the run has no gap state.
    r20_sets, r20_flat
        Random position sets per n for r20, and its treatment of flat position sets (``drop`` or
        ``zero``; see :func:`seqvae.analysis.capacity.higher_order_r20`).
    max_pairs
        Pairs per set for the within-set Hamming distances.
    seed
        Seeds the r20 position sets and the pair sampling.
    coverage_threshold
        With a synthetic family: the identity to a pattern at which a design reaches it.
    """

    weighting: str = "reference"
    theta: float = DEFAULT_THETA
    include_gaps: bool | None = None
    r20_sets: int = 200
    r20_flat: str = "drop"
    max_pairs: int = 100_000
    seed: int = 0
    coverage_threshold: float = 0.8

    section: ClassVar[str] = "evaluation"
    constraints: ClassVar[dict] = {
        "weighting": OneOf(WEIGHTINGS),
        "theta": Interval(0.0, 1.0, closed="left"),
        "include_gaps": Optional(Boolean(), note="yes, unless the run has no gap state"),
        "r20_sets": Integer(1),
        "r20_flat": OneOf(R20_FLAT),
        "max_pairs": Integer(1),
        "seed": Integer(),
        "coverage_threshold": Interval(0.0, 1.0),
    }

    def validate(self) -> EvaluationOptions:
        """Check the options before any file is read; a bad one is a one-line :class:`ConfigError`
        naming the field (``evaluation.r20_sets``)."""
        return self.check()


@dataclass
class SampleSetEvaluation:
    """An evaluation of a design set read from files (see :func:`evaluate_sample_files`).

    Attributes
    ----------
    evaluation
        The statistics (:class:`~seqvae.analysis.capacity.SampleEvaluation`).
    designs, reference, training
        The sets as read (``training``: ``None`` without training sequences).
    reference_weights
        The natural set's sequence weights (``None``: unweighted).
    sources
        Where the sets came from: ``designs``, ``reference``, ``training`` and ``run`` (text, or
        ``None``), written first into ``summary.json``.
    numbering
        The run's reference numbering of the columns, for the logos (``None``: 1..L).
    """

    evaluation: SampleEvaluation
    designs: Alignment
    reference: Alignment
    training: Alignment | None = None
    reference_weights: np.ndarray | None = None
    sources: dict[str, str | None] | None = None
    numbering: list[int] | None = None

    @property
    def design_name(self) -> str:
        return Path(str((self.sources or {}).get("designs") or "designs")).name

    @property
    def reference_name(self) -> str:
        return Path(str((self.sources or {}).get("reference") or "reference")).name

    @property
    def title(self) -> str:
        """``DESIGNS vs REFERENCE`` (the file names)."""
        return f"{self.design_name} vs {self.reference_name}"

    def to_dict(self) -> dict[str, Any]:
        """What ``summary.json`` holds: the sources, then the statistics' summary."""
        return {**(self.sources or {}), **self.evaluation.summary}

    def to_frame(self) -> pd.DataFrame:
        """One row per design (``per_design.csv``): id, nearest training sequence and its Hamming
        distance (with training sequences), reconstruction stability (with a run)."""
        evaluation = self.evaluation
        per_design: dict[str, Any] = {"id": self.designs.ids}
        if evaluation.design_to_training is not None and self.training is not None:
            per_design["nearest_training_id"] = [
                self.training.ids[i] for i in evaluation.design_nearest_index
            ]
            per_design["hamming_to_nearest_training"] = evaluation.design_to_training
        if evaluation.design_stable is not None:
            per_design["reconstruction_stable"] = evaluation.design_stable
            per_design["redecoded_hamming"] = evaluation.design_redecoded_hamming
        return pd.DataFrame(per_design)

    def r20_frame(self) -> pd.DataFrame:
        """r20 per number of positions (``r20.csv``)."""
        r20 = self.evaluation.r20
        return pd.DataFrame(
            {"n": r20.n_values, "r20": r20.r20, "r20_std": r20.r20_std, "undefined_sets": r20.n_undefined}
        )

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``summary.json``, ``per_design.csv`` and ``r20.csv`` into ``out``, atomically
        (the figures: :func:`seqvae.plots.generation.plot_sample_evaluation`)."""
        out = ensure_directory(out)
        paths = {
            "summary": out / EVALUATION_SUMMARY_FILE,
            "per_design": out / PER_DESIGN_FILE,
            "r20": out / R20_FILE,
        }
        write_json(paths["summary"], self.to_dict())
        with atomic_open(paths["per_design"], "w", newline="", encoding="utf-8") as handle:
            self.to_frame().to_csv(handle, index=False)
        with atomic_open(paths["r20"], "w", newline="", encoding="utf-8") as handle:
            self.r20_frame().to_csv(handle, index=False, float_format="%.6g")
        return paths

    def table(self) -> list[tuple[str, str]]:
        """(statistic, value) rows for printing."""
        return self.evaluation.table()

    def describe(self) -> str:
        """How the sets were weighted and whether the gap counted as a state."""
        summary = self.evaluation.summary
        gaps = "counted" if summary["gap_is_state"] else "not counted"
        return f"weighting: {summary['weighting']}; gap {gaps} as a state"


def _read_set(path: str | Path, run: Any, alphabet: str) -> Alignment:
    if run is not None:
        return run.read_alignment(path)
    from seqvae.data.alignment import read_alignment

    return read_alignment(path, alphabet=alphabet)


def _load_family(family: str | Path, designs: Alignment, threshold: float):
    from seqvae.data.synthetic.associative_memory import load_patterns

    if not 0.0 < threshold <= 1.0:
        raise InputError(f"--coverage-threshold must be in (0, 1], got {threshold}", "--coverage-threshold")
    model = load_patterns(family)
    if model.length != designs.length:
        raise InputError(
            f"the family has length {model.length} but the designs have {designs.length} columns", family
        )
    if designs.alphabet.size - 1 != model.n_letters:
        raise InputError(
            f"the family has {model.n_letters} letters but the designs' alphabet has "
            f"{designs.alphabet.size - 1}: pass --run or --alphabet with the family's letters",
            family,
        )
    return model


def evaluate_sample_files(
    designs: str | Path,
    reference: str | Path,
    options: EvaluationOptions | None = None,
    *,
    training: str | Path | None = None,
    run: Any = None,
    alphabet: str = "protein",
    family: str | Path | None = None,
) -> SampleSetEvaluation:
    """Judge generated sequences in a file against natural ones, as ``seqvae evaluate-samples``.

    Parameters
    ----------
    designs
        Generated sequences (aligned FASTA).
    reference
        The natural target set (e.g. a held-out split), aligned to the same columns.
    options
        How to judge them (:class:`EvaluationOptions`; default: its defaults).
    training
        Training sequences, for the Hamming distance to the nearest one (default with ``run``:
        the run's).
    run
        The run that made the designs (a run directory or a :class:`~seqvae.Run`): adds
        reconstruction stability and codes the inputs with its registry.
    alphabet
        ``protein``, ``dna``, ``rna`` or residue letters (without ``run``).
    family
        A synthetic family's ``PREFIX_patterns.npz``: adds the energy distributions of designs vs
        reference and the coverage of the long patterns.

    Returns
    -------
    SampleSetEvaluation
        :meth:`SampleSetEvaluation.save` writes the command's data files.

    Raises
    ------
    InputError
        Bad options, unreadable files, or sets not aligned to the same columns / alphabet.
    """
    options = (options or EvaluationOptions()).validate()
    run_source = None
    if run is not None:
        if isinstance(run, str | Path):
            from seqvae.run import load

            run_source, run = str(run), load(run)
        else:
            run_source = str(run.path)
        if run.registry is None:
            raise InputError("this run models continuous data, not sequences", run_source)
    design_set = _read_set(designs, run, alphabet)
    reference_set = _read_set(reference, run, alphabet)
    if design_set.length != reference_set.length:
        raise InputError(
            f"designs have {design_set.length} columns but the reference has {reference_set.length}: "
            "both must be aligned to the same columns",
            reference,
        )
    if design_set.alphabet.symbols != reference_set.alphabet.symbols:
        raise InputError("designs and reference are coded with different alphabets", reference)
    training_set = None
    if training is not None:
        training_set = _read_set(training, run, alphabet)
        if training_set.length != design_set.length:
            raise InputError(
                f"training sequences have {training_set.length} columns but the designs have "
                f"{design_set.length}: all sets must be aligned to the same columns",
                training,
            )
    elif run is not None:
        training_set = run.training_alignment()
    include_gaps = options.include_gaps
    if include_gaps is None:
        include_gaps = True if run is None else bool(run.model.config.model_gaps)
    family_model = None if family is None else _load_family(family, design_set, options.coverage_threshold)

    reference_weights = None
    note = "designs unweighted, reference unweighted"
    if options.weighting == "reference":
        reference_weights = compute_sequence_weights(
            reference_set.codes, reference_set.alphabet.gap_code, options.theta
        )
        note = (
            f"designs unweighted, reference weighted (theta={options.theta:g} within the reference set, "
            f"N_eff={reference_weights.sum():.1f})"
        )
    evaluation = evaluate_samples(
        design_set,
        reference_set,
        training=training_set,
        run=run,
        reference_weights=reference_weights,
        weighting_note=note,
        include_gaps=include_gaps,
        r20_sets=options.r20_sets,
        r20_flat=options.r20_flat,
        max_pairs=options.max_pairs,
        seed=options.seed,
        energy_fn=None if family_model is None else family_model.energy,
        patterns=None if family_model is None else family_model.long_patterns,
        overlap_threshold=options.coverage_threshold,
    )
    numbering = None
    if run is not None and np.all(run.registry.numbering >= 0):
        numbering = [int(v) for v in run.registry.numbering]
    sources = {
        "designs": str(designs),
        "reference": str(reference),
        "training": str(training) if training is not None else run_source,
        "run": run_source,
    }
    return SampleSetEvaluation(
        evaluation, design_set, reference_set, training_set, reference_weights, sources, numbering
    )
