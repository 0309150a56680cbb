"""The synthetic families the experiments train on: built once, cached on disk, loaded by workers.

Two kinds, both from :mod:`seqvae.data.synthetic`:

* ``associative_memory`` — Gibbs samples of the associative-memory Potts family
  (:func:`~seqvae.data.synthetic.associative_memory.simulate_associative_memory`); ground truth:
  each sequence's overlaps with the long patterns and motifs and its nearest pattern.
* ``linear_factors`` — ``x = Σ_i s_i α_i u_i + ε`` (:func:`~seqvae.data.synthetic.linear_factors.
  simulate_linear_factors`, with optional per-factor scales ``s_i``); ground truth: the factors.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqvae.data.alignment import alignment_from_sequences
from seqvae.data.synthetic.associative_memory import (
    load_patterns,
    save_patterns,
    simulate_associative_memory,
    synthetic_alphabet,
)
from seqvae.data.synthetic.linear_factors import simulate_linear_factors
from seqvae.errors import ConfigError
from seqvae.experiments.config import config_hash
from seqvae.experiments.knobs import Knob
from seqvae.io.atomic import atomic_open, write_csv, write_json

__all__ = [
    "Family",
    "associative_memory_knobs",
    "build_family",
    "check_associative_memory",
    "check_linear_factors",
    "family_directory",
    "linear_factor_knobs",
    "load_family",
    "save_family",
]


def small_network_run_defaults() -> dict[str, Any]:
    """The small VAE and short training shared by the associative-memory experiments (a fresh dict)."""
    return {
        "model": {"encoder_hidden": [64], "decoder_hidden": [64], "warmup_steps": 150},
        "training": {
            "max_steps": 600,
            "batch_size": 128,
            "learning_rate": 0.003,
            "validation_fraction": 0.1,
            "eval_every": 100,
            "early_stopping_patience": None,
            "log_every": 50,
            "checkpoint_every": 200,
            "device": "cpu",
        },
    }


def quick_associative_memory_family() -> dict[str, Any]:
    """The test-sized associative-memory family of the ``--quick`` settings (a fresh dict)."""
    return {"length": 16, "n_letters": 6, "n_samples": 240, "n_chains": 24, "burn_in": 30, "thin": 2}


def quick_training() -> dict[str, Any]:
    """The test-sized training limits of the ``--quick`` settings (a fresh dict)."""
    return {"max_steps": 60, "eval_every": 30, "checkpoint_every": 30}


def associative_memory_knobs(**defaults: Any) -> dict[str, Knob]:
    """Knobs of an associative-memory family (``defaults`` override the built-in values)."""
    knobs = {
        "length": Knob(40, "int", 2, 2000, help="sequence length L"),
        "n_letters": Knob(10, "int", 2, 20, help="alphabet size q (the first q protein letters)"),
        "n_patterns": Knob(4, "int", 1, 200, help="number K of long patterns"),
        "motifs": Knob([], "motifs", help="short motifs as [start, length], 1-based start"),
        "beta": Knob(1.2, "float", 0.0, 100.0, help="inverse temperature (1 = mean-field transition)"),
        "pattern_strength": Knob(1.0, "float", 0.0, help="J, weight of the long patterns"),
        "motif_strength": Knob(0.5, "float", 0.0, help="h, weight of the motifs"),
        "n_samples": Knob(2000, "int", 10, 1_000_000, help="sequences in the family"),
        "n_chains": Knob(100, "int", 1, 100_000, help="independent Gibbs chains"),
        "burn_in": Knob(200, "int", 0, help="sweeps discarded per chain"),
        "thin": Knob(5, "int", 1, help="sweeps between kept samples"),
        "init": Knob("patterns", "choice", choices=("patterns", "random"), help="chain starts"),
        "pattern_shares": Knob(
            None,
            "floats_or_null",
            0.0,
            help="share of each pattern's cluster in the family (null: as sampled); others are subsampled",
        ),
        "seed": Knob(0, "int", 0, help="seed of the patterns and chains"),
    }
    return _with_defaults(knobs, defaults)


def linear_factor_knobs(**defaults: Any) -> dict[str, Knob]:
    """Knobs of a linear-factor family."""
    knobs = {
        "n_samples": Knob(3000, "int", 10, 10_000_000, help="points N"),
        "dim": Knob(100, "int", 1, 100_000, help="ambient dimension D"),
        "n_factors": Knob(6, "int", 1, 10_000, help="orthonormal directions k"),
        "noise_std": Knob(0.1, "float", 0.0, help="isotropic noise standard deviation"),
        "factor_scales": Knob(
            None, "floats_or_null", 0.0, help="per-factor standard deviations (null: all 1)"
        ),
        "seed": Knob(0, "int", 0, help="seed of directions, factors and noise"),
    }
    return _with_defaults(knobs, defaults)


def _with_defaults(knobs: dict[str, Knob], defaults: dict[str, Any]) -> dict[str, Knob]:
    out = dict(knobs)
    for name, value in defaults.items():
        knob = out[name]
        out[name] = Knob(value, knob.kind, knob.minimum, knob.maximum, knob.choices, knob.help)
    return out


def check_associative_memory(family: dict[str, Any], key: str = "family") -> dict[str, Any]:
    """Cross-field checks: motifs inside the sequence, no more chains than samples make sense."""
    for number, (start, length) in enumerate(family["motifs"], start=1):
        if start + length - 1 > family["length"]:
            raise ConfigError(
                f"{key}.motifs: motif {number} (positions {start}-{start + length - 1}, 1-based) lies "
                f"outside the sequence of length {family['length']}"
            )
    shares = family.get("pattern_shares")
    if shares is not None:
        if len(shares) != family["n_patterns"]:
            raise ConfigError(
                f"{key}.pattern_shares: {len(shares)} shares for {family['n_patterns']} patterns (one per pattern)"
            )
        if min(shares) <= 0:
            raise ConfigError(f"{key}.pattern_shares: every share must be > 0 (got {shares})")
    if family["n_chains"] > family["n_samples"]:
        raise ConfigError(
            f"{key}.n_chains: more chains ({family['n_chains']}) than samples ({family['n_samples']})"
        )
    return family


def check_linear_factors(family: dict[str, Any], key: str = "family") -> dict[str, Any]:
    """Cross-field checks: k <= D, one scale per factor."""
    if family["n_factors"] > family["dim"]:
        raise ConfigError(f"{key}.n_factors: {family['n_factors']} factors do not fit in dim {family['dim']}")
    scales = family["factor_scales"]
    if scales is not None and len(scales) != family["n_factors"]:
        raise ConfigError(
            f"{key}.factor_scales: {len(scales)} scales for {family['n_factors']} factors (one per factor)"
        )
    return family


@dataclass
class Family:
    """A synthetic family and its ground truth.

    Attributes
    ----------
    kind
        ``associative_memory`` or ``linear_factors``.
    config
        The family knobs it was built from.
    data
        What a model trains on: an :class:`~seqvae.Alignment` or a float array ``[N, D]``.
    truth
        One row per sequence/point: ``id`` and the ground truth (overlaps, nearest pattern, or
        factors ``alpha_i``).
    patterns
        The :class:`~seqvae.data.synthetic.associative_memory.AssociativeMemoryModel` (patterns,
        motifs, energy), ``None`` for linear factors.
    """

    kind: str
    config: dict[str, Any]
    data: Any
    truth: pd.DataFrame
    patterns: Any = None
    summary: dict[str, Any] | None = None

    @property
    def codes(self) -> np.ndarray:
        return self.data.codes

    def overlaps(self) -> np.ndarray:
        """``[N, K]`` overlaps with the long patterns (associative memory)."""
        columns = [c for c in self.truth.columns if c.startswith("overlap_long_")]
        return self.truth[columns].to_numpy(dtype=np.float64)

    def nearest_pattern(self) -> np.ndarray:
        """0-based nearest pattern of each sequence."""
        return self.truth["nearest_pattern"].to_numpy(dtype=np.int64) - 1

    def factors(self) -> np.ndarray:
        columns = [c for c in self.truth.columns if c.startswith("alpha_")]
        return self.truth[columns].to_numpy(dtype=np.float64)


def family_directory(root: str | Path, kind: str, config: dict[str, Any]) -> Path:
    """Where a family with these knobs is cached: ``root/families/<kind>-<hash>``."""
    return Path(root) / "families" / f"{kind}-{config_hash(config)}"


def build_family(kind: str, config: dict[str, Any]) -> Family:
    """Simulate a family from validated knobs."""
    if kind == "associative_memory":
        sample = simulate_associative_memory(
            length=config["length"],
            n_letters=config["n_letters"],
            n_patterns=config["n_patterns"],
            motifs=[(start - 1, length) for start, length in config["motifs"]],
            beta=config["beta"],
            n_samples=config["n_samples"],
            n_chains=config["n_chains"],
            burn_in=config["burn_in"],
            thin=config["thin"],
            pattern_strength=config["pattern_strength"],
            motif_strength=config["motif_strength"],
            init=config["init"],
            seed=config["seed"],
        )
        alignment, truth = sample.alignment, sample.truth
        if config.get("pattern_shares") is not None:
            rows = _rows_for_shares(
                truth["nearest_pattern"].to_numpy() - 1, config["pattern_shares"], config["seed"]
            )
            alignment, truth = alignment.subset(rows), truth.iloc[rows].reset_index(drop=True)
        summary = sample.summary.to_dict()
        summary["n_family"] = len(truth)
        return Family(kind, dict(config), alignment, truth, sample.model, summary)
    if kind == "linear_factors":
        started = time.perf_counter()
        base = simulate_linear_factors(
            config["n_samples"],
            config["dim"],
            config["n_factors"],
            noise_std=0.0,
            seed=config["seed"],
            factor_scales=config["factor_scales"],
        )
        scales = (
            np.ones(base.n_factors)
            if config["factor_scales"] is None
            else np.asarray(config["factor_scales"])
        )
        factors = base.factors
        x = factors @ base.directions  # float64 until the noise is added
        if config["noise_std"] > 0:
            rng = np.random.default_rng([config["seed"], 1])
            x = x + config["noise_std"] * rng.standard_normal(x.shape)
        truth = pd.DataFrame({"id": [f"row{i}" for i in range(len(x))]})
        for i in range(base.n_factors):
            truth[f"alpha_{i + 1}"] = factors[:, i]
        summary = {"seconds": round(time.perf_counter() - started, 3), "factor_scales": scales.tolist()}
        return Family(kind, dict(config), x.astype(np.float32), truth, None, summary)
    raise ConfigError(f"unknown family kind {kind!r}")


def _rows_for_shares(nearest: np.ndarray, shares: list[float], seed: int) -> np.ndarray:
    """Rows of a sampled family subsampled (seeded) so that cluster μ makes up ``shares[μ]`` of it:
    the largest family those proportions allow, every kept cluster drawn without replacement."""
    shares_arr = np.asarray(shares, dtype=np.float64) / np.sum(shares)
    counts = np.bincount(nearest, minlength=len(shares_arr))
    total = int(np.floor(np.min(counts / shares_arr)))
    if total < 1:
        raise ConfigError("family.pattern_shares: a pattern has no sampled sequence to keep")
    rng = np.random.default_rng([seed, 2])
    kept = []
    for mu, share in enumerate(shares_arr):
        members = np.flatnonzero(nearest == mu)
        kept.append(rng.choice(members, size=min(len(members), int(round(share * total))), replace=False))
    return np.sort(np.concatenate(kept))


def save_family(family: Family, directory: str | Path) -> Path:
    """Write a family atomically: ``data.npz`` (codes or x), ``truth.csv``, ``patterns.npz``,
    ``family.json`` (knobs and sampler summary, written last: its presence marks completion)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_open(directory / "data.npz", "wb") as handle:
        if family.kind == "associative_memory":
            np.savez(handle, codes=family.data.codes, n_letters=family.config["n_letters"])
        else:
            np.savez(handle, x=family.data)
    write_csv(directory / "truth.csv", family.truth, "%.8g")
    if family.patterns is not None:
        save_patterns(
            family.patterns,
            directory / "patterns.npz",
            beta=family.config["beta"],
            seed=family.config["seed"],
        )
    write_json(
        directory / "family.json", {"kind": family.kind, "config": family.config, "summary": family.summary}
    )
    return directory


def load_family(directory: str | Path) -> Family:
    """Read a family written by :func:`save_family`."""
    directory = Path(directory)
    meta = json.loads((directory / "family.json").read_text(encoding="utf-8"))
    truth = pd.read_csv(directory / "truth.csv", dtype={"id": str})
    with np.load(directory / "data.npz", allow_pickle=False) as stored:
        if meta["kind"] == "associative_memory":
            alphabet = synthetic_alphabet(int(stored["n_letters"]))
            codes = stored["codes"]
            sequences = [alphabet.decode(row) for row in codes]
            data = alignment_from_sequences(
                sequences, list(truth["id"]), alphabet, source="associative-memory"
            )
            patterns = load_patterns(directory / "patterns.npz")
        else:
            data = stored["x"].astype(np.float32)
            patterns = None
    return Family(meta["kind"], meta["config"], data, truth, patterns, meta.get("summary"))


def is_built(directory: str | Path) -> bool:
    return (Path(directory) / "family.json").exists()
