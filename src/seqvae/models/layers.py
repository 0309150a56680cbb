"""Layers shared by the models: the embedding-lookup first layer on uint8 codes."""

from __future__ import annotations

import torch
from torch import nn


class CodeEmbedding(nn.Module):
    """First encoder layer on uint8 codes: sum over positions of W[l, x_l] (+ bias).

    Mathematically the same as a linear layer on the flattened one-hot input, without ever
    building it. Masked gaps map to a padding row that contributes nothing.
    """

    offsets: torch.Tensor  # a buffer

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
