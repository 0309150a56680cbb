from __future__ import annotations

import numpy as np
import pytest
import torch

from seqvae.analysis.couplings import (
    CouplingOptions,
    choose_references,
    coupling_deltas,
    delta_log_probs,
    full_tensor_to_matrix,
    neighbour_list,
    vae_couplings,
)
from seqvae.errors import InputError
from seqvae.models.vae import VAE, ModelConfig


class _FakeRun:
    """Just enough of a Run for vae_couplings: a model and training data."""

    def __init__(self, model, codes, weights):
        self.model = model
        self._codes = codes
        self._weights = weights
        self.registry = None
        self.path = "memory"

    def training_data(self):
        return (
            self._codes,
            self._weights,
            [f"s{i}" for i in range(len(self._codes))],
            np.zeros(len(self._codes), bool),
        )


def _model(model_gaps: bool, length: int = 9, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    config = ModelConfig(
        length=length, alphabet_size=21, model_gaps=model_gaps, latent_dim=3,
        encoder_hidden=[16, 8], decoder_hidden=[8, 16],
    )  # fmt: skip
    model = VAE(config)
    with torch.no_grad():  # masked-gap rows of the table must never matter: make them loud
        layer = model.input_layer
        view = layer.table.weight[: length * 21].view(length, 21, -1)
        view[:, 20] += 5.0
    return model.eval()


def _codes(n: int, length: int, seed: int, gap_rate: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 20, size=(n, length))
    codes[rng.random((n, length)) < gap_rate] = 20
    return codes.astype(np.uint8)


@pytest.mark.parametrize("model_gaps", [False, True])
def test_fast_path_equals_naive_reencoding(model_gaps):
    model = _model(model_gaps)
    reference = _codes(1, 9, seed=1, gap_rate=0.0)[0]
    reference[[2, 5]] = 20  # gaps in the reference
    for gap_subs in (False, True):
        jf, bf, fast, defined = coupling_deltas(
            model, reference, "fast", batch_size=7, include_gap_substitutions=gap_subs
        )
        jn, bn, naive, _ = coupling_deltas(
            model, reference, "naive", batch_size=5, include_gap_substitutions=gap_subs
        )
        assert np.array_equal(jf, jn) and np.array_equal(bf, bn)
        assert np.abs(fast).max() > 1e-4  # the comparison is not vacuous
        np.testing.assert_allclose(fast, naive, atol=2e-5, rtol=1e-4)
        # masked gaps at i have no log p; at j they are substituted like any state
        assert defined[2] == model_gaps and defined[0]
        if not model_gaps:
            assert np.all(fast[:, 2] == 0)
    # neighbours: 19 per residue position, 20 per gap position (+1 with gap substitutions)
    j, b = neighbour_list(reference, 21, 20, False)
    assert j.size == 7 * 19 + 2 * 20
    assert np.all(b != reference[j])


def test_deltas_match_direct_decoding_of_one_neighbour():
    model = _model(False)
    reference = _codes(1, 9, seed=3, gap_rate=0.0)[0]
    j, b, delta, _ = coupling_deltas(model, reference)
    k = 40
    mutant = reference.copy()
    mutant[j[k]] = b[k]
    with torch.no_grad():
        z_ref = model.encode(torch.from_numpy(reference)[None])[0]
        z_mut = model.encode(torch.from_numpy(mutant)[None])[0]
        lp_ref = model.decode(z_ref)[0, np.arange(9), reference.astype(int)]
        lp_mut = model.decode(z_mut)[0, np.arange(9), reference.astype(int)]
    expected = (lp_mut - lp_ref).numpy()
    expected[j[k]] = 0.0
    np.testing.assert_allclose(delta[k], expected, atol=1e-5)


def test_aggregate_matrix_and_full_tensor():
    model = _model(False)
    codes = _codes(6, 9, seed=4)
    weights = np.linspace(0.5, 1.5, 6)
    run = _FakeRun(model, codes, weights)
    result = vae_couplings(run, options=CouplingOptions(full=True))
    m = result.matrix
    assert m.shape == (9, 9)
    assert np.allclose(m, m.T) and np.all(np.diag(m) == 0) and (m > 0).sum() > 60
    np.testing.assert_allclose(full_tensor_to_matrix(result.full), m, rtol=1e-4, atol=1e-7)
    # hand aggregate of entry (i, j): weighted mean over references and b of Δ², rooted
    i, jj = 1, 4
    num = den = 0.0
    for row, w in zip(range(6), weights):
        j, _, delta, defined = coupling_deltas(model, codes[row])
        if not defined[i]:
            continue
        sel = j == jj
        num += w * float((delta[sel, i] ** 2).sum())
        den += w * sel.sum()
    assert np.isclose(result.rms[i, jj], np.sqrt(num / den))
    # the naive path gives the same matrix
    naive = vae_couplings(run, options=CouplingOptions(method="naive"))
    np.testing.assert_allclose(naive.matrix, m, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("model_gaps", [False, True])
def test_delta_logit_decoder_equals_full_decoding(model_gaps):
    """Δ = Δl_x - log Σ_a p_a exp(Δl_a) from the change of the logits: exact in float32, and in
    bfloat16 (the last layer's product only) within 1 % of the largest |Δ|."""
    model = _model(model_gaps)
    with torch.no_grad():  # larger output weights: changes of several nats, as in trained models
        model.decoder_out.weight.mul_(30.0)
    reference = _codes(1, 9, seed=5, gap_rate=0.0)[0]
    reference[3] = 20
    j, _, exact, defined = coupling_deltas(model, reference, "naive")
    ref_t = torch.from_numpy(reference)
    with torch.no_grad():
        z_ref = model.encode(ref_t[None])[0]
        mutants = np.repeat(reference[None], j.size, axis=0)
        mutants[np.arange(j.size), j] = coupling_deltas(model, reference)[1]
        z = model.encode(torch.from_numpy(mutants))[0]
    for dtype, tolerance in ((torch.float32, 1e-5), (torch.bfloat16, 0.01)):
        delta = delta_log_probs(model, z, z_ref, ref_t, batch_size=13, matmul_dtype=dtype).numpy()
        delta[:, ~defined] = 0.0
        delta[np.arange(j.size), j] = 0.0
        scale = np.abs(exact).max()
        assert scale > 1.0
        np.testing.assert_allclose(delta, exact, atol=tolerance * scale)
    # through coupling_deltas and the aggregate
    _, _, bf16, _ = coupling_deltas(model, reference, decoder_precision="bfloat16")
    assert np.abs(bf16 - exact).max() < 0.01 * np.abs(exact).max()
    codes = _codes(5, 9, seed=6)
    run = _FakeRun(model, codes, np.ones(5))
    full = vae_couplings(run).matrix
    fast = vae_couplings(run, options=CouplingOptions(decoder_precision="bfloat16")).matrix
    np.testing.assert_allclose(fast, full, atol=0.01 * full.max())
    with pytest.raises(InputError):
        CouplingOptions(method="naive", decoder_precision="bfloat16").validate()
    with pytest.raises(InputError):
        CouplingOptions(decoder_precision="float16").validate()


def test_reference_sample_is_weighted_and_seeded():
    weights = np.r_[np.full(50, 1e-3), np.ones(50)]
    rows, w = choose_references(weights, 20, seed=0)
    assert rows.size == 20 and np.all(w == 1) and (rows >= 50).mean() > 0.9
    assert np.array_equal(rows, choose_references(weights, 20, seed=0)[0])
    rows_all, w_all = choose_references(weights, None, seed=0)
    assert rows_all.size == 100 and np.array_equal(w_all, weights)
    with pytest.raises(InputError):
        CouplingOptions(n_references=0).validate()


def test_too_many_references_name_the_field_and_the_cli_shows_the_flag():
    from seqvae.cli.common import fields_as_flags
    from seqvae.cli.couplings import OPTION_FLAGS, OPTIONS_SECTION
    from seqvae.errors import ConfigError

    weights = np.r_[np.zeros(7), np.ones(3)]
    with pytest.raises(ConfigError, match=r"^couplings\.n_references: only 3 sequences") as library:
        choose_references(weights, 5, seed=0)
    assert library.value.field == "couplings.n_references"
    with pytest.raises(ConfigError) as cli, fields_as_flags(OPTIONS_SECTION, OPTION_FLAGS):
        choose_references(weights, 5, seed=0)
    assert cli.value.one_line().startswith("--n-ref: couplings.n_references: only 3 sequences")
