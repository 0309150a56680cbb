"""The fitness-model study of issue 12: model variants side by side on the whole DMS panel.

    python benchmarks/dms_study.py train --out runs/study [--variants a,b] [--proteins BLAT,avGFP] [--jobs 2]
    python benchmarks/dms_study.py score --out runs/study [--samples 50]

``train`` fits each variant (the ``fitness`` preset plus the variant's overrides, seed 0, one
thread per training, ``--jobs`` trainings at once) on each panel protein; a finished run is
skipped on rerun. ``score`` scores every finished run on a fixed seeded subsample of each scan
(all of BLAT's and PDZ3's mutants; avGFP: every single mutant plus 3,000 multi-mutants drawn
with seed 0, the same for every variant) and writes ``study.csv``: ρ, active latent dimensions,
last KL, train seconds per variant and protein.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PANEL = ROOT / "benchmarks" / "panel.yaml"

# name -> overrides of the fitness preset (each sets the decoder prior explicitly, so the table
# means the same whatever the preset ships)
_SHIPPED = {"model.decoder_l2": 20.0, "study.decoder_l2_scaling": "sqrt_neff"}
_BAYES_LV6 = {"model.decoder_l2": 0.0, "model.decoder_bayesian": True, "study.decoder_logvar_init": -6.0}
VARIANTS: dict[str, dict] = {
    "l2_c1000": {"model.decoder_l2": 1000.0, "model.decoder_l2_scaling": "constant"},
    "l2_sqrt20": {"model.decoder_l2": 20.0, "study.decoder_l2_scaling": "sqrt_neff"},
    "l2_sqrt30": {"model.decoder_l2": 30.0, "study.decoder_l2_scaling": "sqrt_neff"},
    # session 6: c = 0.08 L sqrt(N_eff), the shipped prior since (the same c as l2_sqrt20 at L = 250)
    "l2_residues": {"model.decoder_l2": 0.08, "model.decoder_l2_scaling": "sqrt_neff_length"},
    "l2_sqrt20_fb": {
        "model.decoder_l2": 20.0,
        "study.decoder_l2_scaling": "sqrt_neff",
        "study.free_bits": 0.1,
    },
    "bayes": {"model.decoder_l2": 0.0, "model.decoder_bayesian": True},
    "l2_sqrt20_3k": {
        "model.decoder_l2": 20.0,
        "study.decoder_l2_scaling": "sqrt_neff",
        "training.max_steps": 3000,
    },
    "bayes_lv6": {"model.decoder_l2": 0.0, "model.decoder_bayesian": True, "study.decoder_logvar_init": -6.0},
    # session 5: DeepSequence's output-layer ideas and the schedule, on top of the shipped prior
    "dict40": {**_SHIPPED, "study.output_dictionary": 40},
    "dict10": {**_SHIPPED, "study.output_dictionary": 10},
    "group_sparsity1": {**_SHIPPED, "study.decoder_group_sparsity": 1.0},
    "group_sparsity3": {**_SHIPPED, "study.decoder_group_sparsity": 3.0},
    "bayes_lv6_vlr3": {**_BAYES_LV6, "study.variance_learning_rate": 3e-3},
    "bayes_lv6_vlr10": {**_BAYES_LV6, "study.variance_learning_rate": 1e-2},
    "no_validation": {**_SHIPPED, "training.validation_fraction": 0.0},
    "warmup1500": {**_SHIPPED, "model.warmup_steps": 1500},
    # session 6: smaller batches over the same epochs, the variational decoder trained longer,
    # a wider encoder or latent
    "batch128": {
        **_SHIPPED,
        "training.batch_size": 128,
        "training.max_steps": 3000,
        "model.warmup_steps": 2000,
    },
    "batch64": {
        **_SHIPPED,
        "training.batch_size": 64,
        "training.max_steps": 6000,
        "model.warmup_steps": 4000,
    },
    "bayes_lv6_vlr10_4500": {
        **_BAYES_LV6,
        "study.variance_learning_rate": 1e-2,
        "training.max_steps": 4500,
    },
    "bayes_lv6_vlr30_3000": {
        **_BAYES_LV6,
        "study.variance_learning_rate": 3e-2,
        "training.max_steps": 3000,
    },
    "encoder1024": {**_SHIPPED, "model.encoder_hidden": [1024, 1024]},
    "latent50": {**_SHIPPED, "model.latent_dim": 50},
}


def _fit(variant: str, protein: dict, out: Path) -> str:
    from seqvae.data.alignment import read_alignment
    from seqvae.training.config import preset_config
    from study_variants import split_overrides, train

    run_dir = out / variant / protein["name"]
    if (run_dir / "study_train.json").exists():
        return f"{variant}/{protein['name']}: done before"
    overrides, options = split_overrides({**VARIANTS[variant], "training.threads": 1, "seed": 0})
    if protein.get("reference"):
        overrides["data.reference"] = protein["reference"]
    config = preset_config("fitness").updated(overrides)
    aln = read_alignment(ROOT / protein["alignment"], config.data.alignment_options())
    started = time.perf_counter()
    run = train(aln, config, options, run_dir, overwrite=True, progress=False)
    seconds = time.perf_counter() - started
    (run_dir / "study_train.json").write_text(json.dumps({"train_s": seconds, "steps": run.summary["steps"]}))
    return f"{variant}/{protein['name']}: {run.summary['steps']} steps in {seconds:.0f} s"


def _proteins(names: str | None) -> list[dict]:
    import yaml

    proteins = yaml.safe_load(PANEL.read_text())["proteins"]
    if names:
        wanted = names.split(",")
        proteins = [p for p in proteins if p["name"] in wanted]
    return proteins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "score"))
    parser.add_argument("--out", type=Path, default=Path("runs/study"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--proteins", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    proteins = _proteins(args.proteins)
    variants = args.variants.split(",")
    if args.action == "train":
        jobs = [(v, p) for v in variants for p in proteins]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(_fit, v, p, args.out) for v, p in jobs]
            for future in futures:
                print(future.result(), flush=True)
    else:
        sys.path.insert(0, str(ROOT))
        from benchmarks.dms_study_score import score_study

        score_study(args.out, variants, proteins, args.samples)


if __name__ == "__main__":
    main()
