"""The fitness study's variants that seqvae does not ship (benchmarks/study_variants.py): a
residue dictionary in the output layer, group sparsity of the output weights, the former
√N_eff decoder prior, KL free bits, and a variational decoder's own initial variances and
learning rate, each through the VAE's extension points."""

from __future__ import annotations

import math

import pytest
import torch
from benchmarks.study_variants import DictionaryLinear, StudyOptions, StudyVAE, load, split_overrides, train

import seqvae
from seqvae.analysis.scoring import VAEScorer
from seqvae.models.vae import VAE, BayesianLinear, ModelConfig

LENGTH, STATES = 9, 20


def _model(study: StudyOptions | None = None, **fields) -> StudyVAE:
    torch.manual_seed(0)
    config = ModelConfig(
        length=LENGTH, latent_dim=3, encoder_hidden=[16], decoder_hidden=[12], model_gaps=False, **fields
    )
    return StudyVAE(config, study or StudyOptions())


def _codes(n: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 21, (n, LENGTH), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_without_options_a_study_model_is_the_plain_model():
    config = ModelConfig(
        length=LENGTH, latent_dim=3, encoder_hidden=[16], decoder_hidden=[12], decoder_l2=2.0
    )
    torch.manual_seed(0)
    plain = VAE(config)
    torch.manual_seed(0)
    study = StudyVAE(config, StudyOptions())
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), study.state_dict().values()))
    assert study.decoder_prior_coefficient(100.0) == plain.decoder_prior_coefficient(100.0)
    torch.manual_seed(3)
    expected = plain.loss(_codes(), step=2, n_eff=100.0).total
    torch.manual_seed(3)
    assert torch.equal(study.loss(_codes(), step=2, n_eff=100.0).total, expected)


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
    model = _model(StudyOptions(output_dictionary=5)).eval()
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
    model = _model(StudyOptions(output_dictionary=4), decoder_l2=2.0)
    matrices = model.decoder_weight_matrices()
    assert any(p is model.decoder_out.position_weight for p in matrices)
    assert any(p is model.decoder_out.dictionary for p in matrices)
    groups = model.parameter_groups(0.0, n_eff=100.0)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert id(model.decoder_out.dictionary) in decayed and id(model.decoder_out.bias) not in decayed
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


@pytest.mark.parametrize("scaling", [None, "sqrt_neff"])
def test_group_sparsity_is_the_sum_of_position_unit_norms(scaling):
    model = _model(StudyOptions(decoder_group_sparsity=3.0, decoder_l2_scaling=scaling))
    n_eff = 400.0
    coefficient = 3.0 / (math.sqrt(n_eff) if scaling == "sqrt_neff" else n_eff)
    weight = model.decoder_out.weight.detach().view(LENGTH, STATES, -1)
    expected = coefficient * float(torch.sqrt((weight**2).sum(dim=1)).sum())
    terms = model.loss(_codes(), step=10, n_eff=n_eff, include_weight_penalty=False)
    assert float(terms.weight_penalty.detach()) == pytest.approx(expected, rel=1e-5)
    terms.total.backward()  # the penalty pulls every group towards zero
    assert float((model.decoder_out.weight.grad * model.decoder_out.weight.detach()).sum()) != 0.0


def test_prior_strength_follows_sqrt_neff():
    model = _model(StudyOptions(decoder_l2_scaling="sqrt_neff"), decoder_l2=20.0)
    # c = 20 sqrt(N_eff): 1000 at N_eff 2500, 200 at N_eff 100
    assert model.decoder_prior_coefficient(2500.0) * 2500.0 == pytest.approx(1000.0)
    assert model.decoder_prior_coefficient(100.0) * 100.0 == pytest.approx(200.0)
    groups = model.parameter_groups(0.0, 100.0)
    assert groups[1]["weight_decay"] == pytest.approx(20.0 / math.sqrt(100.0))
    assert {id(p) for p in groups[1]["params"]} == {id(w) for w in model.decoder_weight_matrices()}


def test_free_bits_floor_the_trained_kl_per_dimension():
    free = _model(StudyOptions(free_bits=2.0))
    plain = _model()
    plain.load_state_dict(free.state_dict())
    x = _codes(24)
    torch.manual_seed(5)
    with torch.no_grad():
        terms = free.loss(x, step=10)
    torch.manual_seed(5)
    with torch.no_grad():
        reference = plain.loss(x, step=10)
    # the reported KL is the true one; the trained term is sum_d max(2, mean KL_d) >= 2 d
    assert float(terms.kl) == pytest.approx(float(reference.kl), rel=1e-6)
    trained = float(terms.total) - float(terms.reconstruction)
    assert trained >= 2.0 * 3 - 1e-5
    assert trained >= float(reference.total) - float(reference.reconstruction) - 1e-5


def test_variance_init_and_learning_rate_of_the_variational_decoder():
    def logvar_change(variance_learning_rate: float | None) -> float:
        study = StudyOptions(decoder_logvar_init=-6.0, variance_learning_rate=variance_learning_rate)
        model = _model(study, decoder_bayesian=True)
        before = [p.detach().clone() for p in model.decoder_log_variances()]
        optimiser = torch.optim.Adam(model.parameter_groups(0.0, 50.0), lr=1e-3)
        for step in range(20):
            optimiser.zero_grad()
            model.loss(_codes(16, seed=step), step=step, n_eff=50.0).total.backward()
            optimiser.step()
        return max(
            float((p.detach() - b).abs().max())
            for p, b in zip(model.decoder_log_variances(), before, strict=True)
        )

    model = _model(StudyOptions(decoder_logvar_init=-6.0, variance_learning_rate=0.05), decoder_bayesian=True)
    assert all(isinstance(m, BayesianLinear) for m in (model.decoder_body[0], model.decoder_out))
    assert float(model.decoder_out.weight_logvar.detach()[0, 0]) == -6.0
    assert [g.get("lr") for g in model.parameter_groups(0.0, 50.0)] == [None, 0.05]
    assert len(model.decoder_log_variances()) == 4  # two layers' weights and biases
    assert logvar_change(None) <= 20 * 1e-3 * 1.1  # Adam: about one learning rate per step at most
    assert logvar_change(0.05) > 10 * logvar_change(None)


def test_a_dictionary_run_saves_loads_and_scores(tiny_run, tmp_path):
    alignment = seqvae.read_alignment(tiny_run.alignment)
    overrides, options = split_overrides(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "model.decoder_l2": 1.0,
            "study.output_dictionary": 6,
            "study.decoder_group_sparsity": 0.5,
            "training.max_steps": 6,
            "training.batch_size": 16,
        }
    )
    assert options == StudyOptions(output_dictionary=6, decoder_group_sparsity=0.5)
    config = seqvae.RunConfig().updated(overrides)
    run = train(alignment, config, options, tmp_path / "run", progress=False)
    model = load(tmp_path / "run").model
    assert isinstance(model.decoder_out, DictionaryLinear)
    codes = torch.from_numpy(run.registry.reference_codes()[None, :].repeat(2, axis=0))
    z = torch.zeros(2, model.config.latent_dim)
    with torch.no_grad():
        assert torch.equal(model.log_likelihood(codes, z), run.model.eval().log_likelihood(codes, z))
