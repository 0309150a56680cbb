"""SH3 (Lian et al.): on a small seeded 2-D model the top 10 % RE_norm sequences are localised in
latent space, and RE_norm is predicted from the latent means about as well as from two PCs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqvae
from conftest import shared_file
from seqvae.analysis.latent import alignment_pca, cross_validated_r2, localisation_test
from seqvae.analysis.phenotypes import join_phenotypes, read_phenotype_table


@pytest.mark.shared_data
def test_sh3_top_re_norm_sequences_are_localised(tmp_path):
    torch.set_num_threads(1)
    fasta = shared_file("sh3/sh3_59.fasta")
    table = read_phenotype_table(shared_file("sh3/sh3_59_phenotypes.csv"))
    aln = seqvae.read_alignment(fasta)
    config = seqvae.preset_config("explore").updated(
        {
            "model.encoder_hidden": [128],
            "model.decoder_hidden": [128],
            "model.warmup_steps": 200,
            "training.max_steps": 800,
            "training.max_time_s": None,
            "training.eval_every": 800,
            "training.learning_rate": 3e-3,
            "seed": 0,
        }
    )
    run = seqvae.train(aln, config, out=tmp_path / "run", progress=False)
    codes, weights, ids, _ = run.training_data()
    z_mean, _ = run.encode(codes)
    joined = join_phenotypes(ids, table)
    assert joined.n_matched == aln.n_sequences == 5299
    re_norm = joined.table["RE_norm"].to_numpy(dtype=float)
    measured = np.isfinite(re_norm)
    assert measured.sum() == 4571
    top = measured & (re_norm >= np.quantile(re_norm[measured], 0.9))
    result = localisation_test(z_mean, top, weights, pool=measured, n_permutations=199, seed=0)
    assert result.p_value < 0.01, result.to_dict()
    assert result.ratio < 0.95
    # RE_norm is a local, non-linear function of the map: k-NN on 2 latent dims explains much of it
    pcs = alignment_pca(codes, aln.alphabet.size, weights, n_components=2).scores
    r2_latent = cross_validated_r2(z_mean[measured], re_norm[measured], "knn", seed=0)
    r2_pcs = cross_validated_r2(pcs[measured], re_norm[measured], "knn", seed=0)
    assert r2_latent > 0.3
    assert np.isfinite(r2_pcs)
