"""Controlled experiments on synthetic families (``seqvae experiment NAME``).

Each built-in experiment pairs a synthetic family (associative memory or linear factors) with a
grid of models (regulariser, β or λ, latent size, seed, family knobs) and a list of
measurements; :func:`run_experiment` trains the grid in parallel worker processes, resumes
where it stopped, and writes a tidy results table, figures and the resolved config.
"""

from seqvae.experiments.config import resolve_config
from seqvae.experiments.registry import EXPERIMENTS, get_experiment, shipped_config_path
from seqvae.experiments.runner import ExperimentResult, expand_grid, run_experiment

__all__ = [
    "EXPERIMENTS",
    "ExperimentResult",
    "expand_grid",
    "get_experiment",
    "resolve_config",
    "run_experiment",
    "shipped_config_path",
]
