"""LossTerms: the terms of one loss evaluation, as tensors (no synchronisation) or as floats."""

from __future__ import annotations

import pytest
import torch

from seqvae.models.vae import VAE, ModelConfig


def test_loss_terms_as_floats_match_the_tensors_and_the_elbo_is_minus_rec_minus_kl():
    torch.manual_seed(0)
    model = VAE(ModelConfig(length=8, latent_dim=3, encoder_hidden=[16], decoder_hidden=[16], beta=2.0))
    x = torch.randint(0, 21, (16, 8), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    with torch.no_grad():
        terms = model.loss(x, step=10, n_eff=16.0)
    floats, tensors = terms.as_floats(), terms.as_tensors()
    assert floats.keys() == tensors.keys()
    assert all(isinstance(value, float) for value in floats.values())
    assert floats == pytest.approx({key: float(value) for key, value in tensors.items()})
    # one z draw per sequence: the batch's mean ELBO is -(reconstruction + KL)
    assert terms.elbo == pytest.approx(-(floats["reconstruction"] + floats["kl"]), rel=1e-5)
    assert floats["regulariser_weight"] == model.regulariser.weight(10)
