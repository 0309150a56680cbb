"""The latent regularisers as strategies: β-KL and MMD (IMQ kernel) with their warm-up, chosen
by the config, and a new penalty as one subclass set on the model."""

from __future__ import annotations

import pytest
import torch

from seqvae.models.regularisers import (
    KLRegulariser,
    MMDRegulariser,
    Regulariser,
    gaussian_kl,
    make_regulariser,
    mmd_unbiased,
)
from seqvae.models.vae import VAE, ModelConfig


def _config(**fields) -> ModelConfig:
    return ModelConfig(length=8, latent_dim=3, encoder_hidden=[16], decoder_hidden=[16], **fields)


def test_the_config_chooses_the_regulariser_and_its_warm_up():
    kl = make_regulariser(_config(beta=2.0, warmup_steps=100))
    assert isinstance(kl, KLRegulariser)
    assert [kl.weight(s) for s in (0, 50, 100, 400)] == [0.0, 1.0, 2.0, 2.0]
    mmd = make_regulariser(_config(regulariser="mmd", mmd_weight=10.0))
    assert isinstance(mmd, MMDRegulariser) and mmd.weight(0) == 10.0


def test_kl_penalty_is_the_mean_kl_and_mmd_tells_a_shifted_posterior():
    generator = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(64, 3, generator=generator), torch.zeros(64, 3)
    kl_dims = gaussian_kl(mean, logvar)
    assert torch.allclose(KLRegulariser(1.0).penalty(mean, kl_dims), 0.5 * mean.pow(2).sum(-1).mean())
    prior = torch.randn(256, 3, generator=generator)
    same = mmd_unbiased(torch.randn(256, 3, generator=generator), prior)
    shifted = mmd_unbiased(torch.randn(256, 3, generator=generator) + 2.0, prior)
    assert abs(float(same)) < 0.05 < float(shifted)


class _Nothing(Regulariser):
    name = "nothing"

    def penalty(self, z, kl_dims):
        return kl_dims.sum() * 0.0


def test_a_new_penalty_is_one_subclass_set_on_the_model():
    torch.manual_seed(0)
    model = VAE(_config(beta=5.0))
    x = torch.randint(0, 21, (16, 8), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    torch.manual_seed(2)
    with torch.no_grad():
        with_kl = model.loss(x, step=10)
    model.regulariser = _Nothing(5.0)
    torch.manual_seed(2)
    with torch.no_grad():
        without = model.loss(x, step=10)
    # the same draws: only the penalty differs, and the KL is still reported
    assert float(without.total) == pytest.approx(float(without.reconstruction))
    assert float(with_kl.total) == pytest.approx(float(with_kl.reconstruction) + 5.0 * float(with_kl.kl))
    assert float(without.kl) == pytest.approx(float(with_kl.kl)) and float(without.mmd) == 0.0
