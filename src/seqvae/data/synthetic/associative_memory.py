"""Associative-memory Potts family: sequences that cluster around K stored patterns.

Sachdeva et al.'s synthetic family (``P(S) ∝ exp(β[Σ_ν S·ξ_short^ν + Σ_μ (S·ξ_long^μ)²])`` on a
one-hot sequence ``S``), with a normalisation that makes β mean the same thing for every
length L and alphabet size q.

Model
-----
A sequence ``S`` has ``L`` positions over ``q`` letters. There are ``K`` *long patterns*
``ξ^μ`` (one random letter per position, whole sequence) and ``M`` *short motifs* ``ξ^ν`` (random
letters on a segment ``[start, start + ℓ_ν)``). ``S·ξ`` is the number of positions where ``S``
carries the pattern's letter (the dot product of the one-hot encodings).

Overlaps are *centred* and scaled like a Potts magnetisation::

    m_μ(S) = (q · S·ξ_long^μ / L − 1) / (q − 1)          ∈ [−1/(q−1), 1]
    s_ν(S) = (q · S·ξ_short^ν / ℓ_ν − 1) / (q − 1)        ∈ [−1/(q−1), 1]

so an overlap is 1 on the pattern, 0 in expectation for a uniformly random sequence and
negative for a sequence that matches the pattern less often than chance. (With one-hot
sequences a sequence cannot be the "opposite" of a pattern; centring is what lets overlaps
take both signs, and the quadratic term then rewards departures from chance in either
direction — mostly upwards, since the negative side stops at −1/(q−1).)

The energy, with ``P(S) ∝ exp(−β E(S))``, is::

    E(S) = −κ_q [ h Σ_ν ℓ_ν s_ν(S)  +  J (L/2) Σ_μ m_μ(S)² ]

* ``ℓ_ν s_ν = q/(q−1) · S·ξ_short^ν − ℓ_ν/(q−1)``: Sachdeva et al.'s linear motif term up to a
  constant factor and offset; it is extensive in the motif length.
* ``(L/2) m_μ²`` is Sachdeva et al.'s ``(S·ξ_long^μ)²`` centred and divided by ``L`` so that the long
  term is extensive (∝ L) like the motif term, rather than ∝ L².
* ``κ_q = 2 (q−1)² ln(q−1) / (q (q−2))`` (``κ_2 = 1``, the limit) puts the infinite-L
  mean-field transition of a single pattern (``J = 1``, no motifs) at exactly ``β = 1``: this
  is the Curie–Weiss Potts transition ``β_c = 2 (q−1) ln(q−1) / (q−2)`` rewritten for ``m``.
  For q ≥ 3 the transition is first order: below β ≈ 1 the family is essentially uniform
  noise, above it sequences condense onto the patterns with overlaps ≳ (q−2)/(q−1), and each
  extra 0.1 of β tightens the clusters. At finite L the transition is smoothed; measured for
  L = 40, q = 10, K = 4 and two motifs (h = 0.5): β = 1.05–1.1 mixes disordered sequences and
  clusters, β = 1.2 gives clusters with mean nearest overlap ≈ 0.93 (≈ 3 of 40 positions off
  the pattern), β = 1.5 ≈ 0.98.
* ``J`` (``pattern_strength``) and ``h`` (``motif_strength``) weigh the two terms; with the
  defaults J = 1 and h = 0.5 a motif position alone puts ≈ 57 % of its mass on the motif letter
  at β = 1, q = 10.

Sampling
--------
Gibbs sampling with systematic single-site sweeps, vectorised over many independent chains
(numpy; one small matrix product per site). Every chain's match counts are kept up to date,
so a site update costs ``O(chains × q × K)``: the defaults (L = 40, q = 10, K = 4, 100 chains,
2,500 samples) take a few seconds. Chains start on the patterns (``init="patterns"``: chain c
on pattern c mod K, the default) or from uniformly random sequences (``init="random"``);
after ``burn_in`` sweeps one sample is kept every ``thin`` sweeps.

Above the transition the patterns' basins are *metastable*: a chain almost never leaves its
basin (the barrier grows with L), while the basins' Boltzmann weights can differ by orders of
magnitude (motif letters that happen to agree with one pattern lower its energy). With
``init="patterns"`` every basin is sampled by its share of the chains — the associative
memory's retrieval states, balanced; with ``init="random"`` the share of each pattern is
where the chains happened to fall. Close to β = 1 chains do hop between patterns and the
disordered state, slowly. The summary makes this visible: mean flip rate (fraction of site
updates that changed the letter), integrated autocorrelation time of the energy (Sokal's
automatic window on the chain-averaged autocorrelation) and effective sample size, the
Gelman–Rubin R̂ of the energy across chains (near 1 within basins; large when chains sit in
basins of different energy or have not mixed), each pattern's occupancy and how often
consecutive samples of a chain changed their nearest pattern.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqvae.data.alignment import Alignment, alignment_from_sequences
from seqvae.data.alphabet import PROTEIN, PROTEIN_RESIDUES, Alphabet
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, write_csv, write_json
from seqvae.io.output_dirs import check_output_paths
from seqvae.options import check_integer

__all__ = [
    "AssociativeMemoryModel",
    "AssociativeMemorySample",
    "McmcSummary",
    "Motif",
    "critical_scale",
    "load_patterns",
    "make_model",
    "sample_associative_memory",
    "simulate_associative_memory",
    "synthetic_alphabet",
    "write_associative_memory",
]

INIT_MODES = ("random", "patterns")
MAX_LETTERS = len(PROTEIN_RESIDUES)
_PAD = 255


@dataclass(frozen=True)
class Motif:
    """A short motif's segment: ``length`` positions from ``start`` (0-based)."""

    start: int
    length: int


def critical_scale(n_letters: int) -> float:
    """κ_q: the factor that puts the single-pattern mean-field transition at β = 1.

    ``κ_q = 2 (q−1)² ln(q−1) / (q (q−2))`` for q ≥ 3 and its limit 1 for q = 2.
    """
    q = n_letters
    if q == 2:
        return 1.0
    return 2.0 * (q - 1) ** 2 * math.log(q - 1) / (q * (q - 2))


def synthetic_alphabet(n_letters: int) -> Alphabet:
    """The first ``n_letters`` protein letters (the protein alphabet itself for q = 20)."""
    if n_letters == MAX_LETTERS:
        return PROTEIN
    return Alphabet(PROTEIN_RESIDUES[:n_letters], name="custom")


@dataclass
class AssociativeMemoryModel:
    """The patterns and couplings of an associative-memory family (see the module docstring).

    Attributes
    ----------
    length, n_letters
        L and q.
    long_patterns
        ``uint8 [K, L]`` letter codes of the long patterns.
    motifs
        Segments of the short motifs.
    motif_letters
        One ``uint8 [ℓ_ν]`` array of codes per motif.
    pattern_strength, motif_strength
        J and h.
    """

    length: int
    n_letters: int
    long_patterns: np.ndarray
    motifs: list[Motif]
    motif_letters: list[np.ndarray]
    pattern_strength: float = 1.0
    motif_strength: float = 0.5

    @property
    def n_patterns(self) -> int:
        return int(self.long_patterns.shape[0])

    @property
    def n_motifs(self) -> int:
        return len(self.motifs)

    @property
    def kappa(self) -> float:
        return critical_scale(self.n_letters)

    @property
    def alphabet(self) -> Alphabet:
        return synthetic_alphabet(self.n_letters)

    def _centre(self, counts: np.ndarray, size: np.ndarray | int) -> np.ndarray:
        q = self.n_letters
        return (q * counts / size - 1.0) / (q - 1)

    def long_counts(self, codes: np.ndarray) -> np.ndarray:
        """``S·ξ_long^μ`` (matching positions) per sequence and pattern, ``int [N, K]``."""
        codes = np.asarray(codes)
        counts = np.empty((codes.shape[0], self.n_patterns), dtype=np.int64)
        for mu, pattern in enumerate(self.long_patterns):
            counts[:, mu] = (codes == pattern[None, :]).sum(axis=1)
        return counts

    def motif_counts(self, codes: np.ndarray) -> np.ndarray:
        """``S·ξ_short^ν`` per sequence and motif, ``int [N, M]``."""
        codes = np.asarray(codes)
        counts = np.empty((codes.shape[0], self.n_motifs), dtype=np.int64)
        for nu, (motif, letters) in enumerate(zip(self.motifs, self.motif_letters)):
            segment = codes[:, motif.start : motif.start + motif.length]
            counts[:, nu] = (segment == letters[None, :]).sum(axis=1)
        return counts

    def overlaps(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centred overlaps ``m [N, K]`` with the long patterns and ``s [N, M]`` with the motifs."""
        m = self._centre(self.long_counts(codes), self.length)
        lengths = np.array([motif.length for motif in self.motifs], dtype=np.float64)
        s = (
            self._centre(self.motif_counts(codes), lengths[None, :])
            if self.n_motifs
            else np.zeros((len(m), 0))
        )
        return m, s

    def energy_from_counts(self, long_counts: np.ndarray, motif_counts: np.ndarray) -> np.ndarray:
        """E(S) from match counts (see the module docstring), ``float [N]``."""
        m = self._centre(long_counts, self.length)
        long_term = self.pattern_strength * 0.5 * self.length * (m**2).sum(axis=1)
        if self.n_motifs:
            lengths = np.array([motif.length for motif in self.motifs], dtype=np.float64)
            motif_term = self.motif_strength * (lengths[None, :] * self._centre(motif_counts, lengths)).sum(
                axis=1
            )
        else:
            motif_term = 0.0
        return -self.kappa * (motif_term + long_term)

    def energy(self, codes: np.ndarray) -> np.ndarray:
        """E(S) of coded sequences ``[N, L]``, ``float [N]``."""
        return self.energy_from_counts(self.long_counts(codes), self.motif_counts(codes))

    def motif_field(self) -> np.ndarray:
        """The motif term's per-position, per-letter field ``[L, q]`` (constants dropped)."""
        q = self.n_letters
        field_ = np.zeros((self.length, q))
        for motif, letters in zip(self.motifs, self.motif_letters):
            positions = np.arange(motif.start, motif.start + motif.length)
            field_[positions, letters] += self.kappa * self.motif_strength * q / (q - 1)
        return field_


def make_model(
    length: int = 40,
    n_letters: int = 10,
    n_patterns: int = 4,
    motifs: Sequence[Motif | tuple[int, int]] | None = None,
    pattern_strength: float = 1.0,
    motif_strength: float = 0.5,
    rng: np.random.Generator | int = 0,
) -> AssociativeMemoryModel:
    """Draw random long patterns and motif letters (uniform letters per position).

    Parameters
    ----------
    motifs
        ``(start, length)`` pairs, 0-based starts; ``None`` means no motifs.
    rng
        A numpy generator or a seed.
    """
    motif_list = [m if isinstance(m, Motif) else Motif(int(m[0]), int(m[1])) for m in (motifs or [])]
    _validate_model_parameters(length, n_letters, n_patterns, motif_list, pattern_strength, motif_strength)
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    long_patterns = rng.integers(0, n_letters, size=(n_patterns, length)).astype(np.uint8)
    motif_letters = [rng.integers(0, n_letters, size=m.length).astype(np.uint8) for m in motif_list]
    return AssociativeMemoryModel(
        length=length,
        n_letters=n_letters,
        long_patterns=long_patterns,
        motifs=motif_list,
        motif_letters=motif_letters,
        pattern_strength=float(pattern_strength),
        motif_strength=float(motif_strength),
    )


@dataclass
class McmcSummary:
    """Diagnostics of one MCMC run (all times in sweeps; a sweep updates every position once).

    ``energy_effective_samples`` is (chains × post-burn-in sweeps) / τ, the effective number of
    independent energy values among all post-burn-in sweeps (the kept samples are a thinned
    subset of those sweeps).
    """

    beta: float
    n_chains: int
    burn_in: int
    thin: int
    sweeps: int
    n_samples: int
    flip_rate: float
    energy_mean: float
    energy_std: float
    energy_autocorrelation_time: float
    energy_effective_samples: float
    energy_r_hat: float
    pattern_occupancy: dict[str, float]
    pattern_switches: int
    init: str
    seconds: float
    seed: int

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def rows(self) -> list[tuple[str, str]]:
        """(name, value) pairs for a printed table."""

        def number(x: float, digits: int = 3) -> str:
            return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"

        occupancy = ", ".join(f"{k} {v:.2f}" for k, v in self.pattern_occupancy.items())
        return [
            ("β (inverse temperature)", number(self.beta)),
            ("chains × samples", f"{self.n_chains} × ≈{math.ceil(self.n_samples / self.n_chains)}"),
            ("sweeps (burn-in + kept)", f"{self.sweeps} ({self.burn_in} + {self.sweeps - self.burn_in})"),
            ("thinning (sweeps)", str(self.thin)),
            ("samples", str(self.n_samples)),
            ("mean flip rate (Gibbs)", number(self.flip_rate)),
            ("energy mean ± sd", f"{number(self.energy_mean, 5)} ± {number(self.energy_std)}"),
            ("energy autocorrelation time (sweeps)", number(self.energy_autocorrelation_time)),
            ("energy effective samples (post-burn-in sweeps)", number(self.energy_effective_samples, 4)),
            ("energy R̂ across chains", number(self.energy_r_hat, 4)),
            ("nearest-pattern occupancy", occupancy or "n/a"),
            ("pattern switches (all chains)", str(self.pattern_switches)),
            ("init", self.init),
            ("time (s)", f"{self.seconds:.2f}"),
        ]


@dataclass
class AssociativeMemorySample:
    """Sequences sampled from an :class:`AssociativeMemoryModel`, with their ground truth.

    Attributes
    ----------
    alignment
        The sequences (ids ``am_00001`` …) as an :class:`~seqvae.Alignment`.
    truth
        One row per sequence: ``id``, ``chain``, ``sweep``, ``energy``, ``nearest_pattern``
        (1-based index of the long pattern with the largest overlap), ``nearest_overlap``,
        ``overlap_long_1..K`` and ``overlap_short_1..M`` (centred overlaps, module docstring).
    model
        The patterns and couplings.
    summary
        MCMC diagnostics.
    beta
        The inverse temperature.
    energy_trace
        Energy per sweep and chain ``float32 [sweeps, chains]`` (burn-in included).
    """

    alignment: Alignment
    truth: pd.DataFrame
    model: AssociativeMemoryModel
    summary: McmcSummary
    beta: float
    seed: int
    energy_trace: np.ndarray = field(repr=False)


def simulate_associative_memory(
    length: int = 40,
    n_letters: int = 10,
    n_patterns: int = 4,
    motifs: Sequence[Motif | tuple[int, int]] | None = ((4, 8), (24, 6)),
    beta: float = 1.2,
    n_samples: int = 2500,
    n_chains: int = 100,
    burn_in: int = 300,
    thin: int = 5,
    pattern_strength: float = 1.0,
    motif_strength: float = 0.5,
    init: str = "patterns",
    seed: int = 0,
) -> AssociativeMemorySample:
    """Draw patterns and motifs, then sample a family by Gibbs MCMC.

    Parameters
    ----------
    length, n_letters
        Sequence length L (>= 1) and alphabet size q (2..20; letters are the first q of
        ``ACDEFGHIKLMNPQRSTVWY``).
    n_patterns
        Number K of long patterns (>= 1).
    motifs
        Short motifs as ``(start, length)`` with 0-based ``start``; each must lie inside the
        sequence. ``None`` or empty: no motifs.
    beta
        Inverse temperature (>= 0). β = 0 gives uniform random sequences; β = 1 is the
        single-pattern mean-field transition (module docstring).
    n_samples
        Sequences to return (>= 1), spread evenly over the chains.
    n_chains, burn_in, thin
        Independent chains (>= 1), sweeps discarded at the start (>= 0) and sweeps between kept
        samples (>= 1).
    pattern_strength, motif_strength
        J and h (>= 0).
    init
        ``random`` (uniform sequences) or ``patterns`` (chain c starts on pattern c mod K).
    seed
        Seeds one numpy generator for the patterns and another for the chains.
    """
    check_integer("seed", seed, 0)
    model = make_model(
        length,
        n_letters,
        n_patterns,
        list(motifs or []),
        pattern_strength,
        motif_strength,
        rng=np.random.default_rng([seed, 0]),
    )
    return sample_associative_memory(model, beta, n_samples, n_chains, burn_in, thin, init, seed)


def sample_associative_memory(
    model: AssociativeMemoryModel,
    beta: float,
    n_samples: int = 2500,
    n_chains: int = 100,
    burn_in: int = 300,
    thin: int = 5,
    init: str = "patterns",
    seed: int = 0,
) -> AssociativeMemorySample:
    """Gibbs-sample sequences from a given model (see :func:`simulate_associative_memory`)."""
    _validate_sampler_parameters(beta, n_samples, n_chains, burn_in, thin, init, seed)
    started = time.perf_counter()
    rng = np.random.default_rng([seed, 1])
    length, q, k = model.length, model.n_letters, model.n_patterns
    per_chain = math.ceil(n_samples / n_chains)
    sweeps = burn_in + per_chain * thin

    if init == "random":
        state = rng.integers(0, q, size=(n_chains, length)).astype(np.int64)
    else:
        state = model.long_patterns[np.arange(n_chains) % k].astype(np.int64)
    counts = model.long_counts(state)
    # matches[l] is [q, K]: does letter a equal pattern μ's letter at position l
    matches = (np.arange(q)[None, :, None] == model.long_patterns.T[:, None, :]).astype(np.float64)
    motif_field = model.motif_field()
    step = q / (length * (q - 1))  # change of m_μ when one position starts/stops matching
    long_scale = beta * model.kappa * model.pattern_strength * 0.5 * length

    kept_codes = np.empty((per_chain, n_chains, length), dtype=np.uint8)
    kept_sweep = np.empty(per_chain, dtype=np.int64)
    energy_trace = np.empty((sweeps, n_chains), dtype=np.float64)
    flips = 0
    updates = 0
    chain_index = np.arange(n_chains)
    n_kept = 0
    for sweep in range(sweeps):
        uniforms = rng.random((length, n_chains))
        for pos in range(length):
            current = state[:, pos]
            match_here = matches[pos]  # [q, K]
            base = counts - match_here[current]  # counts without this position, [C, K]
            m0 = (q * base / length - 1.0) / (q - 1)
            # Σ_μ m_μ(a)² − Σ_μ m0_μ² = Σ_μ match[a, μ] (2 step m0_μ + step²)
            gain = (2.0 * step * m0 + step * step) @ match_here.T  # [C, q]
            logits = long_scale * gain + beta * motif_field[pos][None, :]
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            cumulative = np.cumsum(probs, axis=1)
            threshold = uniforms[pos] * cumulative[:, -1]
            new = (cumulative < threshold[:, None]).sum(axis=1)
            new = np.minimum(new, q - 1)
            if sweep >= burn_in:
                flips += int((new != current).sum())
                updates += n_chains
            state[chain_index, pos] = new
            counts = base + match_here[new].astype(np.int64)
        energy_trace[sweep] = model.energy_from_counts(counts, model.motif_counts(state))
        if sweep >= burn_in and (sweep - burn_in + 1) % thin == 0:
            kept_codes[n_kept] = state
            kept_sweep[n_kept] = sweep + 1
            n_kept += 1

    # chain-major order: all samples of chain 0, then chain 1, ...
    codes = kept_codes.transpose(1, 0, 2).reshape(-1, length)[:n_samples]
    chains = np.repeat(np.arange(n_chains), per_chain)[:n_samples]
    sample_sweeps = np.tile(kept_sweep, n_chains)[:n_samples]
    ids = [f"am_{i + 1:05d}" for i in range(len(codes))]
    alphabet = model.alphabet
    sequences = [alphabet.decode(row) for row in codes]
    alignment = alignment_from_sequences(sequences, ids, alphabet, source="associative-memory")

    m, s = model.overlaps(codes)
    nearest = np.argmax(m, axis=1)
    energies = model.energy(codes)
    truth = {
        "id": ids,
        "chain": chains + 1,
        "sweep": sample_sweeps,
        "energy": energies,
        "nearest_pattern": nearest + 1,
        "nearest_overlap": m[np.arange(len(m)), nearest],
    }
    for mu in range(k):
        truth[f"overlap_long_{mu + 1}"] = m[:, mu]
    for nu in range(model.n_motifs):
        truth[f"overlap_short_{nu + 1}"] = s[:, nu]
    truth_table = pd.DataFrame(truth)

    post = energy_trace[burn_in:]
    tau = integrated_autocorrelation_time(post)
    occupancy = np.bincount(nearest, minlength=k) / len(nearest)
    switches = 0
    for chain in range(n_chains):
        chain_nearest = nearest[chains == chain]
        switches += int((chain_nearest[1:] != chain_nearest[:-1]).sum())
    summary = McmcSummary(
        beta=float(beta),
        n_chains=n_chains,
        burn_in=burn_in,
        thin=thin,
        sweeps=sweeps,
        n_samples=len(codes),
        flip_rate=flips / updates if updates else float("nan"),
        energy_mean=float(post.mean()),
        energy_std=float(post.std()),
        energy_autocorrelation_time=tau,
        energy_effective_samples=float(post.size / tau) if np.isfinite(tau) else float("nan"),
        energy_r_hat=gelman_rubin(post),
        pattern_occupancy={f"pattern {mu + 1}": float(occupancy[mu]) for mu in range(k)},
        pattern_switches=switches,
        init=init,
        seconds=round(time.perf_counter() - started, 3),
        seed=int(seed),
    )
    return AssociativeMemorySample(
        alignment=alignment,
        truth=truth_table,
        model=model,
        summary=summary,
        beta=float(beta),
        seed=int(seed),
        energy_trace=energy_trace.astype(np.float32),
    )


# -- diagnostics -----------------------------------------------------------------------------
def integrated_autocorrelation_time(series: np.ndarray, window_factor: float = 5.0) -> float:
    """Integrated autocorrelation time of ``series [T, chains]`` in steps.

    τ = 1 + 2 Σ_{t=1}^{W} ρ(t), with ρ the autocorrelation averaged over chains (each chain
    centred on its own mean) and W the smallest window with ``W >= window_factor · τ(W)``
    (Sokal). Returns NaN when the series does not vary (a frozen chain has no defined τ).
    """
    series = np.asarray(series, dtype=np.float64)
    if series.ndim == 1:
        series = series[:, None]
    n = series.shape[0]
    if n < 2:
        return float("nan")
    centred = series - series.mean(axis=0, keepdims=True)
    variance = (centred**2).mean()
    if not variance > 1e-12:
        return float("nan")
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=0)
    autocov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[:n].mean(axis=1) / n
    rho = autocov / autocov[0]
    tau = 1.0
    for window in range(1, n):
        tau += 2.0 * rho[window]
        if window >= window_factor * tau:
            break
    return float(max(tau, 1.0))


def gelman_rubin(series: np.ndarray) -> float:
    """Potential scale reduction R̂ of ``series [T, chains]`` (NaN for one chain or no variance)."""
    series = np.asarray(series, dtype=np.float64)
    n, chains = series.shape
    if chains < 2 or n < 2:
        return float("nan")
    within = series.var(axis=0, ddof=1).mean()
    between = n * series.mean(axis=0).var(ddof=1)
    if not within > 1e-12:
        return float("nan")
    pooled = (n - 1) / n * within + between / n
    return float(np.sqrt(pooled / within))


# -- files -----------------------------------------------------------------------------------
def write_associative_memory(sample: AssociativeMemorySample, prefix: str | Path) -> dict[str, Path]:
    """Write ``{prefix}.fasta``, ``{prefix}_truth.csv``, ``{prefix}_patterns.npz`` and
    ``{prefix}_mcmc.json`` atomically; returns them by kind."""
    prefix = Path(prefix)
    paths = {
        "fasta": prefix.with_name(prefix.name + ".fasta"),
        "truth": prefix.with_name(prefix.name + "_truth.csv"),
        "patterns": prefix.with_name(prefix.name + "_patterns.npz"),
        "mcmc": prefix.with_name(prefix.name + "_mcmc.json"),
    }
    check_output_paths({f"the {kind} file": path for kind, path in paths.items()}, {}, prefix)
    alignment = sample.alignment
    with atomic_open(paths["fasta"], "w", encoding="ascii") as handle:
        for seq_id, sequence in zip(alignment.ids, alignment.sequences()):
            handle.write(f">{seq_id}\n{sequence}\n")
    write_csv(paths["truth"], sample.truth, "%.6g")
    save_patterns(sample.model, paths["patterns"], beta=sample.beta, seed=sample.seed)
    write_json(paths["mcmc"], sample.summary.to_dict())
    return paths


def save_patterns(model: AssociativeMemoryModel, path: str | Path, beta: float, seed: int) -> Path:
    """Save the patterns, motifs and couplings as NPZ (read back with :func:`load_patterns`).

    Keys: ``long_patterns`` (uint8 codes ``[K, L]``), ``long_pattern_text``, ``motif_starts``
    (0-based), ``motif_lengths``, ``motif_letters`` (uint8 ``[M, max ℓ]``, padded with 255),
    ``motif_text``, ``residues`` (the alphabet letters in code order), ``length``,
    ``n_letters``, ``pattern_strength``, ``motif_strength``, ``kappa``, ``beta``, ``seed``.
    """
    alphabet = model.alphabet
    width = max((m.length for m in model.motifs), default=0)
    motif_letters = np.full((model.n_motifs, width), _PAD, dtype=np.uint8)
    for nu, letters in enumerate(model.motif_letters):
        motif_letters[nu, : len(letters)] = letters
    with atomic_open(path, "wb") as handle:
        np.savez(
            handle,
            long_patterns=model.long_patterns,
            long_pattern_text=np.array([alphabet.decode(p) for p in model.long_patterns]),
            motif_starts=np.array([m.start for m in model.motifs], dtype=np.int64),
            motif_lengths=np.array([m.length for m in model.motifs], dtype=np.int64),
            motif_letters=motif_letters,
            motif_text=np.array([alphabet.decode(x) for x in model.motif_letters]),
            residues=np.array(alphabet.residues),
            length=model.length,
            n_letters=model.n_letters,
            pattern_strength=model.pattern_strength,
            motif_strength=model.motif_strength,
            kappa=model.kappa,
            beta=beta,
            seed=seed,
        )
    return Path(path)


def load_patterns(path: str | Path) -> AssociativeMemoryModel:
    """Read a model written by :func:`save_patterns` / :func:`write_associative_memory`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            starts = data["motif_starts"]
            lengths = data["motif_lengths"]
            letters = data["motif_letters"]
            return AssociativeMemoryModel(
                length=int(data["length"]),
                n_letters=int(data["n_letters"]),
                long_patterns=data["long_patterns"].astype(np.uint8),
                motifs=[Motif(int(s), int(n)) for s, n in zip(starts, lengths)],
                motif_letters=[letters[i, : int(n)].copy() for i, n in enumerate(lengths)],
                pattern_strength=float(data["pattern_strength"]),
                motif_strength=float(data["motif_strength"]),
            )
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"not an associative-memory patterns file ({err})", path) from None


# -- validation ------------------------------------------------------------------------------
def _check_float(name: str, value, minimum: float = 0.0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InputError(f"must be a number (got {value!r})", source=name)
    if not np.isfinite(value) or value < minimum:
        raise InputError(f"must be a finite number >= {minimum} (got {value!r})", source=name)


def _validate_model_parameters(
    length: int,
    n_letters: int,
    n_patterns: int,
    motifs: list[Motif],
    pattern_strength: float,
    motif_strength: float,
) -> None:
    check_integer("length", length, 1)
    check_integer("n_letters", n_letters, 2)
    if n_letters > MAX_LETTERS:
        raise InputError(f"must be at most {MAX_LETTERS} (got {n_letters})", source="n_letters")
    check_integer("n_patterns", n_patterns, 1)
    _check_float("pattern_strength", pattern_strength)
    _check_float("motif_strength", motif_strength)
    for number, motif in enumerate(motifs, start=1):
        if motif.length < 1:
            raise InputError(f"motif {number} must have length >= 1 (got {motif.length})", source="motifs")
        if motif.start < 0 or motif.start + motif.length > length:
            raise InputError(
                f"motif {number} (positions {motif.start + 1}-{motif.start + motif.length}, 1-based) "
                f"lies outside the sequence of length {length}",
                source="motifs",
            )


def _validate_sampler_parameters(
    beta: float, n_samples: int, n_chains: int, burn_in: int, thin: int, init: str, seed: int
) -> None:
    _check_float("beta", beta)
    check_integer("n_samples", n_samples, 1)
    check_integer("n_chains", n_chains, 1)
    check_integer("burn_in", burn_in, 0)
    check_integer("thin", thin, 1)
    check_integer("seed", seed, 0)
    if init not in INIT_MODES:
        raise InputError(f"must be one of {INIT_MODES} (got {init!r})", source="init")
