"""The Potts model (pairwise maximum-entropy model) over coded sequences.

H(x) = sum_i h_i(x_i) + sum_{i<j} J_ij(x_i, x_j), p(x) proportional to exp(H(x)); the gap is
a state like any residue (q = alphabet size). ``J`` is stored as a symmetric ``[L*q, L*q]``
matrix with zero diagonal blocks, so ``H(x) = X.h + 1/2 X^T J X`` for the one-hot ``X`` of x.
One-hots are built a block of sequences at a time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seqvae.data.onehot import one_hot

BLOCK_ROWS = 1024


class PottsModel(nn.Module):
    """Fields ``h [L, q]`` and couplings ``J [L*q, L*q]`` (symmetric, zero diagonal blocks)."""

    fields: torch.Tensor  # buffers
    couplings: torch.Tensor

    def __init__(self, fields: torch.Tensor, couplings: torch.Tensor):
        super().__init__()
        fields = torch.as_tensor(fields, dtype=torch.float32)
        couplings = torch.as_tensor(couplings, dtype=torch.float32)
        length, n_states = fields.shape
        if couplings.shape != (length * n_states, length * n_states):
            raise ValueError(f"couplings must be [{length * n_states}]^2, got {tuple(couplings.shape)}")
        self.register_buffer("fields", fields)
        self.register_buffer("couplings", couplings)

    @property
    def length(self) -> int:
        return int(self.fields.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.fields.shape[1])

    def hamiltonian(self, codes: torch.Tensor) -> torch.Tensor:
        """H(x) per sequence, ``float64 [B]`` (higher = more probable)."""
        out = []
        h = self.fields.reshape(-1)
        for start in range(0, codes.shape[0], BLOCK_ROWS):
            x = one_hot(codes[start : start + BLOCK_ROWS], self.n_states)
            pair = 0.5 * ((x @ self.couplings) * x).sum(-1)
            out.append((x @ h).double() + pair.double())
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    def log_value(self, codes: torch.Tensor) -> torch.Tensor:
        """What mutation scores compare: the Hamiltonian (log-probability up to a constant)."""
        return self.hamiltonian(codes)

    def sample(
        self,
        n: int,
        generator: torch.Generator,
        sweeps: int = 200,
        temperature: float = 1.0,
        init: torch.Tensor | None = None,
        trace: list[float] | None = None,
    ) -> torch.Tensor:
        """Gibbs sampling: ``n`` independent chains, ``sweeps`` passes over every position.

        Each chain keeps its local fields ``F = X J`` (``[n, L*q]``) and updates them by one row
        difference of ``J`` when a position changes, so a position update costs ``O(L q)`` per
        chain, not a product with the whole ``J``. Draws use the Gumbel-max trick with
        ``generator`` (no global random state).

        Parameters
        ----------
        n
            Number of chains = samples returned (the last state of each chain).
        generator
            Seeded ``torch.Generator``.
        sweeps
            Full passes over the L positions (in order). The chains start from ``init`` or from
            uniform random sequences, so give enough sweeps to forget the start; ``trace``
            shows whether the mean Hamiltonian has settled.
        temperature
            Sample from p(x)^(1/T).
        init
            Optional starting codes ``[n, L]``.
        trace
            If a list is given, the mean H(x) over chains is appended after every sweep.

        Returns
        -------
        torch.Tensor
            ``uint8 [n, L]`` codes.
        """
        length, q = self.length, self.n_states
        if init is None:
            codes = torch.randint(0, q, (n, length), generator=generator)
        else:
            codes = init.long().clone()
        fields = self.fields / temperature
        couplings = self.couplings / temperature
        local = torch.cat(
            [one_hot(codes[s : s + BLOCK_ROWS], q) @ couplings for s in range(0, n, BLOCK_ROWS)]
        )
        for _ in range(sweeps):
            for i in range(length):
                block = slice(i * q, (i + 1) * q)
                logits = fields[i] + local[:, block]
                gumbel = -torch.log(-torch.log(torch.rand(n, q, generator=generator).clamp_min(1e-20)))
                new = (logits + gumbel).argmax(dim=1)
                old = codes[:, i]
                changed = torch.nonzero(new != old).squeeze(1)
                if changed.numel():
                    local[changed] += couplings[i * q + new[changed]] - couplings[i * q + old[changed]]
                    codes[changed, i] = new[changed]
            if trace is not None:
                trace.append(float(self.hamiltonian(codes).mean()))
        return codes.to(torch.uint8)

    def coupling_blocks(self) -> np.ndarray:
        """``J`` as ``[L, L, q, q]`` (numpy, float32)."""
        L, q = self.length, self.n_states
        return self.couplings.view(L, q, L, q).permute(0, 2, 1, 3).numpy()

    def frobenius_norms(self, exclude_gap: bool = True, apc: bool = True) -> np.ndarray:
        """``[L, L]`` coupling strengths: Frobenius norm of each ``J_ij`` block in the zero-sum
        gauge (gap state dropped by default), with the average product correction."""
        L, q = self.length, self.n_states
        J = self.couplings.view(L, q, L, q).permute(0, 2, 1, 3).double()  # [L, L, q, q]
        if exclude_gap:
            J = J[:, :, : q - 1, : q - 1]
        # zero-sum gauge: subtract row and column means, add back the overall mean
        J = J - J.mean(dim=2, keepdim=True) - J.mean(dim=3, keepdim=True) + J.mean(dim=(2, 3), keepdim=True)
        fn = torch.linalg.matrix_norm(J, ord="fro").numpy()
        np.fill_diagonal(fn, 0.0)
        if not apc:
            return fn
        return average_product_correction(fn)


def average_product_correction(matrix: np.ndarray) -> np.ndarray:
    """APC (Dunn et al. 2008): ``M_ij - M̄_i M̄_j / M̄`` with means over off-diagonal entries.

    The input is symmetrised first; the diagonal of the result is 0. Removes the rank-one
    "per-position scale" part of a matrix (e.g. a VAE's larger Δ at variable positions, or a
    Potts model's stronger couplings at high-entropy columns). The one implementation: the
    comparison and contact code use it too.
    """
    m = np.asarray(matrix, dtype=np.float64)
    m = 0.5 * (m + m.T)
    length = m.shape[0]
    off = m.copy()
    np.fill_diagonal(off, 0.0)
    row_mean = off.sum(axis=1) / (length - 1)
    total_mean = off.sum() / (length * (length - 1))
    if total_mean == 0:
        return off
    corrected = off - np.outer(row_mean, row_mean) / total_mean
    np.fill_diagonal(corrected, 0.0)
    return corrected
