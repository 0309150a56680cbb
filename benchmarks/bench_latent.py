"""Latent-space benchmark: SH3 (2-D and 3-D), S1A (2-D) and the β sweep on linear factors.

    python benchmarks/bench_latent.py [--quick] [--jobs 2]

Trains with the explore preset (time limit removed and at most 2,000 steps, so step counts do not
depend on machine load; one torch thread per process, which is much faster than two on a shared
2-core machine), runs
``analyse_latent`` and the sweep, and prints every number that goes into benchmarks/RESULTS.md
next to the peak matmul roof measured in the same run. Finished runs in benchmarks/out/latent/
are reused (delete the folder to retrain). Figures: benchmarks/out/latent/*/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import seqvae  # noqa: E402
from roof import machine_description, peak_matmul_gflops  # noqa: E402
from seqvae.analysis.latent_report import LatentOptions, analyse_latent  # noqa: E402
from seqvae.data.synthetic.linear_factors import simulate_linear_factors  # noqa: E402
from seqvae.plots.latent import write_latent_report  # noqa: E402
from seqvae.workflows.sweep import run_sweep  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out" / "latent"


def trained(path: Path, data, config) -> tuple[seqvae.Run, float]:
    summary = path / "summary.json"
    if summary.exists() and json.loads(summary.read_text())["status"] == "finished":
        run = seqvae.load(path)
        return run, float(run.summary["train_time_s"])
    started = time.perf_counter()
    run = seqvae.train(data, config, out=path, overwrite=True, progress=False)
    return run, time.perf_counter() - started


def explore_config(latent_dim: int, **overrides):
    values = {"model.latent_dim": latent_dim, "training.max_time_s": None, "seed": 0, **overrides}
    return seqvae.preset_config("explore").updated(values)


def summarise(report, elapsed: float) -> dict:
    diag = report.diagnostics
    out = {
        "n_sequences": len(report.ids),
        "latent_dim": report.latent_dim,
        "var_z_mean": [round(v, 3) for v in diag.table["variance"]],
        "active": diag.n_active,
        "trace_cov": round(diag.trace_cov, 3),
        "participation_ratio_active": round(diag.participation_ratio_active, 3),
        "canonical_correlations_top10": [round(c, 3) for c in report.comparison["canonical_correlations"]],
        "r2_latent_from_top10_pcs": round(report.comparison["r2_latent_from_pcs"]["total"], 3),
        "r2_top10_pcs_from_latent": round(report.comparison["r2_pcs_from_latent"]["total"], 3),
        "analysis_s": round(elapsed, 1),
        "columns": {},
    }
    for name, column in report.columns.items():
        entry: dict = {}
        if column.predictability:
            p = column.predictability
            entry["cv_r2"] = {
                k: round(p[k], 3) for k in ("latent_linear", "latent_knn", "pca_linear", "pca_knn")
            }
            entry["n"] = p["n"]
        if column.classification:
            c = column.classification
            entry["knn_accuracy"] = {
                "latent": round(c["latent"]["accuracy"], 3),
                "pca": round(c["pca"]["accuracy"], 3),
                "latent_balanced": round(c["latent"]["balanced_accuracy"], 3),
                "pca_balanced": round(c["pca"]["balanced_accuracy"], 3),
                "majority": round(c["latent"]["chance"], 3),
                "n": c["latent"]["n"],
                "n_classes": c["latent"]["n_classes"],
            }
        for grouped in column.grouped:
            entry.setdefault("grouped", []).append(
                {
                    "grouping": grouped.grouping,
                    "pooled": {k: round(grouped.pooled[k], 3) for k in ("r2_linear", "r2_knn")},
                    "groups": [
                        {
                            "group": g["group"],
                            "n": g["n"],
                            "r2_linear": round(g["r2_linear"], 3),
                            "r2_knn": round(g["r2_knn"], 3),
                            "flag": bool(g["flag_strength"] or g["flag_sign"]),
                        }
                        for g in grouped.groups.to_dict(orient="records")
                    ],
                }
            )
        entry["localisation"] = [
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.to_dict().items()}
            for r in column.localisation
        ]
        out["columns"][name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and permutations (smoke run)")
    parser.add_argument("--jobs", type=int, default=2, help="sweep worker processes")
    parser.add_argument("--only", default="sh3,s1a,factors", help="comma-separated parts to run")
    parser.add_argument("--factor-steps", type=int, default=4000, help="training steps per sweep point")
    parser.add_argument(
        "--factor-scales", default="graded,equal", help="which linear-factor sweeps: graded, equal or both"
    )
    parser.add_argument(
        "--equal-betas",
        default="1,2,3,4,6,8",
        help="β grid of the equal-scale sweep (e.g. a fine grid 5,5.5,...,8 to resolve the steps)",
    )
    parser.add_argument("--equal-seeds", default="0", help="seeds of the equal-scale sweep")
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default benchmarks/out/latent/full)"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    torch.set_num_threads(1)
    roof = peak_matmul_gflops()
    print(f"roof: {roof:.1f} GFLOP/s peak float32 matmul, 1 torch thread ({machine_description()})")
    results: dict = {"roof_gflops_1_thread": round(roof, 1)}
    # a fixed step budget (the explore preset's 240 s limit would make results depend on machine load)
    steps = {"training.max_steps": 600 if args.quick else 2000}
    permutations = 199 if args.quick else 999
    out = args.out or OUT / ("quick" if args.quick else "full")

    if "sh3" in parts:
        aln = seqvae.read_alignment(DATA / "sh3" / "sh3_59.fasta")
        for d in (2, 3):
            run, train_s = trained(out / f"sh3_d{d}_run", aln, explore_config(d, **steps))
            started = time.perf_counter()
            report = analyse_latent(
                run,
                None,
                DATA / "sh3" / "sh3_59_phenotypes.csv",
                color_columns=["RE_norm", "taxon_group"],
                group_columns=["taxon_group"],
                options=LatentOptions(n_permutations=permutations),
            )
            elapsed = time.perf_counter() - started
            write_latent_report(report, out / f"sh3_d{d}", interactive=(d == 3))
            entry = summarise(report, elapsed)
            entry.update(
                train_s=round(train_s, 1),
                steps=run.summary["steps"],
                stop=run.summary["stop_reason"],
                val_elbo=round(run.summary["best_val_elbo"], 3),
            )
            results[f"sh3_d{d}"] = entry
            print(f"SH3 d={d}: {json.dumps(entry)}")

    if "s1a" in parts:
        config = explore_config(2, **{"data.max_column_gap_fraction": 0.5, **steps})
        aln = seqvae.read_alignment(
            DATA / "s1a" / "halabi_s1a_alignment.fasta", config.data.alignment_options()
        )
        run, train_s = trained(out / "s1a_d2_run", aln, config)
        started = time.perf_counter()
        report = analyse_latent(
            run,
            None,
            DATA / "s1a" / "halabi_s1a_metadata.csv",
            id_column="Seq_ID",
            color_columns=["prot_specificity", "blood_type", "taxonomy", "Subphylum"],
            options=LatentOptions(n_permutations=permutations),
        )
        elapsed = time.perf_counter() - started
        write_latent_report(report, out / "s1a_d2", interactive=False)
        entry = summarise(report, elapsed)
        entry.update(
            train_s=round(train_s, 1),
            steps=run.summary["steps"],
            length=aln.length,
            stop=run.summary["stop_reason"],
            val_elbo=round(run.summary["best_val_elbo"], 3),
        )
        results["s1a_d2"] = entry
        print(f"S1A d=2: {json.dumps(entry)}")

    if "factors" in parts:
        base = seqvae.preset_config(None).updated(
            {
                "model.latent_dim": 10,
                "model.encoder_hidden": [64],
                "model.decoder_hidden": [64],
                "model.warmup_steps": 0,
                "training.max_steps": 300 if args.quick else args.factor_steps,
                "training.learning_rate": 3e-3,
                "training.eval_every": 100,
                "training.early_stopping_patience": None,
            }
        )
        betas = [0.25, 1, 2, 4, 8, 16, 32, 64] if not args.quick else [0.25, 2, 16, 128]
        equal_betas = [float(b) for b in args.equal_betas.split(",")]
        equal_seeds = [int(s) for s in args.equal_seeds.split(",")]
        sweeps = [
            ("graded", np.geomspace(4.0, 0.25, 6), [0, 1], betas),
            ("equal", np.ones(6), equal_seeds, equal_betas if not args.quick else [1, 8]),
        ]
        chosen = set(args.factor_scales.split(","))
        for name, scales, seeds, grid in [sweep for sweep in sweeps if sweep[0] in chosen]:
            path = out / f"factors_{name}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = simulate_linear_factors(2000, 100, 6, noise_std=0.05, seed=0, factor_scales=scales)
            np.save(path, data.x)
            started = time.perf_counter()
            summary = run_sweep(
                path,
                base,
                "model.beta",
                grid,
                out / f"sweep_{name}_{base.training.max_steps}",
                seeds=seeds,
                jobs=args.jobs,
                progress=False,
            )
            elapsed = time.perf_counter() - started
            table = summary.groupby("value")[["trace_cov", "active_dims", "val_elbo"]].mean().round(3)
            results[f"sweep_{name}_{base.training.max_steps}"] = {
                "scales": [round(s, 3) for s in scales],
                "seeds": seeds,
                "wall_s": round(elapsed, 1),
                "by_beta": table.reset_index().to_dict(orient="records"),
                "active_per_seed": summary.pivot(
                    index="value", columns="seed", values="active_dims"
                ).to_dict(),
            }
            print(f"sweep {name} (scales {np.round(scales, 2).tolist()}), {elapsed:.0f} s:\n{table}")

    target = out / f"bench_latent_results_{'_'.join(sorted(parts))}.json"
    target.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {target}")


if __name__ == "__main__":
    main()
