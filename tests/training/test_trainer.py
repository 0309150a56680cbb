"""Trainer internals that the speed-ups rely on: the decoder prior applied as Adam weight decay,
thread choice, metric rows without per-step syncs, best-weight restoring."""

from __future__ import annotations

import csv
import json

import numpy as np
import torch

import seqvae
from seqvae.models.vae import VAE, ModelConfig
from seqvae.training.trainer import choose_threads, make_adam


def small_model(decoder_l2: float = 0.0, **changes) -> VAE:
    torch.manual_seed(0)
    config = ModelConfig(
        length=12, encoder_hidden=[16], decoder_hidden=[8, 16], decoder_l2=decoder_l2, **changes
    )
    return VAE(config)


def test_prior_as_weight_decay_gives_the_penalty_gradient():
    model = small_model(decoder_l2=300.0)
    codes = torch.randint(0, 21, (32, 12), generator=torch.Generator().manual_seed(1))
    n_eff = 40.0
    decoder = model.decoder_weight_matrices()
    assert len(decoder) == 3  # 2 -> 8 -> 16 -> 12 x 21
    torch.manual_seed(5)
    with_penalty = torch.autograd.grad(model.loss(codes, n_eff=n_eff).total, decoder)
    torch.manual_seed(5)
    loss = model.loss(codes, n_eff=n_eff, include_weight_penalty=False).total
    without = torch.autograd.grad(loss, decoder)
    groups = model.parameter_groups(0.01, n_eff)
    assert groups[1]["params"] == decoder and groups[1]["weight_decay"] == 0.01 + 300.0 / n_eff
    assert groups[0]["weight_decay"] == 0.01
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    for g_with, g_without, weight in zip(with_penalty, without, decoder):
        torch.testing.assert_close(g_without + (300.0 / n_eff) * weight, g_with, rtol=1e-5, atol=1e-6)


def test_adam_steps_match_with_penalty_or_weight_decay():
    """A few optimiser steps: penalty in the loss vs the same prior as weight decay."""
    codes = torch.randint(0, 21, (32, 12), generator=torch.Generator().manual_seed(1))
    results = []
    for in_adam in (False, True):
        model = small_model(decoder_l2=300.0)
        groups = model.parameter_groups(0.0, 40.0) if in_adam else list(model.parameters())
        optimizer = make_adam(groups, 1e-2)
        torch.manual_seed(7)
        for _ in range(5):
            loss = model.loss(codes, n_eff=40.0, include_weight_penalty=not in_adam).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        results.append([p.detach().clone() for p in model.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_thread_choice():
    assert choose_threads(3, small_model(), 128) == 3
    assert choose_threads(None, small_model(), 128) == 1  # tiny model
    big = ModelConfig(length=253, encoder_hidden=[1500, 1500], decoder_hidden=[100, 2000], latent_dim=30)
    assert VAE(big).flops_per_step(256) > 1e10  # DeepSequence-sized
    assert choose_threads(None, big, 256) == max(1, torch.get_num_threads() - 1)  # one core left free


def test_metrics_rows_average_the_window_and_include_the_prior(tmp_path):
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACDEFGHIKL"), 10)) for _ in range(50)]
    aln = seqvae.data.alignment.alignment_from_sequences(sequences)
    config = seqvae.RunConfig().updated(
        {
            "model.encoder_hidden": [16],
            "model.decoder_hidden": [16],
            "model.decoder_l2": 100.0,
            "model.beta": 0.5,
            "training.max_steps": 30,
            "training.log_every": 10,
            "training.eval_every": 10,
            "training.early_stopping_patience": 1,
            "training.batch_size": 8,
        }
    )
    run = seqvae.train(aln, config, out=tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(10, int(run.summary["steps"]) + 1, 10))
    for row in rows:
        values = {k: float(v) for k, v in row.items() if v != ""}
        assert values["weight_penalty"] > 0
        expected = values["reconstruction"] + 0.5 * values["kl"] + values["weight_penalty"]
        assert abs(values["loss"] - expected) < 1e-3 * abs(expected)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["weights"] == "best validation ELBO"
    # early stopping keeps the weights of the best validation step
    evaluated = [r for r in rows if r["val_elbo"] != ""]
    best_row = max(evaluated, key=lambda r: float(r["val_elbo"]))
    assert summary["best_step"] == int(best_row["step"])
    assert abs(summary["best_val_elbo"] - float(best_row["val_elbo"])) < 1e-9
