"""Benchmark: VAE couplings on BLAT (fast first-layer path vs naive re-encoding) and SCA on S1A.

One command: ``python benchmarks/bench_couplings.py`` (options: ``--references``, ``--naive-references``,
``--threads``, ``--run``, ``--preset``). Variants side by side: naive re-encoding, the first-layer fast
path (batch 2048 and 512) and the bfloat16 Δ-logit decoder (``decoder_precision="bfloat16"``). Prints
each figure with the peak float32 matmul rate measured in the same run (``benchmarks/roof.py``) and
the naive baseline measured side by side.

VAE: the trained ``runs/couplings/blat_z30`` run when present (``benchmarks/couplings_experiments.py``),
otherwise an untrained model of the same architecture (timing does not depend on the weights).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import seqvae  # noqa: E402
from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from benchmarks.shared_data import BLAT_ALIGNMENT, SHARED_DATA  # noqa: E402
from seqvae.analysis import sca as S  # noqa: E402
from seqvae.analysis.couplings import CouplingOptions, coupling_deltas, first_layer_table, vae_couplings  # noqa: E402
from seqvae.models.vae import VAE  # noqa: E402

DATA = SHARED_DATA
BLAT = BLAT_ALIGNMENT
S1A = DATA / "s1a" / "halabi_s1a_alignment.fasta"
BLAT_MODEL = {
    "latent_dim": 30,
    "model_gaps": False,
    "encoder_hidden": [512, 256],
    "decoder_hidden": [256, 512],
    "decoder_l2": 1000.0,
}


class _ModelOnly:
    def __init__(self, model, codes, weights):
        self.model, self._codes, self._weights = model, codes, weights

    def training_data(self):
        return self._codes, self._weights, None, None


def blat_model(run_path: Path, preset: str | None = None):
    if preset is None and (run_path / "model.safetensors").exists():
        run = seqvae.load(run_path)
        codes, weights, _, _ = run.training_data()
        return run.model, codes, weights, f"trained run {run_path.relative_to(ROOT)}"
    aln = seqvae.read_alignment(BLAT)
    weights = seqvae.compute_sequence_weights(aln.codes, aln.alphabet.gap_code, 0.2)
    if preset is None:
        cfg = seqvae.preset_config("explore").updated({f"model.{k}": v for k, v in BLAT_MODEL.items()})
        what = "untrained model, same architecture"
    else:
        cfg = seqvae.preset_config(preset)
        what = f"untrained model of the {preset} preset"
    cfg.model.length, cfg.model.alphabet_size = aln.length, aln.alphabet.size
    torch.manual_seed(0)
    return VAE(cfg.model).eval(), aln.codes, weights, what


def flops_per_neighbour(model) -> tuple[float, float]:
    """Matmul FLOPs of the encoder after the first layer and of the decoder, per sequence."""
    cfg = model.config
    enc = [cfg.encoder_hidden[0], *cfg.encoder_hidden[1:]]
    encoder = sum(2 * a * b for a, b in itertools.pairwise(enc)) + 2 * enc[-1] * 2 * cfg.latent_dim
    dec = [cfg.latent_dim, *cfg.decoder_hidden, cfg.length * model.n_output_states]
    decoder = sum(2 * a * b for a, b in itertools.pairwise(dec))
    return float(encoder), float(decoder)


@torch.no_grad()
def encoder_only(model, references: np.ndarray, method: str, batch_size: int = 2048) -> tuple[float, int]:
    """Time to get the latent means of every neighbour (no decoder)."""
    table = first_layer_table(model) if method == "fast" else None
    gap = model.config.alphabet_size - 1
    from seqvae.analysis.couplings import neighbour_list

    started = time.perf_counter()
    count = 0
    for ref in references:
        j, b = neighbour_list(ref, model.config.alphabet_size, gap, False)
        count += j.size
        ref_t = torch.from_numpy(ref)
        jj, bb = torch.from_numpy(j), torch.from_numpy(b)
        if method == "fast":
            base = model.input_layer(ref_t.unsqueeze(0))
            for s in range(0, j.size, batch_size):
                pre = (
                    base
                    + table[jj[s : s + batch_size], bb[s : s + batch_size]]
                    - table[jj[s : s + batch_size], ref_t.long()[jj[s : s + batch_size]]]
                )
                model.encode_from_preactivation(pre)
        else:
            for s in range(0, j.size, batch_size):
                codes = ref_t.unsqueeze(0).repeat(min(batch_size, j.size - s), 1)
                codes[torch.arange(codes.shape[0]), jj[s : s + batch_size]] = bb[s : s + batch_size].to(
                    torch.uint8
                )
                model.encode(codes)
    return time.perf_counter() - started, count


def _time_deltas(model, codes, rows, method, batch_size, precision) -> tuple[float, int, list[np.ndarray]]:
    table = first_layer_table(model) if method == "fast" else None
    started = time.perf_counter()
    count, deltas = 0, []
    for row in rows:
        j, _, delta, _ = coupling_deltas(
            model, codes[row], method, batch_size, table=table, decoder_precision=precision
        )
        count += j.size
        deltas.append(delta)
    return time.perf_counter() - started, count, deltas


def bench_vae(args, roof: float) -> None:
    if args.run is not None:
        run = seqvae.load(args.run)
        codes, weights, _, _ = run.training_data()
        model, what, family = run.model, f"trained run {args.run}", "the run's alignment"
    else:
        model, codes, weights, what = blat_model(ROOT / "runs" / "couplings" / "blat_z30", args.preset)
        family = "BLAT"
    enc_flops, dec_flops = flops_per_neighbour(model)
    print(f"\n== VAE couplings on {family} ({what}): L = {model.config.length}, encoder {model.config.encoder_hidden}, "
          f"decoder {model.config.decoder_hidden}, z = {model.config.latent_dim}")  # fmt: skip
    matrices = {}
    for options in (
        CouplingOptions(n_references=args.references, seed=0),
        CouplingOptions(n_references=args.references, seed=0, batch_size=512, decoder_precision="bfloat16"),
    ):
        result = vae_couplings(_ModelOnly(model, codes, weights), options=options)
        fast_s, n_nb = result.elapsed_s, result.n_neighbours
        gflops = n_nb * (enc_flops + dec_flops) / fast_s / 1e9
        matrices[options.decoder_precision] = result.matrix
        print(f"fast path (batch {options.batch_size}, {options.decoder_precision} decoder): {args.references} "
              f"references, {n_nb} neighbours in {fast_s:.1f} s ({n_nb / fast_s:.0f} neighbours/s, "
              f"{gflops:.1f} GFLOP/s = {gflops / roof:.0%} of the float32 matmul roof)")  # fmt: skip
    exact, approx = matrices["float32"], matrices["bfloat16"]
    print(f"  L x L matrix, bfloat16 vs float32: max |difference| / max entry = "
          f"{np.abs(approx - exact).max() / exact.max():.1e}, Pearson "
          f"{np.corrcoef(approx.ravel(), exact.ravel())[0, 1]:.7f}")  # fmt: skip
    rows = result.reference_rows[: args.naive_references]
    # side by side on the same references, interleaved twice so drifting load hits every variant alike
    variants = [
        ("naive re-encoding, batch 2048, float32", "naive", 2048, "float32"),
        ("fast first layer, batch 2048, float32 (session 1)", "fast", 2048, "float32"),
        ("fast first layer, batch 512, float32", "fast", 512, "float32"),
        ("fast first layer, batch 512, bfloat16 Δ-logits", "fast", 512, "bfloat16"),
        ("fast first layer, batch 2048, bfloat16 Δ-logits", "fast", 2048, "bfloat16"),
    ]
    times = {name: [] for name, *_ in variants}
    deltas = {}
    for _ in range(2):
        for name, method, batch, precision in variants:
            seconds, n_side, out = _time_deltas(model, codes, rows, method, batch, precision)
            times[name].append(seconds)
            deltas[name] = out
    naive_name = variants[0][0]
    naive_s = min(times[naive_name])
    print(f"side by side on {rows.size} references ({n_side} neighbours), best of 2 interleaved rounds:")
    exact = deltas[naive_name]
    for name, *_ in variants:
        best = min(times[name])
        err = max(float(np.abs(a - b).max()) for a, b in zip(deltas[name], exact))
        scale = max(float(np.abs(b).max()) for b in exact)
        print(f"  {name}: {best:.1f} s ({n_side / best:.0f} neighbours/s) -> {naive_s / best:.2f}x vs naive; "
              f"max |Δ - Δ_naive| = {err:.2e} (max |Δ| {scale:.2f})")  # fmt: skip
    refs = codes[rows]
    fast_enc, n1 = encoder_only(model, refs, "fast")
    naive_enc, _ = encoder_only(model, refs, "naive")
    print(f"encoder only (latent means of {n1} neighbours): fast {fast_enc:.2f} s, naive {naive_enc:.2f} s -> "
          f"speed-up {naive_enc / fast_enc:.1f}x; the decoder ({dec_flops / 1e6:.1f} MFLOP per neighbour vs "
          f"{enc_flops / 1e6:.2f} for the encoder after layer 1) dominates the rest")  # fmt: skip
    print(f"roofs measured now: float32 {peak_matmul_gflops():.1f}, bfloat16 "
          f"{peak_matmul_gflops(dtype=torch.bfloat16):.1f} GFLOP/s")  # fmt: skip


def bench_sca(roof: float) -> None:
    print("\n== SCA on S1A (pySCA defaults, 10 randomised alignments, 1 randomisation seed)")
    started = time.perf_counter()
    aln = seqvae.read_alignment(S1A)
    read_s = time.perf_counter() - started
    result = S.run_sca(aln, S.SCAOptions(n_stability_seeds=1))
    t = result.timings
    n, length = result.alignment.codes.shape
    flops = 2.0 * n * (20 * length) ** 2 / 2  # blocked one-hot products, upper block triangle
    core = t["sca_matrix"] + t["randomisations"] + t["ica"]
    print(
        f"{n} x {length} positions, N_eff {result.alignment.n_eff:.1f}, {result.n_significant} significant modes"
    )
    print(f"read {read_s:.1f} s, processing {t['preprocess']:.1f} s (pySCA: 3 s), SCA matrix {t['sca_matrix']:.1f} s "
          f"({flops / t['sca_matrix'] / 1e9:.1f} GFLOP/s = {flops / t['sca_matrix'] / 1e9 / roof:.0%} of the roof), "
          f"10 randomisations {t['randomisations']:.1f} s (pySCA: 64-68 s), ICA {t['ica']:.1f} s; "
          f"core {core:.1f} s (pySCA: 78-81 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--naive-references", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)"
    )
    parser.add_argument(
        "--preset", default=None, help="time an untrained model of this preset (e.g. fitness)"
    )
    parser.add_argument("--run", type=Path, default=None, help="time (and check) this trained run instead")
    parser.add_argument("--skip-sca", action="store_true")
    parser.add_argument("--skip-vae", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    roof = peak_matmul_gflops()
    print(f"roof: peak float32 matmul {roof:.1f} GFLOP/s ({machine_description()})")
    if not args.skip_vae:
        bench_vae(args, roof)
    if not args.skip_sca:
        bench_sca(roof)


if __name__ == "__main__":
    main()
