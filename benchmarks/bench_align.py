"""From the BLAT wild type alone to a scored scan: ``seqvae align`` -> ``train`` -> ``score``.

    OMP_NUM_THREADS=1 python benchmarks/bench_align.py [--workdir DIR] [--members N] [--skip-train]

Builds a search database from ``../shared/data``: every sequence of the BLAT alignment without
its gaps (the family members, the wild type excepted), the SH3 and S1A sequences and shuffled
member sequences (decoys). Then, timing each step:

1. ``seqvae align`` from the wild type (``BLAT_ECOLX/24-286``) with ``--bitscore 0.4``: the
   threshold the original alignment was built with (its file name's ``b105`` = 0.4 x 263 bits);
   reports members found, decoys found and whether the focus columns cover the original 253;
2. ``seqvae train --preset fitness`` on the new alignment (the preset as it is on this branch);
3. ``seqvae score`` on the Stiffler et al. 2015 scan (column ``2500``): Spearman rho, to compare
   with the original alignment's rho for the same preset and seed (``--original`` trains and scores
   that one too; otherwise the value recorded in ``benchmarks/RESULTS.md`` is quoted).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATA = ROOT.parent / "shared" / "data"
BLAT = DATA / "blat" / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
SH3 = DATA / "sh3" / "sh3_59.fasta"
S1A = DATA / "s1a" / "halabi_s1a_alignment.fasta"
DMS = DATA / "blat" / "BLAT_ECOLX_Ranganathan2015.csv"
ORIGINAL_RHO_SEED0 = 0.7131  # benchmarks/RESULTS.md, "The BLAT table": fitness preset, seed 0


def ungapped(path: Path) -> list[tuple[str, str]]:
    """(id, residues) of every sequence of an alignment, gaps removed, upper case."""
    from seqvae.io.alignment_formats import read_records

    return [(r.id, re.sub(r"[-.]", "", r.text).upper()) for r in read_records(path).records]


def build_database(
    out: Path,
    members: int | None = None,
    sh3: int | None = None,
    s1a: int | None = None,
    shuffled: int = 1000,
    seed: int = 0,
) -> dict:
    """Write the query (BLAT wild type) and a member + decoy FASTA database.

    ``members``/``sh3``/``s1a``: how many of each to draw (seeded; ``None``: all). Returns the
    paths and the names of members and decoys (``member_*`` and ``decoy_*``).
    """
    rng = random.Random(seed)
    blat = ungapped(BLAT)
    wild_type, family = blat[0], blat[1:]
    if members is not None:
        family = rng.sample(family, members)
    decoys = []
    for tag, path, count in (("sh3", SH3, sh3), ("s1a", S1A, s1a)):
        sequences = ungapped(path)
        if count is not None:
            sequences = rng.sample(sequences, count)
        decoys += [(f"decoy_{tag}_{i}", s) for i, (_, s) in enumerate(sequences) if s]
    for i, (_, sequence) in enumerate(rng.sample(family, min(shuffled, len(family)))):
        letters = list(sequence)
        rng.shuffle(letters)
        decoys.append((f"decoy_shuffled_{i}", "".join(letters)))
    entries = [(f"member_{i}_{name.replace('/', '_')}", s) for i, (name, s) in enumerate(family)] + decoys
    rng.shuffle(entries)
    out.mkdir(parents=True, exist_ok=True)
    query = out / "blat_wt.fasta"
    query.write_text(f">{wild_type[0]}\n{wild_type[1]}\n")
    database = out / "database.fasta"
    with open(database, "w") as handle:
        for name, sequence in entries:
            handle.write(f">{name}\n{sequence}\n")
    return {
        "query": query,
        "database": database,
        "members": {n for n, _ in entries if n.startswith("member_")},
        "decoys": {n for n, _ in entries if n.startswith("decoy_")},
    }


def original_focus_positions() -> set[int]:
    """Residue numbers of the original alignment's 253 focus columns."""
    import seqvae

    registry = seqvae.read_alignment(BLAT).registry
    return {int(n) for n in registry.numbering if n >= 0}


def recovery(family_a2m: Path, members: set[str], decoys: set[str]) -> dict:
    """Members and decoys among the rows of an A2M written by ``seqvae align``."""
    from seqvae.io.alignment_formats import read_records

    found = {r.id.rsplit("/", 1)[0] for r in read_records(family_a2m).records[1:]}
    return {
        "members_found": len(found & members),
        "members": len(members),
        "member_recall": round(len(found & members) / len(members), 4),
        "decoys_found": len(found & decoys),
    }


def cli(args: list[str]) -> float:
    from seqvae.cli.main import main

    print("$ seqvae " + " ".join(str(a) for a in args), flush=True)
    started = time.perf_counter()
    code = main([str(a) for a in args])
    if code != 0:
        raise SystemExit(f"seqvae exited {code}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench_align_work"))
    parser.add_argument("--members", type=int, default=None, help="subsample the members (default: all)")
    parser.add_argument("--bitscore", type=float, default=0.4)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--original", action="store_true", help="also train and score the original alignment")
    args = parser.parse_args()
    work = args.workdir
    started = time.perf_counter()
    db = build_database(work / "db", members=args.members, seed=args.seed)
    print(
        f"database: {len(db['members'])} members, {len(db['decoys'])} decoys, {time.perf_counter() - started:.1f} s"
    )
    family = work / "blat_family.a2m"
    times = {}
    times["align"] = cli(
        ["align", db["query"], "--database", db["database"], "--out", family, "--bitscore", args.bitscore,
         "--cpus", args.cpus]
    )  # fmt: skip
    found = recovery(family, db["members"], db["decoys"])
    import seqvae

    registry = seqvae.read_alignment(family).registry
    covered = {int(n) for n in registry.numbering if n >= 0}
    original = original_focus_positions()
    found["focus_columns"] = len(covered)
    found["original_focus_missing"] = sorted(original - covered)
    print(json.dumps(found), flush=True)
    results = {"recovery": found, "seconds": times}
    if not args.skip_train:
        run = work / "run_family"
        times["train"] = cli(["train", family, "--preset", "fitness", "--seed", args.seed, "--out", run,
                              "--overwrite", "--no-progress"])  # fmt: skip
        scores = work / "scores_family.csv"
        times["score"] = cli(["score", run, DMS, "--score-col", "2500", "--out", scores])
        rho = json.loads(scores.with_name(scores.stem + "_summary.json").read_text())["spearman"]
        results["rho_family"] = rho
        reference = ORIGINAL_RHO_SEED0
        if args.original:
            run0 = work / "run_original"
            times["train_original"] = cli(["train", BLAT, "--preset", "fitness", "--seed", args.seed,
                                           "--out", run0, "--overwrite", "--no-progress"])  # fmt: skip
            scores0 = work / "scores_original.csv"
            times["score_original"] = cli(["score", run0, DMS, "--score-col", "2500", "--out", scores0])
            reference = json.loads(scores0.with_name(scores0.stem + "_summary.json").read_text())["spearman"]
        results["rho_original"] = reference
        results["rho_difference"] = round(rho - reference, 4)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
