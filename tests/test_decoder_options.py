"""The decoder's study options (issue 12): a residue dictionary in the output layer, group
sparsity of the output weights, and a learning rate of its own for a variational decoder's
log-variances."""

from __future__ import annotations

import math

import pytest
import torch

import seqvae
from seqvae.analysis.scoring import VAEScorer
from seqvae.models.layers import DictionaryLinear
from seqvae.models.vae import VAE, ModelConfig
from seqvae.run import load_model
from seqvae.training.trainer import parameter_groups

LENGTH, STATES = 9, 20


def _model(**fields) -> VAE:
    torch.manual_seed(0)
    config = ModelConfig(
        length=LENGTH, latent_dim=3, encoder_hidden=[16], decoder_hidden=[12], model_gaps=False, **fields
    )
    return VAE(config)


def _codes(n: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 21, (n, LENGTH), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_dictionary_layer_is_the_linear_map_of_its_combined_weight():
    layer = DictionaryLinear(hidden=12, length=LENGTH, states=STATES, dictionary_size=4)
    hidden = torch.randn(5, 12)
    expected = hidden @ layer.weight.T + layer.bias
    assert layer.weight.shape == (LENGTH * STATES, 12)
    assert torch.allclose(layer(hidden), expected, atol=1e-6)
    # the weight at (position l, residue a) is the position's matrix times the dictionary's column
    l, a = 4, 7
    direct = layer.position_weight[:, l, :] @ layer.dictionary[:, a]
    assert torch.allclose(layer.weight[l * STATES + a], direct, atol=1e-6)
    # rank: every position's [S, H] block has rank <= K
    block = layer.weight.view(LENGTH, STATES, 12)[2]
    assert int(torch.linalg.matrix_rank(block.detach())) <= 4


def test_dictionary_model_fast_scoring_equals_its_plain_likelihood():
    model = _model(output_dictionary=5).eval()
    registry_codes = _codes(1)[0].numpy()

    class Registry:  # the scorer reads only the wild type's codes here
        def reference_codes(self):
            return registry_codes

    scorer = VAEScorer(model, Registry(), samples=4, seed=0)
    assert scorer._fast
    codes, z = _codes(), torch.randn(7, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(scorer._log_px(codes, z), model.log_likelihood(codes, z), atol=1e-4)


def test_dictionary_factors_carry_the_decoder_prior():
    model = _model(output_dictionary=4, decoder_l2=2.0)
    matrices = model.decoder_weight_matrices()
    assert any(p is model.decoder_out.position_weight for p in matrices)
    assert any(p is model.decoder_out.dictionary for p in matrices)
    groups = parameter_groups(model, 0.0, n_eff=100.0)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert id(model.decoder_out.dictionary) in decayed and id(model.decoder_out.bias) not in decayed
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"output_dictionary": 4, "decoder_bayesian": True}, "model.output_dictionary"),
        ({"output_dictionary": 4, "likelihood": "gaussian", "input_dim": 5}, "model.output_dictionary"),
        (
            {"decoder_group_sparsity": 1.0, "likelihood": "gaussian", "input_dim": 5},
            "model.decoder_group_sparsity",
        ),
    ],
)
def test_decoder_options_refuse_models_they_do_not_fit(fields, field):
    with pytest.raises(seqvae.ConfigError) as error:
        ModelConfig(length=LENGTH, **fields).validate()
    assert error.value.field == field and field in str(error.value)


@pytest.mark.parametrize("scaling", ["constant", "sqrt_neff"])
def test_group_sparsity_is_the_sum_of_position_unit_norms(scaling):
    model = _model(decoder_group_sparsity=3.0, decoder_l2_scaling=scaling)
    n_eff = 400.0
    coefficient = 3.0 / (math.sqrt(n_eff) if scaling == "sqrt_neff" else n_eff)
    assert model.config.group_sparsity_coefficient(n_eff) == pytest.approx(coefficient)
    weight = model.decoder_out.weight.detach().view(LENGTH, STATES, -1)
    expected = coefficient * float(torch.sqrt((weight**2).sum(dim=1)).sum())
    terms = model.loss(_codes(), step=10, n_eff=n_eff, include_weight_penalty=False)
    assert float(terms.weight_penalty.detach()) == pytest.approx(expected, rel=1e-5)
    terms.total.backward()  # the penalty pulls every group towards zero
    assert float((model.decoder_out.weight.grad * model.decoder_out.weight.detach()).sum()) != 0.0
    assert _model().config.group_sparsity_coefficient(n_eff) == 0.0


def test_variance_learning_rate_moves_the_log_variances_faster():
    def logvar_change(variance_learning_rate: float | None) -> float:
        model = _model(decoder_bayesian=True, decoder_logvar_init=-6.0)
        before = [p.detach().clone() for p in model.decoder_log_variances()]
        groups = parameter_groups(model, 0.0, 50.0, variance_learning_rate)
        optimiser = torch.optim.Adam(groups, lr=1e-3)
        for step in range(20):
            optimiser.zero_grad()
            model.loss(_codes(16, seed=step), step=step, n_eff=50.0).total.backward()
            optimiser.step()
        return max(
            float((p.detach() - b).abs().max())
            for p, b in zip(model.decoder_log_variances(), before, strict=True)
        )

    groups = parameter_groups(_model(decoder_bayesian=True), 0.0, 50.0, 0.05)
    assert [g.get("lr") for g in groups] == [None, 0.05]
    assert len(_model(decoder_bayesian=True).decoder_log_variances()) == 4  # two layers' weights and biases
    assert logvar_change(None) <= 20 * 1e-3 * 1.1  # Adam: about one learning rate per step at most
    assert logvar_change(0.05) > 10 * logvar_change(None)


def test_a_dictionary_run_saves_loads_and_scores(tiny_run, tmp_path):
    alignment = seqvae.read_alignment(tiny_run.alignment)
    config = seqvae.RunConfig().updated(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "model.output_dictionary": 6,
            "model.decoder_l2": 1.0,
            "model.decoder_group_sparsity": 0.5,
            "training.max_steps": 6,
            "training.batch_size": 16,
        }
    )
    run = seqvae.train(alignment, config, out=tmp_path / "run", progress=False)
    model, registry, kind = load_model(tmp_path / "run")
    assert kind == "vae" and isinstance(model.decoder_out, DictionaryLinear)
    codes = torch.from_numpy(registry.reference_codes()[None, :].repeat(2, axis=0))
    z = torch.zeros(2, model.config.latent_dim)
    with torch.no_grad():
        assert torch.equal(model.log_likelihood(codes, z), run.model.eval().log_likelihood(codes, z))


def test_step_flops_count_the_dictionary_product_once_per_step():
    plain, mixed = VAE(_model().config), VAE(_model(output_dictionary=4).config)
    extra = {batch: mixed.flops_per_step(batch) - plain.flops_per_step(batch) for batch in (8, 64)}
    # forming the [H, L·S] weight from [H, L, K] @ [K, S]: 6·H·L·S·K, the same for every batch size
    assert extra == {8: 6.0 * 12 * LENGTH * STATES * 4, 64: 6.0 * 12 * LENGTH * STATES * 4}
