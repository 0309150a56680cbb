"""The fitness-model study of issue 12: model variants side by side on the whole DMS panel.

    python benchmarks/dms_study.py train --out runs/study [--variants a,b] [--proteins BLAT,avGFP] [--jobs 2]
    python benchmarks/dms_study.py score --out runs/study [--samples 50]

``train`` fits each variant (the ``fitness`` preset plus the variant's overrides, seed 0, one
thread per training, ``--jobs`` trainings at once: tasks of :mod:`seqvae.executor`, whose
finished ones are skipped on rerun) on each panel protein. ``score`` scores every finished run on a fixed seeded subsample of each scan
(all of BLAT's and PDZ3's mutants; avGFP: every single mutant plus 3,000 multi-mutants drawn
with seed 0, the same for every variant) and writes ``study.csv``: ρ, active latent dimensions,
last KL, train seconds per variant and protein.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PANEL = ROOT / "benchmarks" / "panel.yaml"

# the study's model knobs, in one place: name -> overrides of the fitness preset (each sets the decoder prior explicitly, so the table
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


def fit_variant(variant: str, alignment: str, reference: str | None, run_dir: str) -> dict:
    """One study run (an executor task): the fitness preset with the variant's overrides, seed 0,
    one thread; a finished run of the same config is read back, an interrupted one resumed."""
    from seqvae.data.alignment import read_alignment
    from seqvae.training.config import preset_config
    from seqvae.workflows.multirun import run_record
    from study_variants import split_overrides, train_or_resume

    overrides, options = split_overrides({**VARIANTS[variant], "training.threads": 1, "seed": 0})
    if reference:
        overrides["data.reference"] = reference
    config = preset_config("fitness").updated(overrides)
    train_or_resume(
        config, options, run_dir, lambda: read_alignment(alignment, config.data.alignment_options())
    )
    record = run_record(run_dir)
    return {"steps": record["steps"], "train_s": record["train_time_s"]}


def main() -> None:
    from seqvae.executor import LocalExecutor, Task
    from seqvae.workflows.dms_panel import load_panel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("train", "score"))
    parser.add_argument("--out", type=Path, default=Path("runs/study"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--proteins", default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    proteins = load_panel(PANEL)
    if args.proteins:
        proteins = [p for p in proteins if p.name in args.proteins.split(",")]
    variants = args.variants.split(",")
    if args.action == "train":
        tasks = [
            Task(
                f"{variant}/{protein.name}",
                fit_variant,
                {
                    "variant": variant,
                    "alignment": str(protein.alignment),
                    "reference": protein.reference,
                    "run_dir": str(args.out / variant / protein.name),
                },
                folder=str(args.out / "tasks" / variant / protein.name),
            )
            for variant in variants
            for protein in proteins
        ]

        def say(result) -> None:
            done = (
                "done before"
                if result.skipped
                else f"{result.value['steps']} steps in {result.value['train_s']:.0f} s"
            )
            print(f"{result.key}: {done if result.ok else 'failed: ' + str(result.error)}", flush=True)

        with LocalExecutor(args.jobs, 1) as executor:
            executor.run(tasks, on_result=say)
    else:
        sys.path.insert(0, str(ROOT))
        from benchmarks.dms_study_score import score_study

        score_study(args.out, variants, proteins, args.samples)


if __name__ == "__main__":
    main()
