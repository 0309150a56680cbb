"""Layers shared by the models: the embedding-lookup first layer on uint8 codes."""

from __future__ import annotations

import torch
from torch import nn


class CodeEmbedding(nn.Module):
    """First encoder layer on uint8 codes: sum over positions of W[l, x_l] (+ bias).

    Mathematically the same as a linear layer on the flattened one-hot input, without ever
    building it. Masked gaps map to a padding row that contributes nothing.
    """

    def __init__(self, length: int, alphabet_size: int, hidden: int, gap_is_state: bool):
        super().__init__()
        self.length = length
        self.alphabet_size = alphabet_size
        self.gap_is_state = gap_is_state
        self.padding_index = length * alphabet_size
        self.table = nn.EmbeddingBag(
            length * alphabet_size + 1, hidden, mode="sum", padding_idx=self.padding_index
        )
        self.bias = nn.Parameter(torch.zeros(hidden))
        nn.init.normal_(self.table.weight, std=(1.0 / length) ** 0.5)
        with torch.no_grad():
            self.table.weight[self.padding_index].zero_()
        self.register_buffer(
            "offsets", torch.arange(length, dtype=torch.long) * alphabet_size, persistent=False
        )

    def flat_indices(self, codes: torch.Tensor) -> torch.Tensor:
        indices = codes.long() + self.offsets
        if not self.gap_is_state:
            indices = torch.where(codes.long() == self.alphabet_size - 1, self.padding_index, indices)
        return indices

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.table(self.flat_indices(codes)) + self.bias

    def column(self, position: int, code: int) -> torch.Tensor:
        """The weight column a residue ``code`` at ``position`` adds (zero for a masked gap)."""
        if not self.gap_is_state and code == self.alphabet_size - 1:
            return torch.zeros_like(self.bias)
        return self.table.weight[position * self.alphabet_size + code]


class DictionaryLinear(nn.Module):
    """Output layer whose weights at each position are mixed from a shared residue dictionary.

    The logit of residue ``a`` at position ``l`` is ``Σ_k (W_l h)_k D_{k a} + b_{l a}``: every
    position has its own ``[K, H]`` matrix ``W_l`` but all positions share one ``[K, S]``
    dictionary ``D`` (DeepSequence's "convolved" output layer, Riesselman et al. 2018). A
    residue rarely or never seen in a column is then placed by what the dictionary learned of
    it from every other column, instead of by its own few weights.

    ``weight`` is the equivalent ``[L·S, H]`` matrix of a :class:`torch.nn.Linear`, so every
    path that reads the output layer's weight (scoring's fast path, couplings) works unchanged.
    """

    def __init__(self, hidden: int, length: int, states: int, dictionary_size: int):
        super().__init__()
        self.length, self.states = length, states
        # stored [H, L, K] so the combined weight is one matrix product, already in the
        # [H, L·S] layout a batch is multiplied by
        self.position_weight = nn.Parameter(torch.empty(hidden, length, dictionary_size))
        self.dictionary = nn.Parameter(torch.empty(dictionary_size, states))
        self.bias = nn.Parameter(torch.zeros(length * states))
        # the product's entries get the variance of a default nn.Linear(hidden, L·S) weight
        nn.init.normal_(self.position_weight, std=(1.0 / (3.0 * hidden)) ** 0.5)
        nn.init.normal_(self.dictionary, std=(1.0 / dictionary_size) ** 0.5)

    @property
    def in_features(self) -> int:
        return self.position_weight.shape[0]

    def weight_t(self) -> torch.Tensor:
        """The equivalent linear layer's weight transposed, ``[H, L·S]``."""
        return (self.position_weight @ self.dictionary).view(self.in_features, -1)

    @property
    def weight(self) -> torch.Tensor:
        """The equivalent linear layer's weight, ``[L·S, H]`` (a transposed view)."""
        return self.weight_t().T

    def weight_matrices(self) -> list[nn.Parameter]:
        """What a prior on the weights acts on: the per-position matrices and the dictionary."""
        return [self.position_weight, self.dictionary]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.weight_t()) + self.bias
