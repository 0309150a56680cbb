"""Model options of the fitness study that seqvae ships: a variational (DeepSequence) decoder and a
decoder prior that follows the family's N_eff and length (the study's other variants:
tests/training/test_study_variants.py)."""

from __future__ import annotations

import math

import pytest
import torch

from seqvae.errors import ConfigError
from seqvae.models.vae import VAE, BayesianLinear, ModelConfig
from seqvae.training.config import RunConfig, preset_config


def _config(**kwargs) -> ModelConfig:
    base = dict(length=12, alphabet_size=21, latent_dim=3, encoder_hidden=[16], decoder_hidden=[8, 16])
    base.update(kwargs)
    return ModelConfig(**base).validate()


def _codes(n: int = 24, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 21, (n, 12), generator=generator, dtype=torch.uint8)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decoder_l2_scaling": "log"}, "decoder_l2_scaling"),
        ({"decoder_l2_scaling": "sqrt_neff"}, "decoder_l2_scaling"),
        ({"decoder_bayesian": "yes"}, "decoder_bayesian"),
    ],
)
def test_bad_options_name_their_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"model.{field}"):
        _config(**kwargs)


def test_options_round_trip_through_json():
    config = preset_config("fitness").updated({"model.decoder_bayesian": True, "model.decoder_l2": 20.0})
    assert RunConfig.from_dict(config.to_dict()) == config


def test_a_constant_prior_is_the_same_whatever_the_family():
    constant = _config(decoder_l2=1000.0)
    assert constant.decoder_prior_coefficient(2500.0) == pytest.approx(1000.0 / 2500.0)
    model = VAE(_config(decoder_l2=0.08, decoder_l2_scaling="sqrt_neff_length"))
    groups = model.parameter_groups(0.0, 100.0)
    assert groups[1]["weight_decay"] == pytest.approx(0.08 * 12 / math.sqrt(100.0))
    assert {id(p) for p in groups[1]["params"]} == {id(w) for w in model.decoder_weight_matrices()}


def test_prior_strength_follows_the_residues_of_the_family():
    # c = k L sqrt(N_eff): against a reconstruction summed over N_eff L residues the prior's
    # weight is k / sqrt(N_eff) whatever the length
    long, short = (
        _config(length=length, decoder_l2=0.08, decoder_l2_scaling="sqrt_neff_length") for length in (250, 80)
    )
    assert long.decoder_prior_coefficient(2500.0) * 2500.0 == pytest.approx(0.08 * 250 * 50.0)
    assert short.decoder_prior_coefficient(2500.0) * 2500.0 == pytest.approx(0.08 * 80 * 50.0)
    for n_eff in (100.0, 2500.0):
        ratio = long.decoder_prior_coefficient(n_eff) / (250 * 1.0)
        assert short.decoder_prior_coefficient(n_eff) / 80 == pytest.approx(ratio)
        assert ratio == pytest.approx(0.08 / math.sqrt(n_eff))


def test_variational_decoder_samples_in_training_and_uses_means_in_eval():
    torch.manual_seed(0)
    model = VAE(_config(decoder_bayesian=True))
    layers = [m for m in [*model.decoder_body, model.decoder_out] if isinstance(m, torch.nn.Linear)]
    assert layers and all(isinstance(m, BayesianLinear) for m in layers)
    z = torch.randn(5, 3)
    model.train()
    assert not torch.allclose(model.decode(z), model.decode(z))
    model.eval()
    first = model.decode(z)
    assert torch.equal(first, model.decode(z))
    # eval mode is the plain network with the mean weights
    out = model.decoder_out
    expected = torch.nn.functional.linear(model.decoder_body(z), out.weight, out.bias)
    expected = torch.log_softmax(expected.view(5, 12, -1), dim=-1)
    assert torch.allclose(first, expected, atol=1e-6)


def test_variational_decoder_kl_is_the_closed_form_and_enters_the_loss():
    torch.manual_seed(1)
    model = VAE(_config(decoder_bayesian=True))
    expected = 0.0
    for module in [*model.decoder_body, model.decoder_out]:
        if isinstance(module, BayesianLinear):
            for mean, logvar in ((module.weight, module.weight_logvar), (module.bias, module.bias_logvar)):
                expected += float((0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum()).detach())
    assert float(model.decoder_weight_kl().detach()) == pytest.approx(expected, rel=1e-5)
    terms = model.loss(_codes(), n_eff=50.0, include_weight_penalty=False)
    assert float(terms.weight_penalty.detach()) == pytest.approx(expected / 50.0, rel=1e-5)
    total, reconstruction, penalty = (
        float(t.detach()) for t in (terms.total, terms.reconstruction, terms.weight_penalty)
    )
    assert total >= reconstruction + penalty - 1e-3
    # the weights' KL pulls every posterior variance up towards the prior's (sigma^2 < 1 here)
    model.zero_grad()
    model.decoder_weight_kl().backward()
    assert (model.decoder_out.weight_logvar.grad < 0).all()


def test_scoring_fast_path_reads_the_mean_weights():
    from seqvae.analysis.scoring import VAEScorer
    from seqvae.data.alignment import alignment_from_sequences

    torch.manual_seed(2)
    residues = "ACDEFGHIKLMNPQRSTVWY"
    generator = torch.Generator().manual_seed(3)
    sequences = [
        "".join(residues[int(i)] for i in torch.randint(0, 20, (12,), generator=generator)) for _ in range(6)
    ]
    aln = alignment_from_sequences(sequences)
    model = VAE(_config(decoder_bayesian=True, model_gaps=False))
    scorer = VAEScorer(model, aln.registry, samples=3)
    assert scorer._fast
    codes = torch.from_numpy(aln.codes[:4])
    z = torch.randn(4, 3)
    with torch.no_grad():
        assert torch.allclose(scorer._log_px(codes, z), model.log_likelihood(codes, z), atol=1e-4)
