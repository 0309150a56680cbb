"""Run configuration: data, model and training sections plus the one seed, with presets.

Every section validates itself in one place, unknown keys are errors, and the whole config
round-trips through JSON/YAML (``RunConfig.from_dict(cfg.to_dict()) == cfg``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from seqvae.data.alignment import NONSTANDARD_MODES, AlignmentOptions
from seqvae.data.alphabet import get_alphabet
from seqvae.data.weights import DEFAULT_THETA
from seqvae.errors import ConfigError, InputError
from seqvae.io.alignment_formats import FORMATS
from seqvae.models.vae import ModelConfig
from seqvae.options import (
    Boolean,
    Check,
    Constraint,
    Integer,
    Interval,
    OneOf,
    Optional,
    Options,
    Section,
    Text,
    register,
    suggest,
)
from seqvae.utils import MAX_THREADS, coerce_fields

DEVICES = ("auto", "cpu", "cuda", "mps")


def _alphabet_problem(name: Any) -> str | None:
    try:
        get_alphabet(name)
    except InputError as err:
        return err.message
    return None


@register
@dataclass
class DataConfig(Options):
    """How the alignment is read and weighted (see :class:`seqvae.AlignmentOptions`, whose
    docstring describes the fields they share).

    Parameters
    ----------
    theta
        Threshold of the sequence weights: a sequence's weight is 1 / the number of sequences
        with identity > 1 - theta to it (DeepSequence, EVE: 0.2); ``null``: every sequence
        weighs 1.
    """

    alphabet: str = "protein"
    reference: str | None = None
    nonstandard: str = "drop"
    max_sequence_gap_fraction: float | None = None
    max_column_gap_fraction: float | None = None
    format: str | None = None
    theta: float | None = DEFAULT_THETA

    section: ClassVar[str] = "data"
    described_by: ClassVar[tuple[type, ...]] = (AlignmentOptions,)
    constraints: ClassVar[dict] = {
        "alphabet": Check(
            _alphabet_problem, "must be protein, dna, rna or a string of distinct residue letters", ("AA", "")
        ),
        "reference": Optional(Text()),
        "nonstandard": OneOf(NONSTANDARD_MODES),
        "max_sequence_gap_fraction": Optional(Interval(0.0, 1.0)),
        "max_column_gap_fraction": Optional(Interval(0.0, 1.0)),
        "format": Optional(OneOf(FORMATS)),
        "theta": Optional(Interval(0.0, 1.0, closed="left")),
    }

    def alignment_options(self) -> AlignmentOptions:
        values = asdict(self)
        values.pop("theta")
        return AlignmentOptions(**values)


@register
@dataclass
class TrainingConfig(Options):
    """Optimisation and bookkeeping.

    Parameters
    ----------
    batch_size
        Sequences per step, sampled with probability proportional to their weights.
    learning_rate, weight_decay
        Adam settings.
    max_steps, max_epochs, max_time_s
        Limits; training stops at the first one reached (at least one must be set). An epoch
        is ``ceil(N_train / batch_size)`` steps.
    validation_fraction
        Fraction of sequences held out for the validation ELBO (0 disables it).
    eval_every, eval_samples
        Steps between validation ELBO evaluations, and z draws per sequence for it.
    early_stopping_patience
        Stop after this many evaluations without a better validation ELBO; the best
        weights are kept. ``None`` disables early stopping. With the MMD regulariser the ELBO's
        KL term is not what training minimises (it grows as the model learns), so a fixed
        step budget is the safer choice there.
    log_every, checkpoint_every
        Steps between metric rows and between atomic checkpoints.
    device
        ``auto`` (cuda, then mps, then cpu), ``cpu``, ``cuda`` or ``mps``.
    flush_denormal
        Flush denormal floats to zero on CPU (strong weight priors shrink weights into the
        denormal range, which can slow steps ~10x).
    threads
        CPU threads for training. ``null`` (auto): 1 thread for small models (under 2 GFLOP per
        step, e.g. the explore preset, whose operations are too small to split), else all but
        one of torch's threads (one core left free: threads that wait for a busy core stall
        every step). Set it to use every core on a machine you have to yourself.
        The choice is part of the run's config, so a resumed run uses the same.
    weight_averaging
        Decay of an exponential moving average of the weights (Polyak averaging), or
        ``null`` for none. With it, validation, early stopping and the weights kept all use the
        averaged weights, which smooths out the last steps' noise (like a small ensemble of
        the iterates, at no cost at scoring). Its effective decay ramps up as
        ``min(decay, (1 + step) / (10 + step))`` so the first steps do not dominate. A
        decay above (1 + max_steps) / (10 + max_steps) is never reached (0.994 at 1,500 steps,
        the ``fitness`` preset's value), and ``train`` warns when one is set.
    focus_steps, focus_power
        Sequences only (off by default). The last ``focus_steps`` of ``max_steps`` train on the
        family weighted towards the reference: each sequence's weight is multiplied by its
        identity to the reference (the fraction of focus columns where it holds the
        reference's residue) to the power ``focus_power``, for the batches and for the
        validation ELBO, and the weights kept are the best of that phase. The model first
        learns the whole family, then the part of it nearest the wild type; the decoder
        prior keeps the whole family's N_eff. On the DMS panel (benchmarks/RESULTS.md) 1,000
        such steps after 1,500 lift PDZ3, a deep and diverse family, by 0.03 and leave BLAT
        unchanged, but cost the shallow avGFP 0.04 and BLAT's subsampled copies 0.01-0.03:
        not in the ``fitness`` preset.
    """

    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    max_steps: int | None = 5000
    max_epochs: float | None = None
    max_time_s: float | None = None
    validation_fraction: float = 0.1
    eval_every: int = 250
    eval_samples: int = 1
    early_stopping_patience: int | None = 8
    log_every: int = 50
    checkpoint_every: int = 500
    device: str = "auto"
    flush_denormal: bool = True
    threads: int | None = None
    weight_averaging: float | None = None
    focus_steps: int = 0
    focus_power: float = 1.0

    section: ClassVar[str] = "training"
    constraints: ClassVar[dict] = {
        "batch_size": Integer(1),
        "learning_rate": Interval(0.0, closed="neither"),
        "weight_decay": Interval(0.0),
        "max_steps": Optional(Integer(1)),
        "max_epochs": Optional(Interval(0.0, closed="neither")),
        "max_time_s": Optional(Interval(0.0, closed="neither")),
        "validation_fraction": Interval(0.0, 1.0, closed="left"),
        "eval_every": Integer(1),
        "eval_samples": Integer(1),
        "early_stopping_patience": Optional(Integer(1)),
        "log_every": Integer(1),
        "checkpoint_every": Integer(1),
        "device": OneOf(DEVICES),
        "flush_denormal": Boolean(),
        "threads": Optional(Integer(1, MAX_THREADS), note="auto"),
        "weight_averaging": Optional(Interval(0.0, 1.0, closed="neither")),
        "focus_steps": Integer(0),
        "focus_power": Interval(0.0, closed="neither"),
    }
    # the fitness study's own learning rate for the variational decoder's variances
    # (benchmarks/study_variants.py)
    retired: ClassVar[dict[str, Any]] = {"variance_learning_rate": None}

    def extra_checks(self, prefix: str) -> None:
        if self.max_steps is None and self.max_epochs is None and self.max_time_s is None:
            raise ConfigError(
                f"{prefix}.max_steps: set at least one of max_steps, max_epochs, max_time_s (got None)",
                field=f"{prefix}.max_steps",
            )
        if self.focus_steps > 0 and (self.max_steps is None or self.focus_steps >= self.max_steps):
            raise ConfigError(
                f"{prefix}.focus_steps: must be below training.max_steps, the schedule it ends "
                f"(got {self.focus_steps} with max_steps {self.max_steps})",
                field=f"{prefix}.focus_steps",
            )


class _PresetName(Constraint):
    """A preset's name (a key of :data:`PRESETS`) or null, with "did you mean" for a typo."""

    def accepts(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and value in PRESETS)

    def describe(self) -> str:
        return f"must be one of {tuple(PRESETS)} or null"

    def reason(self, value: Any) -> str | None:
        if self.accepts(value):
            return None
        return f"{self.describe()} (got {value!r}){suggest(str(value), list(PRESETS))}"

    def bad_values(self) -> list[Any]:
        return ["fitnes", 3]


# numpy's and torch's generators both take a seed below 2**32
MAX_SEED = 2**32 - 1
# settings that do not change what a run learns, and those training fills in from the data
NOT_RUN_IDENTITY = frozenset(("training.device", "training.threads", "model.length", "model.alphabet_size"))


@register
@dataclass
class RunConfig(Options):
    """Everything that defines a training run. ``seed`` is the one seed entry point.

    The top level of a config: its sections (``data``, ``model``, ``training``, each an options
    class of its own) and the scalar fields ``seed`` and ``preset``. Its ``section`` is empty, so
    errors name top-level fields bare (``seed: must be an integer >= 0 (got -1)``) and the
    sections' fields as ``section.name``.

    Parameters
    ----------
    data
        How the alignment is read and weighted.
    model
        Architecture and objective of the VAE.
    training
        Optimisation and bookkeeping.
    seed
        Seeds the split, the initial weights, the batches and the draws of z.
    preset
        The preset these settings started from (``explore``, ``fitness``), or ``null``.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    seed: int = 0
    preset: str | None = None

    section: ClassVar[str] = ""
    # filled in from the training data (extra_checks lets them be unset before training)
    derived: ClassVar[tuple[str, ...]] = ("model.length", "model.alphabet_size")
    constraints: ClassVar[dict] = {
        "data": Section(DataConfig),
        "model": Section(ModelConfig),
        "training": Section(TrainingConfig),
        "seed": Integer(0, MAX_SEED),
        "preset": _PresetName(),
    }

    def extra_checks(self, prefix: str) -> None:
        """Each section's own checks (the model's length and input size come from the data later)."""
        self.data.validate()
        coerce_fields(self.model, "model")
        # the length is filled in from the data at training time; check the rest here
        model = copy.deepcopy(self.model)
        model.length = max(model.length, 1)
        model.validate()
        self.training.validate()
        if self.training.focus_steps > 0 and self.model.likelihood != "categorical":
            raise ConfigError(
                "training.focus_steps: weights towards a reference sequence need sequences "
                f"(got model.likelihood {self.model.likelihood!r})",
                field="training.focus_steps",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "preset": self.preset,
            "data": asdict(self.data),
            "model": self.model.to_dict(),
            "training": asdict(self.training),
        }

    @classmethod
    def from_dict(cls, data: Any, prefix: str | None = None) -> RunConfig:
        """A config from its dict (``config.json``'s layout); an unknown key says "did you mean".

        ``prefix`` is accepted for the :class:`~seqvae.options.Options` interface; the top level
        has none.
        """
        if not isinstance(data, dict):
            raise ConfigError("a config must be a mapping of sections")
        sections = tuple(cls.field_names())
        unknown = [k for k in data if k not in sections]
        if unknown:
            raise ConfigError(
                f"unknown config key {unknown[0]!r}{suggest(unknown[0], sections)}; "
                f"the top level holds {', '.join(sections)}",
                field=str(unknown[0]),
            )
        return cls(
            data=DataConfig.from_dict(data.get("data", {}), "data"),
            model=ModelConfig.from_dict(data.get("model", {}), "model"),
            training=TrainingConfig.from_dict(data.get("training", {}), "training"),
            seed=data.get("seed", 0),
            preset=data.get("preset"),
        )

    def differences(self, other: RunConfig) -> list[str]:
        """The settings (``section.name``) in which ``other`` would train another model.

        Where a run trains (device, threads) and what training fills in from the data (the
        model's length, alphabet and input sizes) are not compared.
        """
        mine, theirs = self.identity(), other.identity()
        return sorted(key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key))

    def identity(self) -> dict[str, Any]:
        """The settings that make a run what it is, as ``{"section.name": JSON value}``."""
        flat = json.loads(json.dumps(_flatten(self.to_dict()), default=str))
        return {key: value for key, value in flat.items() if key not in NOT_RUN_IDENTITY}

    def updated(self, overrides: dict[str, Any]) -> RunConfig:
        """A copy with ``{"section.key": value}`` or nested-dict overrides applied and checked."""
        merged = self.to_dict()
        for key, value in _flatten(overrides).items():
            if "." in key:
                section, name = key.split(".", 1)
                if section not in ("data", "model", "training"):
                    raise ConfigError(
                        f"unknown config section {section!r} in {key!r}; sections are data, model, training",
                        field=key,
                    )
                if not isinstance(merged[section], dict):
                    raise ConfigError(f"{section}: must be a mapping of settings", field=section)
                merged[section][name] = value
            else:
                merged[key] = value
        return RunConfig.from_dict(merged)


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and key in ("data", "model", "training"):
            for inner, inner_value in value.items():
                flat[f"{key}.{inner}"] = inner_value
        else:
            flat[key] = value
    return flat


PRESETS: dict[str, dict[str, Any]] = {
    # Small net, 2-D latent, gaps modelled as a state: for looking at a family.
    "explore": {
        "model": {
            "latent_dim": 2,
            "encoder_hidden": [256, 128],
            "decoder_hidden": [128, 256],
            "model_gaps": True,
            "regulariser": "kl",
            "beta": 1.0,
            "warmup_steps": 500,
            "decoder_l2": 0.0,
        },
        "training": {
            "batch_size": 128,
            "learning_rate": 1e-3,
            "max_steps": 6000,
            "max_time_s": 240.0,
            "eval_every": 250,
            "early_stopping_patience": 6,
        },
    },
    # Mutation effects (chosen on the DMS panel BLAT / avGFP / PDZ3, see benchmarks/RESULTS.md):
    # z = 30, gaps masked, an embedding-lookup encoder 512-256, decoder 256-512, a Gaussian prior
    # on the decoder weights whose strength follows the family's size in residues,
    # c = 0.08 * L * sqrt(N_eff) (c ~ 980 on BLAT, ~180 on the shallow avGFP, ~400 on the short
    # PDZ3: a strength fixed for BLAT, or one following N_eff alone, collapses the posterior of
    # the smaller families), KL warm-up, 1,500 steps of batch 256 (~3-5 CPU-minutes), and the
    # kept weights are a moving average of the iterates (decay 0.994, what its ramp reaches at
    # step 1,500). Limited by steps, not wall time, so a busy machine gives the same model, only
    # later.
    "fitness": {
        "model": {
            "latent_dim": 30,
            "encoder_hidden": [512, 256],
            "decoder_hidden": [256, 512],
            "model_gaps": False,
            "regulariser": "kl",
            "beta": 1.0,
            "warmup_steps": 1000,
            "decoder_l2": 0.08,
            "decoder_l2_scaling": "sqrt_neff_length",
        },
        "training": {
            "batch_size": 256,
            "learning_rate": 1e-3,
            "max_steps": 1500,
            "max_time_s": None,
            "eval_every": 250,
            "early_stopping_patience": 20,
            "weight_averaging": 0.994,
        },
    },
}


def preset_config(name: str | None) -> RunConfig:
    """The :class:`RunConfig` of a named preset (``explore`` or ``fitness``), or the defaults."""
    if name is None:
        return RunConfig()
    if not isinstance(name, str) or name not in PRESETS:
        raise ConfigError(
            f"unknown preset {name!r}{suggest(str(name), PRESETS)}; choose one of {sorted(PRESETS)}",
            field="preset",
        )
    config = RunConfig(preset=name).updated(copy.deepcopy(PRESETS[name]))
    config.preset = name
    return config
