"""The `fitness` preset on shallower copies of the panel's families (issue 12: "shallow, deep,
short and long families alike, with one preset").

Each protein of the panel is subsampled to a few depths (its wild-type row plus ``n`` other rows
drawn at random with the seed), and the subsampled families go through the panel command as
proteins of their own: the site-independent model and the VAE of the shipped preset, trained,
scored on the same scan and evaluated. The alignment is the only thing that changes, so a
column of the table is the preset's ρ as a function of the family's depth (N_eff is recomputed
on every subsample). Nothing is tuned here: this is a check of how the decoder's prior follows
the family (c = 0.08·L·√N_eff since session 6; the former c = 20·√N_eff collapsed PDZ3's copies),
on the same protein and assay.

    python benchmarks/dms_depth.py --proteins BLAT,PDZ3 --sizes 250,1000,3000 --out runs/depth --jobs 2

The subsampled alignments are written under ``OUT/alignments/`` (the shared data are read where
they are); the table and figure are the panel command's, ``OUT/panel.md`` / ``panel.csv`` /
``panel.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from seqvae.cli.common import parse_set_options  # noqa: E402
from seqvae.io.alignment_formats import read_records  # noqa: E402
from seqvae.io.atomic import atomic_open, ensure_directory  # noqa: E402
from seqvae.workflows.dms_panel import load_panel, run_panel  # noqa: E402
from seqvae.workflows.manifest import Family  # noqa: E402


def subsample_alignment(protein: Family, size: int, seed: int, folder: Path) -> Path | None:
    """Write ``protein``'s alignment with its reference row and ``size`` other rows (drawn
    without replacement; the file's order is kept) and return the file's path (``None``: the
    alignment has no more than ``size`` other rows)."""
    records = read_records(protein.alignment).records
    reference = [r.id for r in records].index(protein.reference) if protein.reference else 0
    others = np.delete(np.arange(len(records)), reference)
    if size >= others.size:
        return None
    chosen = np.random.default_rng(seed).choice(others, size=size, replace=False)
    rows = [reference, *sorted(int(i) for i in chosen)]
    # the original's format, written uncompressed (PF00595_mgap6.fasta.gz: .fasta)
    source = protein.alignment
    suffix = (source.with_suffix("") if source.suffix == ".gz" else source).suffix
    path = folder / f"{protein.name}_n{size}{suffix}"
    with atomic_open(path) as handle:
        for i in rows:
            handle.write(f">{records[i].header}\n{records[i].text}\n")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--panel", type=Path, default=ROOT / "benchmarks" / "panel.yaml")
    parser.add_argument("--proteins", default="BLAT,PDZ3", help="comma-separated panel names")
    parser.add_argument("--sizes", default="250,1000,3000", help="rows besides the reference")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "depth")
    parser.add_argument("--seed", type=int, default=0, help="the subsampling seed (the VAEs use seed 0)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a VAE config override (repeatable)"
    )
    args = parser.parse_args(argv)

    panel = {protein.name: protein for protein in load_panel(args.panel)}
    names = args.proteins.split(",")
    unknown = [name for name in names if name not in panel]
    if unknown:
        raise SystemExit(f"--proteins: {', '.join(unknown)} not in {args.panel} ({', '.join(panel)})")
    folder = ensure_directory(args.out / "alignments")
    proteins = []
    for name in names:
        for size in (int(s) for s in args.sizes.split(",")):
            path = subsample_alignment(panel[name], size, args.seed, folder)
            if path is None:
                print(f"{name}: not subsampled to {size} rows (it has no more)")
                continue
            proteins.append(dataclasses.replace(panel[name], name=f"{name}_n{size}", alignment=path))
    run_panel(
        proteins,
        args.out,
        models=("site-independent", "vae"),
        overrides=parse_set_options(args.set),
        samples=args.samples,
        threads=1,
        jobs=args.jobs,
        fast=True,
    )


if __name__ == "__main__":
    main()
