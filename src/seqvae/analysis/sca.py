"""Statistical Coupling Analysis (Halabi et al. 2009; Rivoire et al. 2016) giving pySCA 7's numbers.

Steps (defaults are pySCA 7's, see ``SCAOptions``; checked side by side with pySCA 7 on S1A by
``benchmarks/bench_sca_parity.py`` and pinned by ``tests/analysis/test_sca_parity.py``). This module holds
the options, step 1, :func:`run_sca` and its files; steps 2-5 are in :mod:`seqvae.analysis.sca_matrix`,
step 6 in :mod:`seqvae.analysis.sca_sectors`.

1. **Preprocessing.** Drop columns with >= 80 % gaps; then keep sequences with < 20 % gaps
   and an identity to the reference strictly between 15 % and 85 % (the reference is always
   kept); weight them (gaps as a 21st letter, 85 % identity cut-off, as pySCA's filterSeq)
   and drop columns whose *weighted* gap fraction is >= 30 %; weight again on the final
   alignment with an 80 % cut-off. (pySCA's own intermediate weights count matches in uint8,
   which wraps past 255 columns; seqvae counts exactly. On S1A both keep the same 239 columns.)
2. **Frequencies.** Weighted single and pair frequencies over the 20 residues (a gap is an
   all-zero row), regularised like pySCA 7's ``freq``: ``f_i^a <- (1 - λ) f_i^a + λ/21``,
   ``f_ij^ab <- (1 - λ) f_ij^ab + λ/21²`` for i != j and ``f_i^a δ_ab`` (regularised) on the
   diagonal blocks; for conservation and position weights the single-site pseudocount is
   drawn toward the background ``q`` instead (pySCA's ``posWeights``), λ = 0.03. The pair
   pseudocount before pySCA's April 2020 fix is ``pair_regularisation="pre2020"``.
3. **Conservation** ``D_i`` (relative entropy to ``(1 - θ) q`` plus the gap term, θ = mean
   gap frequency) and **position weights** ``φ_i^a = |ln[f(1 - q) / ((1 - f) q)]|``.
4. **SCA matrix** ``C̃_ij = ‖φ_i^a φ_j^b (f_ij^ab - f_i^a f_j^b)‖_F`` over the 20 x 20 block.
   Only residues present at a position enter the matrix products (see :func:`seqvae.analysis.sca_matrix.sca_matrix`);
   an unweighted alignment (the randomised ones) is counted exactly in int8/bfloat16/float32.
5. **Spectrum and significance.** Eigenvalues in descending order (vectors signed so their
   mean is >= 0). Each randomised alignment resamples every column independently from its
   (regularised) weighted frequencies, gaps included, with round(N_eff) sequences; modes
   above the mean second eigenvalue of the randomised matrices (plus ``significance_std``
   standard deviations) are significant. The count is repeated over several randomisation
   seeds to show how stable it is.
6. **ICA and sectors.** pySCA's infomax ICA (Bell & Sejnowski's natural-gradient rule,
   relaxation 0.1 / L, stopped once the squared change of the unmixing matrix is <= 1e-15)
   on the top ``k`` eigenvectors; each IC's positions are those above the ``sector_quantile``
   of a Student-t fitted to the IC's entries, read off pySCA's 100-point grid; a position
   selected by several ICs goes to the IC whose positions it is most correlated with (norm of
   its row of ``C̃`` over them). Each IC's positions form one "sector" group here; pySCA
   leaves merging ICs into sectors to the user.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from seqvae.analysis.sca_matrix import (
    PAIR_REGULARISATIONS,
    SCAMatrix,
    count_significant,
    eigen_decomposition,
    randomised_eigenvalues,
    sca_matrix,
    significance_cutoff,
)
from seqvae.analysis.sca_sectors import SECTOR_CUTOFFS, ICGroups, ic_positions, infomax_ica, sector_overlaps
from seqvae.data.alignment import Alignment
from seqvae.data.pairwise import align_sequences
from seqvae.data.weights import compute_sequence_weights
from seqvae.errors import ConfigError, InputError
from seqvae.io.atomic import write_csv, write_json
from seqvae.io.matrix_file import save_matrix_npz
from seqvae.options import Integer, Interval, OneOf, Optional, Options, register

# the files of an SCA folder (`seqvae report` recognises one by SCA_FILE; the figures' names:
# seqvae.plots.matrices)
SCA_FILE = "sca.npz"
SCA_POSITIONS_FILE = "positions.csv"
SCA_SUMMARY_FILE = "summary.json"
PUBLISHED_OVERLAPS_FILE = "published_sector_overlaps.json"

BOUNDS = ("strict", "inclusive")


@register
@dataclass(frozen=True)
class SCAOptions(Options):
    """SCA settings; the defaults are pySCA 7's.

    Parameters
    ----------
    initial_column_gaps
        Drop columns whose (unweighted) gap fraction is >= this first.
    max_sequence_gaps
        Then keep sequences whose gap fraction is < this (pySCA's strict bound).
    min_identity, max_identity
        Then keep sequences whose identity to the reference (matching letters, gaps
        included, over the columns kept so far) is strictly between min and max; the
        reference stays.
    bounds
        ``"strict"`` (pySCA 7, default) or ``"inclusive"`` (gap fraction <= max,
        min <= identity <= max).
    filter_weight_identity
        Identity cut-off of the intermediate weights that weight the column gap filter
        (pySCA 7 weights it with its max identity, 0.85).
    weight_identity
        Sequence weights: 1 / #(sequences with identity > this), gaps as a 21st letter.
    max_column_gaps
        Then drop columns whose weighted gap fraction is >= this.
    pseudocount
        λ, the regularisation of frequencies.
    pair_regularisation
        ``"pysca7"`` (default) or ``"pre2020"``, see :func:`seqvae.analysis.sca_matrix.sca_matrix`.
    n_randomisations
        Randomised alignments per significance estimate.
    significance_std
        Cut-off = mean + this many standard deviations of the randomised second eigenvalues
        (pySCA 7: 0; pySCA 6 used 2 or 3).
    n_stability_seeds
        How many independent sets of randomisations to count significant modes over.
    n_components
        Number of ICs (default: the number of significant modes, at least 2, at most
        ``max_components``).
    max_components
        Cap on the default number of ICs (pySCA's ``--kmax-cap``, 10).
    ica_learning_rate, ica_iterations, ica_tolerance
        Infomax: pySCA's relaxation parameter r0 (each step is ``r0 / L``), the most
        iterations, and the convergence test (stop once the squared change of the unmixing
        matrix is <= this), as pySCA's ``rotICA``.
    sector_quantile
        Positions above this quantile of the t-distribution fitted to an IC belong to it.
    sector_cutoff
        ``"pysca"`` (default): the cut-off is read off pySCA's 100-point grid between the IC's
        smallest and largest entry (``icList``); ``"exact"``: the t-distribution's quantile.
    seed
        Seed of the randomisations.
    """

    initial_column_gaps: float = 0.8
    max_sequence_gaps: float = 0.2
    min_identity: float = 0.15
    max_identity: float = 0.85
    bounds: str = "strict"
    filter_weight_identity: float = 0.85
    weight_identity: float = 0.8
    max_column_gaps: float = 0.3
    pseudocount: float = 0.03
    pair_regularisation: str = "pysca7"
    n_randomisations: int = 10
    significance_std: float = 0.0
    n_stability_seeds: int = 3
    n_components: int | None = None
    max_components: int = 10
    ica_learning_rate: float = 0.1
    ica_iterations: int = 100000
    ica_tolerance: float = 1e-15
    sector_quantile: float = 0.95
    sector_cutoff: str = "pysca"
    seed: int = 0

    section: ClassVar[str] = "sca"
    constraints: ClassVar[dict] = {
        "initial_column_gaps": Interval(0.0, 1.0),
        "max_sequence_gaps": Interval(0.0, 1.0),
        "min_identity": Interval(0.0, 1.0),
        "max_identity": Interval(0.0, 1.0),
        "bounds": OneOf(BOUNDS),
        "filter_weight_identity": Interval(0.0, 1.0),
        "weight_identity": Interval(0.0, 1.0),
        "max_column_gaps": Interval(0.0, 1.0),
        "pseudocount": Interval(0.0, 1.0, closed="left"),
        "pair_regularisation": OneOf(PAIR_REGULARISATIONS),
        "n_randomisations": Integer(1),
        "significance_std": Interval(),
        "n_stability_seeds": Integer(1),
        "n_components": Optional(Integer(1), note="the significant modes, at most max_components"),
        "max_components": Integer(1),
        "ica_learning_rate": Interval(0.0, closed="neither"),
        "ica_iterations": Integer(1),
        "ica_tolerance": Interval(0.0),
        "sector_quantile": Interval(0.0, 1.0),
        "sector_cutoff": OneOf(SECTOR_CUTOFFS),
        "seed": Integer(0),
    }

    def extra_checks(self, prefix: str) -> None:
        if self.min_identity > self.max_identity:
            raise ConfigError(
                f"{prefix}.min_identity: must not exceed max_identity ({self.min_identity} > {self.max_identity})",
                field=f"{prefix}.min_identity",
            )


# -- preprocessing ---------------------------------------------------------------------------
@dataclass
class SCAAlignment:
    """The alignment SCA works on, after pySCA's filters.

    Attributes
    ----------
    codes
        ``uint8 [M, L]``; gap = ``n_residues``.
    weights
        Sequence weights on the final alignment (N_eff = their sum).
    columns
        Index of each kept column among the input alignment's columns.
    numbering
        Reference residue number of each kept column (-1 where the reference has a gap).
    residues
        The reference's letter at each kept column.
    """

    codes: np.ndarray
    weights: np.ndarray
    ids: list[str]
    columns: np.ndarray
    numbering: np.ndarray
    residues: str
    reference_index: int
    n_residues: int
    report: dict[str, float | int]

    @property
    def n_eff(self) -> float:
        return float(self.weights.sum())


def sca_weights(codes: np.ndarray, n_residues: int, identity: float) -> np.ndarray:
    """pySCA's sequence weights: gaps count as a 21st letter, identity over all columns."""
    # With gap_code = n_residues + 1 no code is treated as a gap, so the gap is a state and
    # every sequence's length is L: identity = matches / L, neighbours have identity > cutoff.
    return compute_sequence_weights(codes, gap_code=n_residues + 1, theta=1.0 - identity)


def preprocess_alignment(alignment: Alignment, options: SCAOptions | None = None) -> SCAAlignment:
    """Apply pySCA's column and sequence filters (see the module docstring) and weight."""
    options = (options or SCAOptions()).validate()
    codes = alignment.codes
    gap = alignment.alphabet.gap_code
    n_res = alignment.alphabet.n_residues
    ref = alignment.reference_index
    report: dict[str, float | int] = {"sequences_in": int(codes.shape[0]), "columns_in": int(codes.shape[1])}

    is_gap = codes == gap
    columns = np.flatnonzero(is_gap.mean(axis=0) < options.initial_column_gaps)
    report["columns_after_initial_gap_filter"] = int(columns.size)
    if columns.size < 2:
        raise InputError("fewer than 2 columns left after the initial column gap filter", alignment.source)
    work = codes[:, columns]
    gaps = (work == gap).mean(axis=1)
    identity = (work == work[ref]).mean(axis=1)
    if options.bounds == "strict":  # pySCA 7's filterSeq
        keep = gaps < options.max_sequence_gaps
        report["sequences_after_gap_filter"] = int(keep.sum())
        keep &= (identity > options.min_identity) & (identity < options.max_identity)
    else:
        keep = gaps <= options.max_sequence_gaps
        report["sequences_after_gap_filter"] = int(keep.sum())
        keep &= (identity >= options.min_identity) & (identity <= options.max_identity)
    keep[ref] = True
    report["sequences_after_identity_filter"] = int(keep.sum())
    rows = np.flatnonzero(keep)
    if rows.size < 2:
        raise InputError("fewer than 2 sequences left after SCA's sequence filters", alignment.source)
    work = work[rows]
    weights = sca_weights(work, n_res, options.filter_weight_identity)
    weighted_gaps = weights @ (work == gap) / weights.sum()
    column_keep = weighted_gaps < options.max_column_gaps
    if column_keep.sum() < 2:
        raise InputError("fewer than 2 columns left after the weighted column gap filter", alignment.source)
    columns = columns[column_keep]
    work = np.ascontiguousarray(work[:, column_keep])
    report["columns_after_weighted_gap_filter"] = int(columns.size)
    weights = sca_weights(work, n_res, options.weight_identity)
    report["n_sequences"] = int(work.shape[0])
    report["n_positions"] = int(work.shape[1])
    report["n_eff"] = float(weights.sum())
    reference_row = int(np.searchsorted(rows, ref))
    numbering = alignment.registry.numbering[columns]
    residues = alignment.alphabet.decode(work[reference_row])
    return SCAAlignment(
        codes=work,
        weights=weights,
        ids=[alignment.ids[i] for i in rows],
        columns=columns.astype(np.int64),
        numbering=numbering.astype(np.int64),
        residues=residues,
        reference_index=reference_row,
        n_residues=n_res,
        report=report,
    )


# -- the whole analysis -----------------------------------------------------------------------
@dataclass
class SCAResult:
    """Everything ``seqvae sca`` computes (see :func:`run_sca`)."""

    alignment: SCAAlignment
    sca: SCAMatrix
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    random_eigenvalues: np.ndarray  # [n_randomisations, L], the first seed's
    cutoff: float
    n_significant: int
    n_significant_by_seed: list[int]
    cutoff_by_seed: list[float]
    ics: np.ndarray
    ic_groups: ICGroups
    options: SCAOptions
    labels: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    ica_iterations: int = 0
    ica_converged: bool = False

    @property
    def n_components(self) -> int:
        return int(self.ics.shape[1])

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write this result's files into ``out`` (see :func:`write_sca_outputs`)."""
        return write_sca_outputs(self, out)

    def to_dict(self) -> dict:
        """What ``summary.json`` holds (:meth:`summary`)."""
        return self.summary()

    def to_frame(self):
        """One row per retained position (``positions.csv``; :func:`positions_table`)."""
        return positions_table(self)

    def describe(self) -> str:
        """Two lines: the alignment and the top eigenvalues; the significant modes and the ICs."""
        s = self.summary()
        return (
            f"SCA: {s['n_sequences']} sequences x {s['n_positions']} positions, N_eff = {s['n_eff']:.1f}; "
            f"top eigenvalues {', '.join(f'{v:.2f}' for v in s['top_eigenvalues'][:7])}\n"
            f"significant modes: {self.n_significant} (cut-off {self.cutoff:.2f}); over "
            f"{self.options.n_stability_seeds} randomisation seeds: {self.n_significant_by_seed}; IC group "
            f"sizes {s['ic_sizes']} (ICA {'converged after' if self.ica_converged else 'stopped unconverged at'} "
            f"{self.ica_iterations} iterations)"
        )

    def published_overlaps(self, published: dict[str, np.ndarray]) -> list[dict]:
        """:func:`seqvae.analysis.sca_sectors.sector_overlaps` of published sectors (in structure numbering) with the IC groups.

        Raises
        ------
        InputError
            The result has no structure labels (run it with labels from a structure).
        """
        if self.labels is None:
            raise InputError(
                "published sectors are given in structure numbering: run SCA with structure labels"
            )
        return sector_overlaps(self.labels, self.ic_groups.groups, published)

    def summary(self) -> dict:
        sizes = [int(g.size) for g in self.ic_groups.groups]
        return {
            **self.alignment.report,
            "top_eigenvalues": [round(float(v), 4) for v in self.eigenvalues[:10]],
            "random_second_eigenvalue_mean": float(self.random_eigenvalues[:, 1].mean()),
            "random_second_eigenvalue_std": float(self.random_eigenvalues[:, 1].std()),
            "random_first_eigenvalue_mean": float(self.random_eigenvalues[:, 0].mean()),
            "significance_cutoff": self.cutoff,
            "n_significant": self.n_significant,
            "n_significant_by_seed": self.n_significant_by_seed,
            "cutoff_by_seed": self.cutoff_by_seed,
            "n_components": self.n_components,
            "ic_sizes": sizes,
            "ica_iterations": self.ica_iterations,
            "ica_converged": self.ica_converged,
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "options": asdict(self.options),
        }


def run_sca(
    alignment: Alignment,
    options: SCAOptions | None = None,
    structure_labels: np.ndarray | None = None,
    progress=None,
) -> SCAResult:
    """Run the whole SCA pipeline on an alignment (see the module docstring).

    Parameters
    ----------
    alignment
        The alignment; its reference (``--reference``) anchors the identity filter and numbering.
    options
        :class:`SCAOptions`.
    structure_labels
        Optional label per *input* column (e.g. chymotrypsin numbering from a PDB file), kept
        for the retained positions.
    progress
        Optional callable ``progress(n_done, n_total, what)``.
    """
    options = (options or SCAOptions()).validate()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    processed = preprocess_alignment(alignment, options)
    timings["preprocess"] = time.perf_counter() - started

    started = time.perf_counter()
    sca = sca_matrix(
        processed.codes, processed.weights, processed.n_residues, options.pseudocount,
        pair_regularisation=options.pair_regularisation,
    )  # fmt: skip
    eigenvalues, eigenvectors = eigen_decomposition(sca.matrix)
    timings["sca_matrix"] = time.perf_counter() - started

    started = time.perf_counter()
    total = options.n_randomisations * options.n_stability_seeds
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total, "randomised alignments")

    by_seed: list[int] = []
    cutoffs: list[float] = []
    random_by_seed: list[np.ndarray] = []
    for s in range(options.n_stability_seeds):
        rng = np.random.default_rng([options.seed, s])
        random_values = randomised_eigenvalues(
            processed.codes, processed.weights, processed.n_residues, options.pseudocount,
            options.n_randomisations, rng, progress=tick, pair_regularisation=options.pair_regularisation,
        )  # fmt: skip
        cut = significance_cutoff(random_values, options.significance_std)
        cutoffs.append(cut)
        by_seed.append(count_significant(eigenvalues, cut))
        random_by_seed.append(random_values)
    timings["randomisations"] = time.perf_counter() - started
    cutoff = cutoffs[0]
    n_significant = by_seed[0]

    started = time.perf_counter()
    k = options.n_components or min(max(2, n_significant), options.max_components)
    k = min(k, processed.codes.shape[1])
    ica = infomax_ica(
        eigenvectors[:, :k], options.ica_learning_rate, options.ica_iterations, options.ica_tolerance
    )
    ics = ica.ics
    groups = ic_positions(ics, sca.matrix, options.sector_quantile, options.sector_cutoff)
    timings["ica"] = time.perf_counter() - started
    labels = None if structure_labels is None else np.asarray(structure_labels, str)[processed.columns]
    return SCAResult(
        alignment=processed,
        sca=sca,
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        random_eigenvalues=random_by_seed[0],
        cutoff=cutoff,
        n_significant=n_significant,
        n_significant_by_seed=by_seed,
        cutoff_by_seed=cutoffs,
        ics=ics,
        ic_groups=groups,
        options=options,
        labels=labels,
        timings=timings,
        ica_iterations=ica.iterations,
        ica_converged=ica.converged,
    )


def structure_labels_for_columns(alignment: Alignment, structure) -> tuple[np.ndarray, float]:
    """Structure residue label of every column of ``alignment`` through its reference.

    The reference's full (gap-free) sequence is aligned to the structure's chain; a column
    gets the label of the residue its reference residue aligns to (``""`` if none).
    Returns the labels and the identity of the aligned residues.
    """
    registry = alignment.registry
    letters = "".join(c for c in registry.reference_raw if c.isalpha()).upper()
    mapping = align_sequences(letters, structure.sequence)
    labels = np.full(alignment.length, "", dtype=object)
    aligned = mapping >= 0
    identity = float(
        np.mean([letters[i] == structure.sequence[mapping[i]] for i in np.flatnonzero(aligned)])
    ) if aligned.any() else 0.0  # fmt: skip
    for column, number in enumerate(registry.numbering):
        if number < 0:
            continue
        k = int(number) - registry.reference_start
        if 0 <= k < mapping.size and mapping[k] >= 0:
            labels[column] = structure.labels[mapping[k]]
    return labels.astype(str), identity


# -- outputs --------------------------------------------------------------------------------------
def positions_table(result: SCAResult):
    """One row per retained position: column, numbering, label, residue, D_i, IC membership."""
    processed = result.alignment
    length = processed.codes.shape[1]
    member = np.full(length, -1)
    value = np.full(length, np.nan)
    for j, group in enumerate(result.ic_groups.groups):
        member[group] = j + 1
        value[group] = result.ics[group, j]
    table = {
        "position": np.arange(length),
        "alignment_column": processed.columns + 1,
        "reference_number": processed.numbering,
        "label": result.labels if result.labels is not None else [""] * length,
        "reference_residue": list(processed.residues),
        "conservation_D": result.sca.conservation,
        "ic": np.where(member > 0, member, 0),
        "ic_value": value,
    }
    for j in range(min(3, length)):
        table[f"eigenvector_{j + 1}"] = result.eigenvectors[:, j]
    return pd.DataFrame(table)


def write_sca_outputs(result: SCAResult, out: str | Path) -> dict[str, Path]:
    """Write ``sca.npz`` (position-matrix convention plus arrays), ``positions.csv``,
    and ``summary.json`` into ``out`` (the figures: :func:`seqvae.plots.matrices.plot_sca`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    processed = result.alignment
    group_index = np.zeros(processed.codes.shape[1], dtype=np.int64)
    for j, group in enumerate(result.ic_groups.groups):
        group_index[group] = j + 1
    paths = {}
    paths["npz"] = save_matrix_npz(
        out / SCA_FILE,
        result.sca.matrix,
        numbering=processed.numbering,
        labels=result.labels,
        residues=processed.residues,
        kind="sca",
        eigenvalues=result.eigenvalues,
        eigenvectors=result.eigenvectors[:, : min(20, result.eigenvectors.shape[1])],
        random_eigenvalues=result.random_eigenvalues,
        significance_cutoff=np.asarray(result.cutoff),
        n_significant=np.asarray(result.n_significant),
        conservation=result.sca.conservation,
        position_weights=result.sca.position_weights,
        ics=result.ics,
        ic_group=group_index,
        ic_cutoffs=result.ic_groups.cutoffs,
        alignment_columns=processed.columns,
        sequence_weights=processed.weights,
    )
    table = positions_table(result)
    paths["positions"] = write_csv(out / SCA_POSITIONS_FILE, table)
    write_json(out / SCA_SUMMARY_FILE, result.summary())
    paths["summary"] = out / SCA_SUMMARY_FILE
    return paths


def write_sector_overlaps(rows: list[dict], out: str | Path) -> Path:
    """Write :meth:`SCAResult.published_overlaps`' rows as ``published_sector_overlaps.json`` in ``out``."""
    target = Path(out) / PUBLISHED_OVERLAPS_FILE
    write_json(target, rows)
    return target
