"""The structure-aware rule's study: every form tried, on every panel protein and model.

Reads the scores a panel run left (``seqvae benchmark-dms --panel benchmarks/panel.yaml --out
runs/panel``: ``OUT/<protein>/scores_<model>.csv``) and, without scoring again, makes each
model's scores structure-aware under every rule of a grid (burial measure × power × floor),
then writes one row per (rule, protein, model) with the plain and structure-aware Spearman ρ,
and a ranking of the rules by their mean gain over every (protein, model) cell.

    python benchmarks/structure_study.py --runs runs/panel --out runs/structure_study

The shipped rule (:data:`seqvae.analysis.structure_scores.DEFAULT_STRUCTURE_RULE`) was chosen
from this table: the largest mean gain among the rules that gain on every cell; rules within
0.002 of it count as ties, and a tie goes to the larger floor (a rule that moves scores less
costs less on an assay where function, not fold, decides).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from seqvae.analysis.burial import position_burial
from seqvae.analysis.mutations import MutationMapper, read_wild_type
from seqvae.analysis.scoring import read_scored_variants
from seqvae.analysis.structure_scores import StructureRule, structure_aware, structure_factors
from seqvae.run import load
from seqvae.workflows.dms_panel import load_panel

ROOT = Path(__file__).resolve().parent.parent
MODELS = (
    "site-independent",
    "potts",
    "vae_seed0",
    "vae_seed1",
    "vae_seed2",
    "vae_ensemble3",
    "vae_seed0_potts",
)
POWERS = (1.0, 2.0, 3.0, 4.0)
FLOORS = (0.0, 0.1, 0.25, 0.5)
COORDINATE_MEASURES = ("rsa", "neighbours", "hse")
TIE = 0.002


def study(panel: Path, runs: Path) -> pd.DataFrame:
    rows = []
    for protein in load_panel(panel):
        if protein.structure is None and protein.contact_map is None:
            continue
        folder = runs / protein.name
        registry = load(folder / "vae_seed0").registry
        reading = protein.scans[0].reading
        wild_type = read_wild_type(reading["reference_sequence"]) if "reference_sequence" in reading else None
        mapper = MutationMapper(registry, wild_type)
        burial = position_burial(registry, protein.structure, protein.chain, protein.contact_map)
        print(f"{protein.name}: {burial.describe()}", flush=True)
        for model in MODELS:
            path = folder / f"scores_{model}.csv"
            if not path.exists():
                continue
            scored = read_scored_variants(path, mapper)
            measured = pd.to_numeric(scored.table[reading["score_column"]], errors="coerce").to_numpy(float)
            keep = np.isfinite(measured) & np.isfinite(scored.scores)
            plain = spearmanr(scored.scores[keep], measured[keep])[0]
            for measure, power, floor in itertools.product(COORDINATE_MEASURES, POWERS, FLOORS):
                rule = StructureRule(measure=measure, power=power, floor=floor)
                # a contact map gives only contact numbers: the rule's power and floor apply to them
                used = rule.measure_for(burial)
                aware = structure_aware(scored.scores, scored.columns, structure_factors(burial, rule))
                rho = spearmanr(aware[keep], measured[keep])[0]
                rows.append(
                    {
                        "protein": protein.name,
                        "model": model,
                        "measure": measure,
                        "measure_used": used,
                        "power": power,
                        "floor": floor,
                        "plain": plain,
                        "structure": rho,
                        "gain": rho - plain,
                    }
                )
    return pd.DataFrame(rows)


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """One cell per (rule, protein, model kind): the VAE's seeds are averaged into one cell (a
    seed mean, never a single seed), and the ensemble, made of the same seeds, is left out."""
    kinds = table[table.model != "vae_ensemble3"].assign(
        model=lambda t: t.model.where(~t.model.str.fullmatch(r"vae_seed\d+"), "vae seed mean")
    )
    return kinds.groupby(["measure", "power", "floor", "protein", "model"], as_index=False)[
        ["plain", "structure", "gain"]
    ].mean()


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    ranked = (
        cells(table)
        .groupby(["measure", "power", "floor"])
        .agg(mean_gain=("gain", "mean"), min_gain=("gain", "min"))
        .reset_index()
        .sort_values("mean_gain", ascending=False)
    )
    return ranked


def choose(ranked: pd.DataFrame) -> pd.Series:
    gaining = ranked[ranked.min_gain > 0]
    best = gaining.mean_gain.max()
    ties = gaining[gaining.mean_gain >= best - TIE]
    return ties.sort_values(["floor", "mean_gain"], ascending=False).iloc[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panel", type=Path, default=ROOT / "benchmarks" / "panel.yaml")
    parser.add_argument("--runs", type=Path, required=True, help="a panel run's --out folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = study(args.panel, args.runs)
    table.to_csv(args.out / "structure_study.csv", index=False)
    ranked = ranking(table)
    ranked.to_csv(args.out / "structure_ranking.csv", index=False)
    chosen = choose(ranked)
    pd.set_option("display.width", 200)
    print(ranked.head(12).round(4).to_string(index=False))
    print(f"chosen: measure {chosen.measure}, power {chosen.power:g}, floor {chosen.floor:g}")
    picked = table[
        (table.measure == chosen.measure) & (table.power == chosen.power) & (table.floor == chosen.floor)
    ]
    print(picked.pivot_table(index="model", columns="protein", values=["plain", "structure"]).round(3))
    print(cells(picked).pivot_table(index="model", columns="protein", values="gain").round(3))


if __name__ == "__main__":
    main()
