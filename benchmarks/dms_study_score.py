"""Scoring half of ``dms_study.py``: ρ, active dimensions, last KL and train time of every
finished study run, on a fixed subsample of each scan (see ``dms_study.py``)."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pandas as pd

AVGFP_MULTI = 3000


def _scan(protein, out: Path) -> Path:
    """The scan the study scores: the full one, or for avGFP every single + 3,000 multi-mutants."""
    scan = protein.scans[0]
    if protein.name != "avGFP":
        return scan.file
    target = out / "scans" / "avGFP_subsample.csv"
    if target.exists():
        return target
    sep = scan.reading["sep"]
    table = pd.read_csv(scan.file, sep=sep, dtype=str, keep_default_na=False)
    n = table[scan.reading["mutant_column"]].str.count("/") + 1
    singles = table[n == 1]
    multi = table[n > 1].sample(n=AVGFP_MULTI, random_state=0)
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([singles, multi]).to_csv(target, sep=sep, index=False)
    return target


def _evaluate(scorer, protein, scan: Path, out_csv: Path) -> dict:
    from seqvae.workflows.multirun import evaluate_scan

    result = evaluate_scan(scorer, scan, out_csv, protein.scans[0].reading)
    result.pop("notes")
    return result


def _site_independent(protein, out: Path, scan: Path) -> dict:
    from seqvae.analysis.scoring import load_scorer
    from seqvae.data.alignment import AlignmentOptions, read_alignment
    from seqvae.training.baselines import is_baseline_directory
    from seqvae.training.config import preset_config
    from seqvae.workflows.multirun import fit_model

    folder = out / "_site_independent" / protein.name
    cached = folder / "study_eval.json"
    if cached.exists():
        return json.loads(cached.read_text())
    if not is_baseline_directory(folder):
        aln = read_alignment(protein.alignment, AlignmentOptions(reference=protein.reference))
        fit_model("site-independent", aln, preset_config("fitness").updated({"data.theta": 0.2}), folder)
    result = _evaluate(load_scorer(folder), protein, scan, folder / "scores.csv")
    cached.write_text(json.dumps(result))
    return result


def score_study(out: Path, variants: list[str], proteins: list, samples: int) -> None:
    """Score every finished study run of ``variants`` on ``proteins`` (from the panel file)."""
    import torch

    from benchmarks.study_variants import load
    from seqvae.analysis.scoring import VAEScorer
    from seqvae.training.run_directory import is_finished
    from seqvae.workflows.multirun import run_record

    torch.set_num_threads(1)
    rows = []
    for protein in proteins:
        scan = _scan(protein, out)
        site = _site_independent(protein, out, scan)
        rows.append(
            {
                "variant": "site-independent",
                "protein": protein.name,
                "spearman": site["spearman"],
                "n_scored": site["n_scored"],
            }
        )
        for variant in variants:
            run_dir = out / variant / protein.name
            if not is_finished(run_dir):
                continue
            cached = run_dir / f"study_eval_s{samples}.json"
            if cached.exists():
                result = json.loads(cached.read_text())
            else:
                run = load(run_dir)
                started = time.perf_counter()
                scorer = VAEScorer(run.model, run.registry, samples=samples, seed=0, name=variant)
                result = _evaluate(scorer, protein, scan, run_dir / "study_scores.csv")
                record = run_record(run_dir)
                with open(run_dir / "metrics.csv", newline="") as handle:
                    last = list(csv.DictReader(handle))[-1]
                result.update(
                    active_dims=record["active_dims"],
                    kl_encoded=record["kl"],
                    last_kl=float(last["kl"]),
                    train_s=record["train_time_s"],
                    steps=record["steps"],
                    wall_s=time.perf_counter() - started,
                )
                cached.write_text(json.dumps(result))
            rows.append({"variant": variant, "protein": protein.name, **result})
            print(
                f"{variant:>16} {protein.name:>6}: rho {result['spearman']:.4f} (site-ind. {site['spearman']:.4f}) "
                f"active {result['active_dims']} KL {result['last_kl']:.2f} train {result['train_s']:.0f} s",
                flush=True,
            )
    table = pd.DataFrame(rows)
    table.to_csv(out / "study.csv", index=False, float_format="%.6g")
    print(table.pivot_table(index="variant", columns="protein", values="spearman").round(4).to_string())
    if "active_dims" in table:
        print(table.pivot_table(index="variant", columns="protein", values="active_dims").to_string())
