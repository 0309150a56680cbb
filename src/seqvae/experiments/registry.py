"""The built-in experiments and what each one declares to the runner."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seqvae.errors import InputError
from seqvae.experiments.knobs import Knob

__all__ = ["EXPERIMENTS", "ExperimentSpec", "PointContext", "get_experiment", "shipped_config_path"]


@dataclass
class PointContext:
    """Everything a measurement sees for one grid point.

    Attributes
    ----------
    run
        The trained :class:`~seqvae.Run`.
    family
        The :class:`~seqvae.experiments.families.Family` it was trained on.
    point
        The grid values of this point (``regulariser``, ``beta``, ``mmd_weight``, ``latent_dim``,
        ``seed``, ``family.<key>``...).
    analysis
        The resolved ``analysis`` section.
    directory
        The point's folder (measurements may leave arrays there for the figures).
    """

    run: Any
    family: Any
    point: dict[str, Any]
    analysis: dict[str, Any]
    directory: Path
    seed: int
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExperimentSpec:
    """A built-in experiment: its family, knobs, measurements and figures.

    ``measure[name](ctx)`` returns a dict of scalars (added to the point's row) or a list of
    dicts (the row is repeated once per dict: a sub-grid evaluated without retraining, e.g. the
    phenotype noise of ``simpson``). ``figures(table, config, out)`` draws from the results
    table (and arrays the measurements left in point folders) and returns the paths written.
    ``summarise(table)`` gives the short table the CLI prints.
    """

    name: str
    description: str
    family_kind: str
    family_knobs: dict[str, Knob]
    analysis_knobs: dict[str, Knob]
    measure: dict[str, Callable[[PointContext], dict | list]]
    figures: Callable[[pd.DataFrame, dict, Path], list[Path]]
    summarise: Callable[[pd.DataFrame], pd.DataFrame]
    grid_defaults: dict[str, list] = field(default_factory=dict)
    run_defaults: dict[str, dict] = field(default_factory=dict)
    quick: dict[str, Any] = field(default_factory=dict)
    family_check: Callable[[dict, str], dict] | None = None
    analysis_check: Callable[[dict], None] | None = None

    @property
    def measurements(self) -> tuple[str, ...]:
        return tuple(self.measure)

    def check_family(self, family: dict[str, Any], key: str = "family") -> dict[str, Any]:
        return self.family_check(family, key) if self.family_check else family

    def check_analysis(self, resolved: dict[str, Any]) -> None:
        if self.analysis_check:
            self.analysis_check(resolved)


EXPERIMENT_MODULES = {
    "compression": "seqvae.experiments.compression",
    "posterior-collapse": "seqvae.experiments.posterior_collapse",
    "simpson": "seqvae.experiments.simpson",
    "hamming-clusters": "seqvae.experiments.hamming_clusters",
}
EXPERIMENTS = tuple(EXPERIMENT_MODULES)


def get_experiment(name: str) -> ExperimentSpec:
    """The :class:`ExperimentSpec` of a built-in experiment (InputError for an unknown name)."""
    if name not in EXPERIMENT_MODULES:
        raise InputError(f"unknown experiment {name!r}; choose one of {list(EXPERIMENTS)}", "NAME")
    return importlib.import_module(EXPERIMENT_MODULES[name]).SPEC


def shipped_config_path(name: str) -> Path:
    """The YAML config shipped with the package for a built-in experiment."""
    get_experiment(name)
    return Path(__file__).with_name("configs") / f"{name}.yaml"
