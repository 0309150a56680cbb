"""Judging generated sequences stored in files, as ``seqvae evaluate-samples`` does: read the
design and natural sets (coded with a run's registry when one is given), weight the natural set,
compute every statistic of :func:`evaluate_samples`, and save the result.

The folder :meth:`SampleSetEvaluation.save` writes holds ``summary.json`` (the statistics and
where the sets came from), ``per_design.csv`` (nearest training sequence, reconstruction
stability) and ``r20.csv``; the figures (``statistics.png``, ``logos.png``, ``energies.png``) are
drawn by :func:`seqvae.plots.generation.plot_sample_evaluation`. ``seqvae report`` recognises such
a folder by :data:`PER_DESIGN_FILE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from seqvae.analysis.capacity import (
    PairwiseComparison,
    R20Result,
    check_codes,
    compare_connected_correlations,
    higher_order_r20,
    nearest_sequences,
    pairwise_hamming,
    pearson,
    site_frequencies,
)
from seqvae.analysis.pattern_recovery import (
    EnergyFn,
    OverlapFn,
    PatternCoverage,
    energy_comparison,
    pattern_coverage,
)
from seqvae.analysis.reconstruction import predictable_positions, reconstruction_stability
from seqvae.data.alignment import Alignment, read_alignment
from seqvae.data.synthetic.associative_memory import load_patterns
from seqvae.data.weights import DEFAULT_THETA, compute_sequence_weights
from seqvae.errors import InputError
from seqvae.io.atomic import ensure_directory, write_csv, write_json
from seqvae.options import Boolean, Integer, Interval, OneOf, Optional, Options, register
from seqvae.run import load

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
        "coverage_threshold": Interval(0.0, 1.0, closed="right"),
    }

    def validate(self) -> EvaluationOptions:
        """Check the options before any file is read; a bad one is a one-line :class:`ConfigError`
        naming the field (``evaluation.r20_sets``)."""
        return self.check()


@dataclass
class SampleEvaluation:
    """The statistics of :func:`evaluate_samples`; ``summary`` is JSON-ready, the rest feeds figures."""

    summary: dict[str, Any]
    n_codes: int
    design_frequencies: np.ndarray
    reference_frequencies: np.ndarray
    pairwise: PairwiseComparison
    r20: R20Result
    design_to_training: np.ndarray | None = None
    reference_to_training: np.ndarray | None = None
    design_nearest_index: np.ndarray | None = None
    design_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    reference_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    design_stable: np.ndarray | None = None
    design_redecoded_hamming: np.ndarray | None = None
    design_redecoded_identity: np.ndarray | None = None
    reference_stable: np.ndarray | None = None
    reference_redecoded_identity: np.ndarray | None = None
    coverage: PatternCoverage | None = None
    energies: dict[str, Any] | None = None

    def table(self) -> list[tuple[str, str]]:
        """(statistic, value) rows for printing."""
        s = self.summary
        rows = [
            ("designs / reference sequences", f"{s['n_designs']} / {s['n_reference']}"),
            ("single-site frequency r", f"{s['single_site_r']:.4f}"),
            ("pairwise connected-correlation r", f"{s['pairwise_r']:.4f}"),
            ("r20 (mean over n)", f"{s['r20_mean']:.4f}"),
        ]
        for key, label in (
            ("design_hamming_to_training_median", "designs: median Hamming to nearest training"),
            ("reference_hamming_to_training_median", "reference: median Hamming to nearest training"),
            ("design_pairwise_hamming_median", "designs: median pairwise Hamming"),
            ("reference_pairwise_hamming_median", "reference: median pairwise Hamming"),
            ("design_reconstruction_stability", "designs: re-encode/decode to themselves"),
            ("reference_reconstruction_stability", "reference: re-encode/decode to themselves"),
            ("design_redecode_identity_mean", "designs: identity to own re-decoding"),
            ("reference_redecode_identity_mean", "reference: identity to own re-decoding"),
            ("pattern_coverage", "patterns reached"),
        ):
            if s.get(key) is not None:
                value = s[key]
                digits = 1 if "hamming" in key else 4
                rows.append((label, f"{value:.{digits}f}" if isinstance(value, float) else str(value)))
        if s.get("patterns") and s["patterns"].get("missed"):
            rows.append(("patterns missed", " ".join(str(i + 1) for i in s["patterns"]["missed"])))
        if s.get("energy"):
            energy = s["energy"]
            rows.append(
                (
                    "energy: designs / reference (mean ± sd)",
                    f"{energy['designs']['mean']:.2f} ± {energy['designs']['std']:.2f} / "
                    f"{energy['reference']['mean']:.2f} ± {energy['reference']['std']:.2f}",
                )
            )
            rows.append(
                ("energy: KS statistic (p)", f"{energy['ks_statistic']:.3f} ({energy['ks_pvalue']:.2g})")
            )
        return rows


def _codes_of(data: Any, name: str) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Codes, weights (if an Alignment carries them) and alphabet size of an input."""
    if isinstance(data, Alignment):
        return check_codes(data.codes, name), data.sequence_weights, data.alphabet.size
    return check_codes(data, name), None, None


def _median(values: np.ndarray | None) -> float | None:
    return None if values is None or values.size == 0 else float(np.median(values))


def _mean(values: np.ndarray | None) -> float | None:
    return None if values is None else float(values.mean())


def _coded_sets(
    designs: Any, reference: Any, training: Any, n_codes: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """The sets' codes and the alphabet size; sets of other columns or alphabets are refused."""
    design_codes, _, design_q = _codes_of(designs, "designs")
    reference_codes, _, reference_q = _codes_of(reference, "reference")
    if design_codes.shape[1] != reference_codes.shape[1]:
        raise InputError(
            f"designs have {design_codes.shape[1]} columns but the reference has "
            f"{reference_codes.shape[1]}: both must be aligned to the same columns"
        )
    known = {q for q in (design_q, reference_q) if q is not None}
    if len(known) > 1:
        raise InputError("designs and reference are coded with different alphabets")
    if n_codes is None:
        n_codes = known.pop() if known else 21
    top_code = int(max(design_codes.max(), reference_codes.max()))
    if top_code >= n_codes:
        raise InputError(f"codes go up to {top_code} but the alphabet has only {n_codes} codes")
    if training is None:
        return design_codes, reference_codes, None, n_codes
    training_codes, _, training_q = _codes_of(training, "training")
    if training_q is not None and training_q != n_codes:
        raise InputError("the training set is coded with a different alphabet")
    if training_codes.shape[1] != design_codes.shape[1]:
        raise InputError(
            f"training sequences have {training_codes.shape[1]} columns but designs have "
            f"{design_codes.shape[1]}: all sets must be aligned to the same columns"
        )
    return design_codes, reference_codes, training_codes, n_codes


def _compared_statistics(
    design_codes: np.ndarray,
    reference_codes: np.ndarray,
    n_codes: int,
    design_weights: np.ndarray | None,
    reference_weights: np.ndarray | None,
    *,
    include_gaps: bool,
    r20_n_values: Sequence[int],
    r20_sets: int,
    r20_flat: str,
    max_pairs: int,
    seed: int,
) -> SampleEvaluation:
    """The statistics every evaluation has: frequencies, pairwise correlations and r20 of the
    designs against the reference, and the Hamming distances within each set."""
    return SampleEvaluation(
        summary={},
        n_codes=n_codes,
        design_frequencies=site_frequencies(design_codes, n_codes, design_weights, include_gaps),
        reference_frequencies=site_frequencies(reference_codes, n_codes, reference_weights, include_gaps),
        pairwise=compare_connected_correlations(
            reference_codes,
            design_codes,
            n_codes,
            reference_weights,
            design_weights,
            include_gaps=include_gaps,
            seed=seed,
        ),
        r20=higher_order_r20(
            reference_codes,
            design_codes,
            n_codes,
            n_values=r20_n_values,
            n_sets=r20_sets,
            target_weights=reference_weights,
            sample_weights=design_weights,
            seed=seed,
            flat=r20_flat,
        ),
        design_pairs=pairwise_hamming(design_codes, max_pairs, seed),
        reference_pairs=pairwise_hamming(reference_codes, max_pairs, seed + 1),
    )


def _redecoding(model: Any, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each sequence, encoded to its latent mean and decoded by argmax, gives itself
    back; the Hamming distance to that re-decoding; and the identity over the positions the
    model predicts."""
    if model.config.length != codes.shape[1]:
        raise InputError(f"sequences have {codes.shape[1]} columns but the run expects {model.config.length}")
    stable, hamming = reconstruction_stability(model, codes)
    counted = predictable_positions(model, codes).sum(axis=1)
    return stable, hamming, 1.0 - hamming / np.maximum(counted, 1)


def _add_redecoding(
    evaluation: SampleEvaluation, model: Any, design_codes: np.ndarray, reference_codes: np.ndarray
) -> None:
    """Reconstruction stability of both sets (of the reference, to tell the model's own bar)."""
    (
        evaluation.design_stable,
        evaluation.design_redecoded_hamming,
        evaluation.design_redecoded_identity,
    ) = _redecoding(model, design_codes)
    evaluation.reference_stable, _, evaluation.reference_redecoded_identity = _redecoding(
        model, reference_codes
    )


def _weighted(weights: np.ndarray | None) -> str:
    return "unweighted" if weights is None else "weighted"


def evaluate_samples(
    designs: Any,
    reference: Any,
    *,
    n_codes: int | None = None,
    training: Any = None,
    run: Any = None,
    design_weights: np.ndarray | None = None,
    reference_weights: np.ndarray | None = None,
    weighting_note: str | None = None,
    include_gaps: bool = True,
    r20_n_values: Sequence[int] = tuple(range(2, 11)),
    r20_sets: int = 200,
    r20_flat: str = "drop",
    max_pairs: int = 100_000,
    seed: int = 0,
    energy_fn: EnergyFn | None = None,
    patterns: Any = None,
    overlap_fn: OverlapFn | None = None,
    overlap_threshold: float = 0.8,
) -> SampleEvaluation:
    """Judge a set of generated sequences against a natural (target) set.

    Parameters
    ----------
    designs, reference
        Coded sets ``uint8 [N, L]`` or :class:`~seqvae.Alignment` objects, aligned to the same
        columns and coded with the same alphabet. ``reference`` is the target (held-out natural
        sequences); ``designs`` are the model's samples.
    n_codes
        Alphabet size including the gap; taken from an Alignment when not given.
    training
        The training sequences, for the Hamming distance of each set to its nearest training
        sequence (optional; codes or Alignment).
    run
        A :class:`~seqvae.Run`: adds reconstruction stability (the fraction of sequences that,
        encoded to their latent mean and decoded by argmax, give themselves back).
    design_weights, reference_weights
        Per-sequence weights for the frequency statistics and r20; ``None`` = unweighted.
        Weights carried by an Alignment are *not* used implicitly: pass them here.
    weighting_note
        Free text recorded in the summary (e.g. how the weights were made).
    include_gaps
        Count the gap as a state in frequencies and correlations (turn off to compare a model
        trained with ``model_gaps=False``, whose samples never contain gaps).
    r20_n_values, r20_sets, seed
        r20 position-set sizes, sets per size and the seed for position sets and pair sampling.
    r20_flat
        r20's treatment of position sets with flat sample frequencies (``"drop"``, HOM_r20's,
        or ``"zero"``; see :func:`seqvae.analysis.capacity.higher_order_r20`).
    max_pairs
        Pairs of sequences for the within-set Hamming distributions (all pairs when fewer).
    energy_fn
        For synthetic families: energies of sequences (codes → [N]); the design and reference
        energy distributions are compared.
    patterns, overlap_fn, overlap_threshold
        For synthetic families: known patterns and how to measure overlap with them
        (:func:`seqvae.analysis.pattern_recovery.pattern_coverage`).
    """
    design_codes, reference_codes, training_codes, n_codes = _coded_sets(
        designs, reference, training, n_codes
    )
    evaluation = _compared_statistics(
        design_codes,
        reference_codes,
        n_codes,
        design_weights,
        reference_weights,
        include_gaps=include_gaps,
        r20_n_values=r20_n_values,
        r20_sets=r20_sets,
        r20_flat=r20_flat,
        max_pairs=max_pairs,
        seed=seed,
    )
    if training_codes is not None:
        index, distance = nearest_sequences(design_codes, training_codes, n_codes)
        evaluation.design_nearest_index = index
        evaluation.design_to_training = distance
        evaluation.reference_to_training = nearest_sequences(reference_codes, training_codes, n_codes)[1]
    if run is not None:
        _add_redecoding(evaluation, run.model, design_codes, reference_codes)
    if patterns is not None:
        evaluation.coverage = pattern_coverage(design_codes, patterns, overlap_fn, overlap_threshold)
    if energy_fn is not None:
        evaluation.energies = energy_comparison(energy_fn, design_codes, reference_codes)
    weighting = (
        weighting_note or f"designs {_weighted(design_weights)}, reference {_weighted(reference_weights)}"
    )
    sets = (design_codes, reference_codes, training_codes)
    evaluation.summary = _summary(evaluation, sets, weighting, include_gaps, r20_sets, seed)
    return evaluation


def _summary(
    evaluation: SampleEvaluation,
    sets: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    weighting: str,
    include_gaps: bool,
    r20_sets: int,
    seed: int,
) -> dict[str, Any]:
    """The JSON-ready statistics of an evaluation (``summary.json``'s keys, in its order)."""
    design_codes, reference_codes, training_codes = sets
    to_training = evaluation.design_to_training
    coverage, energies = evaluation.coverage, evaluation.energies
    return {
        "n_designs": int(design_codes.shape[0]),
        "n_reference": int(reference_codes.shape[0]),
        "n_training": None if training_codes is None else int(training_codes.shape[0]),
        "length": int(design_codes.shape[1]),
        "n_codes": int(evaluation.n_codes),
        "gap_is_state": bool(include_gaps),
        "weighting": weighting,
        "single_site_r": pearson(
            evaluation.reference_frequencies.reshape(-1), evaluation.design_frequencies.reshape(-1)
        ),
        "pairwise_r": evaluation.pairwise.r,
        "pairwise_values": evaluation.pairwise.n_values,
        "r20_mean": evaluation.r20.mean(),
        "r20": evaluation.r20.to_dict(),
        "r20_sets_per_n": int(r20_sets),
        "seed": int(seed),
        "design_hamming_to_training_median": _median(to_training),
        "design_hamming_to_training_mean": _mean(to_training),
        "design_hamming_to_training_min": None if to_training is None else int(to_training.min()),
        "design_exact_copies_of_training": None if to_training is None else int((to_training == 0).sum()),
        "reference_hamming_to_training_median": _median(evaluation.reference_to_training),
        "reference_hamming_to_training_mean": _mean(evaluation.reference_to_training),
        "design_pairwise_hamming_median": _median(evaluation.design_pairs),
        "reference_pairwise_hamming_median": _median(evaluation.reference_pairs),
        "design_unique_fraction": float(np.unique(design_codes, axis=0).shape[0] / design_codes.shape[0]),
        "design_reconstruction_stability": _mean(evaluation.design_stable),
        "reference_reconstruction_stability": _mean(evaluation.reference_stable),
        "design_redecode_identity_mean": _mean(evaluation.design_redecoded_identity),
        "reference_redecode_identity_mean": _mean(evaluation.reference_redecoded_identity),
        "pattern_coverage": None if coverage is None else coverage.fraction,
        "patterns": None if coverage is None else coverage.to_dict(),
        "energy": None
        if energies is None
        else {k: v for k, v in energies.items() if not k.endswith("energies")},
    }


@dataclass
class SampleSetEvaluation:
    """An evaluation of a design set read from files (see :func:`evaluate_sample_files`).

    Attributes
    ----------
    evaluation
        The statistics (:class:`SampleEvaluation`).
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
        if evaluation.design_nearest_index is not None and self.training is not None:
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
        write_csv(paths["per_design"], self.to_frame())
        write_csv(paths["r20"], self.r20_frame(), "%.6g")
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
    return read_alignment(path, alphabet=alphabet)


def _load_family(family: str | Path, designs: Alignment):
    model = load_patterns(family)
    if model.length != designs.length:
        raise InputError(
            f"the family has length {model.length} but the designs have {designs.length} columns", family
        )
    if designs.alphabet.size - 1 != model.n_letters:
        raise InputError(
            f"the family has {model.n_letters} letters but the designs' alphabet has "
            f"{designs.alphabet.size - 1}: read them with a run or an alphabet of the family's letters",
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
            run_source, run = str(run), load(run)
        else:
            run_source = str(run.path)
        run.sequence_registry()  # refuses a run on other data
    design_set, reference_set, training_set = _read_sets(designs, reference, training, run, alphabet)
    include_gaps = options.include_gaps
    if include_gaps is None:
        include_gaps = True if run is None else bool(run.model.config.model_gaps)
    family_model = None if family is None else _load_family(family, design_set)
    reference_weights, note = _reference_weights(reference_set, options)
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


def _read_sets(
    designs: str | Path, reference: str | Path, training: str | Path | None, run: Any, alphabet: str
) -> tuple[Alignment, Alignment, Alignment | None]:
    """The design, reference and training sets (without a file: the run's training set, if a
    run is given), refused unless aligned to the same columns and alphabet."""
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
    if training is None:
        return design_set, reference_set, None if run is None else run.training_alignment()
    training_set = _read_set(training, run, alphabet)
    if training_set.length != design_set.length:
        raise InputError(
            f"training sequences have {training_set.length} columns but the designs have "
            f"{design_set.length}: all sets must be aligned to the same columns",
            training,
        )
    return design_set, reference_set, training_set


def _reference_weights(reference_set: Alignment, options: EvaluationOptions) -> tuple[np.ndarray | None, str]:
    """The natural set's sequence weights as ``options.weighting`` says, and how they were made."""
    if options.weighting != "reference":
        return None, "designs unweighted, reference unweighted"
    weights = compute_sequence_weights(reference_set.codes, reference_set.alphabet.gap_code, options.theta)
    return weights, (
        f"designs unweighted, reference weighted (theta={options.theta:g} within the reference set, "
        f"N_eff={weights.sum():.1f})"
    )
