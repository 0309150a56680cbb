"""The site-independent model: each focus column has its own residue distribution.

log p(x) = sum_i log f_i(x_i). With ``model_gaps=False`` (the default, as the fitness VAE)
gaps are not modelled: gap positions contribute nothing and f_i is a distribution over the
residues only. With ``model_gaps=True`` the gap is a state like any residue.

Sampling draws every position independently from its column's distribution, so samples
reproduce the single-site frequencies and no pairwise (or higher) structure: the baseline
that a generative model with couplings should beat on pairwise statistics.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqvae.errors import InputError
from seqvae.options import check_integer


class SiteIndependentModel(nn.Module):
    """Per-column log-frequencies.

    Parameters
    ----------
    log_frequencies
        ``[L, S]`` log-probabilities per column; S = number of residues (gaps not modelled)
        or residues + 1 (gap modelled, gap last).
    gap_code
        The alphabet's gap code.
    """

    log_frequencies: torch.Tensor  # a buffer

    def __init__(self, log_frequencies: torch.Tensor, gap_code: int):
        super().__init__()
        self.register_buffer("log_frequencies", torch.as_tensor(log_frequencies, dtype=torch.float64))
        self.gap_code = int(gap_code)

    @property
    def model_gaps(self) -> bool:
        return self.log_frequencies.shape[1] > self.gap_code

    @property
    def length(self) -> int:
        return int(self.log_frequencies.shape[0])

    def log_likelihood_terms(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-position log-probabilities ``[B, L]`` (0 at masked gaps)."""
        codes = codes.long()
        if self.model_gaps:
            index = codes
        else:
            index = torch.where(codes == self.gap_code, 0, codes)
        table = self.log_frequencies.unsqueeze(0).expand(codes.shape[0], -1, -1)
        terms = table.gather(-1, index.unsqueeze(-1)).squeeze(-1)
        if not self.model_gaps:
            terms = terms.masked_fill(codes == self.gap_code, 0.0)
        return terms

    def log_likelihood(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(x) per sequence, ``float64 [B]``."""
        return self.log_likelihood_terms(codes).sum(dim=-1)

    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        """What mutation scores compare: the log-probability."""
        return self.log_likelihood(codes)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> torch.Tensor:
        """Draw ``n`` sequences, ``uint8 [n, L]`` codes.

        Each position is drawn independently from softmax(log f_i / ``temperature``) (T = 1:
        the fitted frequencies). Without a gap state (``model_gaps=False``) the samples contain
        no gaps. Pass a seeded ``torch.Generator`` for reproducible draws.
        """
        count = check_integer("n", n, 1)
        if not (math.isfinite(temperature) and temperature > 0):
            raise InputError(f"temperature must be > 0, got {temperature}")
        probabilities = torch.softmax(self.log_frequencies / temperature, dim=-1)
        # one categorical per column, n draws each: [L, n]
        states = torch.multinomial(probabilities, count, replacement=True, generator=generator)
        return states.T.contiguous().to(torch.uint8)
