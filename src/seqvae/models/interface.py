"""The one interface of seqvae's sequence models: the VAE, the site-independent model and the
Potts model all score coded sequences and draw new ones the same way.

* ``length`` — the number of focus columns L the model covers;
* ``log_value(codes)`` — per sequence, ``float64 [B]``, what mutation scores compare: the ELBO
  (VAE), log p(x) (site-independent) or the Hamiltonian, log p(x) + log Z (Potts);
* ``sample(n, generator, temperature=...)`` — ``n`` new sequences, ``uint8 [n, L]`` codes,
  reproducible from a seeded ``torch.Generator``;
* ``eval()`` — the model itself, set to inference (what a scorer calls first).

Loading any of them from its directory (a run or a baseline) is :func:`seqvae.run.load_model`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class SequenceModel(Protocol):
    """What a model of coded sequences offers (see the module docstring)."""

    @property
    def length(self) -> int: ...

    def log_value(self, codes: torch.Tensor) -> torch.Tensor: ...

    def sample(self, n: int, generator: torch.Generator, *, temperature: float = 1.0) -> torch.Tensor: ...

    def eval(self) -> SequenceModel: ...
