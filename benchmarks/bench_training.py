"""Training step time for the two presets, with FLOPs per step and the ratio to the peak
float32 matmul rate measured in the same run, and candidate speed-ups side by side.

Cases: ``fitness`` on BLAT (8,355 x 253, batch 256) and ``explore`` on SH3 (5,299 x 59,
batch 128). Variants, timed in interleaved rounds (median of the rounds):

  as first written   Adam's per-tensor loop, every loss term read back each step (.item()),
                     torch's default thread count
  fused Adam         Adam(fused=True): one kernel over all parameters
  + no step sync     loss terms kept on the device and read only for metric rows
  + prior in Adam    the decoder prior c/2 |W|^2 / N_eff applied as Adam weight decay c / N_eff
                     on the decoder weights (same gradient; no penalty forward/backward pass)
  + 1 thread         the same on one CPU thread
  shipped            seqvae's Trainer._train_step with the thread count it chooses

Side experiments: flushing denormal floats (weights pushed into the denormal range, as a
strong decoder prior does late in training) and the first layer as an EmbeddingBag lookup
versus a dense one-hot matrix product.

Usage: python benchmarks/bench_training.py [--steps 8] [--rounds 3] [--case fitness|explore]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description, peak_matmul_gflops  # noqa: E402
from benchmarks.shared_data import BLAT_ALIGNMENT, SHARED_DATA  # noqa: E402
from seqvae import preset_config, read_alignment  # noqa: E402
from seqvae.data.weights import compute_sequence_weights  # noqa: E402
from seqvae.models.vae import VAE  # noqa: E402
from seqvae.training.trainer import Trainer, choose_threads, make_adam  # noqa: E402

DATA = SHARED_DATA
CASES = {
    "fitness": BLAT_ALIGNMENT,
    "explore": DATA / "sh3" / "sh3_59.fasta",
}
DEFAULT_THREADS = torch.get_num_threads()


def build(preset: str, path: Path):
    aln = read_alignment(path)
    weights = compute_sequence_weights(aln.codes, aln.alphabet.gap_code, 0.2)
    config = preset_config(preset)
    config.model.length = aln.length
    config.model.alphabet_size = aln.alphabet.size
    return config, torch.from_numpy(aln.codes), weights


def fresh_model(config, seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(config.model)


def loop_step(model, data, weights, batch_size, optimizer, sync_each_step: bool, prior_in_adam: bool = False):
    sampler = torch.Generator().manual_seed(0)
    weights = torch.as_tensor(weights)
    n_eff = float(weights.sum())
    counter = [0]

    def step():
        indices = torch.multinomial(weights, batch_size, replacement=True, generator=sampler)
        terms = model.loss(
            data[indices], step=counter[0], n_eff=n_eff, include_weight_penalty=not prior_in_adam
        )
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        counter[0] += 1
        return terms.as_floats() if sync_each_step else terms.as_tensors()

    return step


def variants(config, data, weights, run_dir: Path) -> dict:
    batch = config.training.batch_size
    out = {}

    model = fresh_model(config)
    out["as first written"] = (
        loop_step(model, data, weights, batch, torch.optim.Adam(model.parameters(), lr=1e-3), True),
        DEFAULT_THREADS,
    )
    model = fresh_model(config)
    fused = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    out["fused Adam"] = (loop_step(model, data, weights, batch, fused, True), DEFAULT_THREADS)
    model = fresh_model(config)
    fused = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    out["+ no step sync"] = (loop_step(model, data, weights, batch, fused, False), DEFAULT_THREADS)
    n_eff = float(weights.sum())
    model = fresh_model(config)
    fused = make_adam(model.parameter_groups(0.0, n_eff), 1e-3)
    out["+ prior in Adam"] = (loop_step(model, data, weights, batch, fused, False, True), DEFAULT_THREADS)
    model = fresh_model(config)
    fused = make_adam(model.parameter_groups(0.0, n_eff), 1e-3)
    out["+ 1 thread"] = (loop_step(model, data, weights, batch, fused, False, True), 1)
    mask = np.zeros(len(data), dtype=bool)
    trainer = Trainer(fresh_model(config), data, weights, mask, config.training, run_dir, 0)
    out["shipped (Trainer)"] = (trainer._train_step, trainer.threads)
    return out


def time_steps(step, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    torch.set_num_threads(DEFAULT_THREADS)
    return seconds


def denormal_experiment(config, data, weights, steps: int) -> dict[str, float]:
    """Step time with a third of the decoder weights denormal, flushing off and on."""
    results = {}
    for flush in (False, True):
        model = fresh_model(config)
        with torch.no_grad():
            for module in (
                model.decoder_out,
                *[m for m in model.decoder_body if isinstance(m, torch.nn.Linear)],
            ):
                mask = torch.rand(module.weight.shape, generator=torch.Generator().manual_seed(1)) < 0.33
                module.weight[mask] = 1e-39  # below float32's smallest normal (1.2e-38)
        step = loop_step(
            model,
            data,
            weights,
            config.training.batch_size,
            torch.optim.Adam(model.parameters(), fused=True),
            False,
        )
        torch.set_flush_denormal(flush)
        results[f"flush {'on' if flush else 'off'}"] = time_steps(step, DEFAULT_THREADS, steps)
    torch.set_flush_denormal(True)
    return results


def first_layer_experiment(config, steps: int) -> dict[str, float]:
    """The encoder's first layer, forward + backward: EmbeddingBag lookup vs one-hot matmul."""
    batch, length, q, hidden = (
        config.training.batch_size,
        config.model.length,
        config.model.alphabet_size,
        config.model.encoder_hidden[0],
    )
    model = fresh_model(config)
    table = model.input_layer.table
    codes = torch.randint(0, q, (batch, length), generator=torch.Generator().manual_seed(0))
    grad = torch.randn(batch, hidden)

    def lookup():
        table.weight.grad = None
        model.input_layer(codes).backward(grad)

    def one_hot():
        table.weight.grad = None
        x = torch.zeros(batch, length * q + 1)
        x.scatter_(1, model.input_layer.flat_indices(codes), 1.0)
        (x @ table.weight + model.input_layer.bias).backward(grad)

    return {
        f"{name}, {threads} thread(s)": time_steps(f, threads, steps)
        for threads in sorted({1, DEFAULT_THREADS})
        for name, f in (("EmbeddingBag", lookup), ("one-hot mm", one_hot))
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    args = parser.parse_args()
    print(machine_description())
    torch.set_flush_denormal(True)
    for case in args.case or ["fitness", "explore"]:
        path = CASES[case]
        if not path.exists():
            print(f"skipping {case}: missing {path}")
            continue
        config, data, weights = build(case, path)
        flops = fresh_model(config).flops_per_step(config.training.batch_size)
        steps = max(2, args.steps if case == "fitness" else args.steps * 5)
        with tempfile.TemporaryDirectory() as tmp:
            candidates = variants(config, data, weights, Path(tmp))
            timings = {name: [] for name in candidates}
            roofs = {threads: [] for threads in {1, DEFAULT_THREADS}}
            for _ in range(args.rounds):
                for threads in roofs:
                    torch.set_num_threads(threads)
                    roofs[threads].append(peak_matmul_gflops())
                torch.set_num_threads(DEFAULT_THREADS)
                for name, (step, threads) in candidates.items():
                    timings[name].append(time_steps(step, threads, steps))
        roof = {threads: statistics.median(values) for threads, values in roofs.items()}
        print(
            f"\n{case} preset on {path.name}: batch {config.training.batch_size}, "
            f"{flops / 1e9:.2f} GFLOP per step (matmuls, forward + backward); auto threads = "
            f"{choose_threads(None, fresh_model(config), config.training.batch_size)}"
        )
        print(
            "roof: peak float32 matmul "
            + ", ".join(f"{v:.0f} GFLOP/s on {t} thread(s)" for t, v in roof.items())
        )
        baseline = statistics.median(timings["as first written"])
        for name, values in timings.items():
            seconds = statistics.median(values)
            threads = candidates[name][1]
            rate = flops / seconds / 1e9
            print(
                f"  {name:20s} {seconds * 1e3:8.1f} ms/step  {rate:6.1f} GFLOP/s = {rate / roof[threads]:4.0%} of the "
                f"{threads}-thread roof   {baseline / seconds:4.2f}x   (rounds: {', '.join(f'{v * 1e3:.0f}' for v in values)})"
            )
        if case == "fitness":
            denormal = denormal_experiment(config, data, weights, max(2, args.steps // 2))
            print(
                "  denormal decoder weights: "
                + ", ".join(f"{k} {v * 1e3:.0f} ms/step" for k, v in denormal.items())
            )
        first = first_layer_experiment(config, steps)
        print("  first layer fwd+bwd: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in first.items()))


if __name__ == "__main__":
    main()
