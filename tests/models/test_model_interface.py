"""One interface for the VAE, site-independent and Potts models: load, log_value, sample."""

from __future__ import annotations

import pytest
import torch

import seqvae
from seqvae.data.synthetic.counts import simulate_counts
from seqvae.models.interface import SequenceModel
from seqvae.models.vae import VAE, ModelConfig
from seqvae.run import load_model
from seqvae.training.baselines import PottsSettings, fit_baseline


@pytest.fixture(scope="module")
def three_models(tiny_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("interface")
    alignment = seqvae.read_alignment(tiny_run.alignment)
    fit_baseline(alignment, "site-independent", folder / "site", model_gaps=True)
    fit_baseline(alignment, "potts", folder / "potts", potts=PottsSettings(max_iterations=5))
    return {"vae": tiny_run.run, "site-independent": folder / "site", "potts": folder / "potts"}


@pytest.mark.parametrize("kind", ["vae", "site-independent", "potts"])
def test_every_model_loads_scores_and_samples_the_same_way(three_models, kind):
    model, registry, loaded_kind = load_model(three_models[kind])
    assert loaded_kind == kind
    assert isinstance(model, SequenceModel)
    assert model.length == registry.length
    codes = torch.from_numpy(registry.reference_codes()[None, :].repeat(3, axis=0))
    values = model.log_value(codes)
    assert values.dtype == torch.float64 and values.shape == (3,) and torch.isfinite(values).all()
    draws = [model.sample(5, torch.Generator().manual_seed(1), temperature=1.0) for _ in range(2)]
    assert draws[0].dtype == torch.uint8 and draws[0].shape == (5, registry.length)
    assert torch.equal(draws[0], draws[1])  # reproducible from the seed
    assert int(draws[0].max()) < registry.alphabet.size


def test_load_model_refuses_a_run_on_counts(tmp_path):
    config = seqvae.RunConfig().updated(
        {"model.encoder_hidden": [8], "model.decoder_hidden": [8], "training.max_steps": 3}
    )
    seqvae.train(simulate_counts(n_cells=20, n_genes=5), config, out=tmp_path / "run", progress=False)
    with pytest.raises(seqvae.InputError, match="trained on counts data, not sequences"):
        load_model(tmp_path / "run")


def test_vae_samples_counts_with_a_library_size():
    model = VAE(ModelConfig(likelihood="negative_binomial", length=6, encoder_hidden=[8], decoder_hidden=[8]))
    draws = model.sample(4, torch.Generator().manual_seed(0), library=torch.full((4,), 100.0))
    assert draws.shape == (4, 6) and bool((draws >= 0).all())
    with pytest.raises(seqvae.ConfigError, match="temperature"):
        model.sample(4, torch.Generator(), temperature=0.5, library=torch.full((4,), 100.0))
