"""Parity and speed of seqvae's SCA and r20 against the reference implementations (issue 17).

Side by side on this machine, one thread each, interleaved (pySCA, seqvae, pySCA, seqvae, ...):

  SCA   pySCA 7 (Ranganathan lab; ``sca-process-msa`` then ``sca-core --do-sector-id``, its
        defaults, an explicit reference ``-i``) against ``seqvae sca`` (its defaults, which are
        pySCA 7's) on the S1A alignment: processed sequences and positions, N_eff, the SCA
        matrix, D_i, the spectrum, the significant modes, the ICs and their positions, and the
        end-to-end wall time of each (the commands as a user runs them, Python start included).
  r20   HOM_r20 (Haldane; ``make_db`` on the target MSA, ``count`` on the model and independent
        MSAs of its ``example/`` folder) against seqvae's ``higher_order_r20`` on the same MSAs:
        r20 per n with z-scores over the position sets, the per-set r on HOM_r20's own position
        sets, and the wall time of each.

The peers are not part of seqvae: fetch them and point this script at them.

  pySCA   a checkout of github.com/ranganathanlab/pySCA (``--pysca`` or ``SEQVAE_PYSCA``);
          v7.0 itself stops on S1A (its uint8 match counts wrap at 256 columns, every weight of
          filterSeq becomes 1/0 = inf, and ``int(inf)`` raises); the two fixes of 14 Jan 2026
          (commit 933e691, "Fix division by zero ...") make it run, so use that or later.
  HOM_r20 a checkout of github.com/ahaldane/HOM_r20 with ``highmarg`` compiled (``--hom`` or
          ``SEQVAE_HOM_R20``). Its ``make_db`` stops when a position set has fewer than 20
          distinct sub-sequences (``np.argpartition`` out of bounds, which the example MSAs
          hit at n = 2); the driver here lets it keep all of them instead (the only change).
  Extra Python packages the peers need and seqvae does not (HOM_r20: more_itertools) can be
  put on ``--peer-path`` / ``SEQVAE_PEER_PYTHONPATH``.

Usage:
  python benchmarks/bench_sca_parity.py --pysca PYSCA_DIR --hom HOM_DIR [--repeats 3]
  python benchmarks/bench_sca_parity.py ... --make-fixtures   # rewrite tests/data/ fixtures

Writes benchmarks/out/sca_parity.json (override with --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.roof import machine_description  # noqa: E402

S1A = ROOT.parent / "shared" / "data" / "s1a" / "halabi_s1a_alignment.fasta"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PYSCA_LETTERS = set("ACDEFGHIKLMNPQRSTVWY-")

# Reads a pySCA database and writes what is compared to an NPZ (runs with pySCA importable,
# as its pickle holds pySCA objects). pySCA writes nothing but a pickle, so it is read with an
# unpickler that builds only numpy/scipy arrays, plain containers and pySCA's own classes and
# refuses any other global (no arbitrary code runs, whatever the file holds).
PYSCA_EXTRACT = r"""
import gzip, pickle, sys, numpy as np

SAFE_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "complex", "slice", "bytearray"}


class PyscaUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        top = module.split(".")[0]
        if top in ("numpy", "pysca") or module.startswith("scipy.sparse") or (
            module == "collections" and name == "OrderedDict"
        ) or (module == "builtins" and name in SAFE_BUILTINS):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a pySCA database")


with gzip.open(sys.argv[1]) as handle:
    db = PyscaUnpickler(handle).load()
q, s, t = db["sequence"], db["sca"], db.get("sector", {})
ics = t.get("ic_list", [])
np.savez_compressed(
    sys.argv[2], ids=np.array([h.split()[0] for h in q["hd"]]), alg=np.array(q["alg"]),
    seqw=np.asarray(q["seqw"], float).ravel(), effseqs=q["effseqs"], Csca=s["Csca"], Di=s["Di"],
    L=s["L"], Lrand=s["Lrand"], kpos=t.get("kpos", -1), Vica=t.get("Vica", np.zeros((0, 0))),
    ic_sizes=np.array(t.get("icsize", []), int),
    ic_members=np.array([",".join(str(int(i)) for i in u.items) for u in ics]),
)
"""

# Runs HOM_r20 on one worker; lets make_db keep every sub-sequence of a position set with fewer
# than 20 (HOM_r20 itself stops there).
HOM_DRIVER = r"""
import os, sys, types, numpy
os.cpu_count = lambda: 1
hom_dir = sys.argv[1]
sys.path.insert(0, hom_dir)
sys.argv = [os.path.join(hom_dir, "HOM_r20.py")] + sys.argv[2:]
import HOM_r20

def argpartition(a, kth, *args, **kwargs):
    if isinstance(kth, int) and kth < -len(a):
        kth = -len(a)
    return numpy.argpartition(a, kth, *args, **kwargs)

proxy = types.ModuleType("numpy_proxy")
proxy.__dict__.update(numpy.__dict__)
proxy.argpartition = argpartition
HOM_r20.np = proxy
HOM_r20.main()
"""


def environment(extra_path: list[str]) -> dict[str, str]:
    env = dict(os.environ, **ONE_THREAD)
    paths = [p for p in extra_path if p] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> np.ndarray:
    """Run a command; ``[wall seconds, CPU seconds (user + system, its processes)]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return np.array([elapsed, cpu])


def pysca_reference_index(alignment: Path, reference: str) -> int:
    """Index of the reference among the sequences pySCA keeps (standard letters only)."""
    records: list[tuple[str, str]] = []
    for line in alignment.read_text().splitlines():
        if line.startswith(">"):
            records.append(((line[1:].split() or [""])[0], ""))
        elif records:
            records[-1] = (records[-1][0], records[-1][1] + line.strip().replace(".", "-").upper())
    index = 0
    for name, sequence in records:
        if set(sequence) <= PYSCA_LETTERS:
            if name == reference:
                return index
            index += 1
    raise SystemExit(f"reference {reference} not found among {alignment}'s standard-letter sequences")


# -- SCA ------------------------------------------------------------------------------------------
def run_pysca(
    pysca: Path, alignment: Path, reference: str, work: Path, env: dict[str, str]
) -> tuple[np.ndarray, Path]:
    work.mkdir(parents=True, exist_ok=True)
    index = pysca_reference_index(alignment, reference)
    python = sys.executable
    t_process = timed(
        [python, str(pysca / "pysca" / "scaProcessMSA_py3_big.py"), str(alignment), "-i", str(index),
         "--output", "msa"], work, env,
    )  # fmt: skip
    t_core = timed(
        [python, str(pysca / "pysca" / "scaCore_py3.py"), "Outputs/msa.db.gz", "--do-sector-id"], work, env
    )
    out = work / "pysca.npz"
    timed([python, "-c", PYSCA_EXTRACT, "Outputs/msa.db.gz", str(out)], work, env)
    return t_process + t_core, out


def run_seqvae_cli(
    alignment: Path, reference: str, work: Path, env: dict[str, str], extra: list[str]
) -> np.ndarray:
    work.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "seqvae.cli.main", "sca", str(alignment), "--reference", reference,
               "--out", str(work / "sca"), "--no-figures", *extra]  # fmt: skip
    return timed(command, work, env)


def compare_sca(reference_npz: Path, result) -> dict:
    ref = dict(np.load(reference_npz, allow_pickle=False))
    processed = result.alignment
    mine_rows = dict(zip(processed.ids, ["".join(r) for r in _letters(processed.codes)]))
    ids = [str(i) for i in ref["ids"]]
    same_ids = sorted(ids) == sorted(mine_rows)
    same_rows = same_ids and all(
        mine_rows[i] == str(a).replace(".", "-").upper() for i, a in zip(ids, ref["alg"])
    )
    c_ref, c = ref["Csca"], result.sca.matrix
    rel = np.abs(c - c_ref) / np.abs(c_ref)
    k = min(10, len(ref["L"]))
    eig_rel = np.abs(result.eigenvalues[:k] / ref["L"][:k] - 1)
    mine_members = [",".join(str(int(i)) for i in g) for g in result.ic_groups.groups]
    ref_members = [str(m) for m in ref["ic_members"]]
    ics = {}
    if ref["Vica"].size and ref["Vica"].shape[1] == result.ics.shape[1]:
        ics = {"ic_max_abs_difference": float(np.abs(result.ics - ref["Vica"]).max())}
    return {
        "pysca": {
            "n_sequences": len(ids),
            "n_positions": int(c_ref.shape[0]),
            "n_eff": float(ref["effseqs"]),
            "top_eigenvalues": [round(float(v), 6) for v in ref["L"][:k]],
            "random_second_eigenvalue_mean": float(ref["Lrand"][:, 1].mean()),
            "kpos": int(ref["kpos"]),
            "ic_sizes": [int(v) for v in ref["ic_sizes"]],
        },
        "seqvae": {
            "n_sequences": int(processed.codes.shape[0]),
            "n_positions": int(processed.codes.shape[1]),
            "n_eff": processed.n_eff,
            "top_eigenvalues": [round(float(v), 6) for v in result.eigenvalues[:k]],
            "n_significant": result.n_significant,
            "n_significant_by_seed": result.n_significant_by_seed,
            "cutoff_by_seed": [round(v, 4) for v in result.cutoff_by_seed],
            "ic_sizes": [int(g.size) for g in result.ic_groups.groups],
            "ica_iterations": result.ica_iterations,
        },
        "same_sequences": bool(same_ids),
        "same_processed_rows": bool(same_rows),
        "matrix_pearson": float(np.corrcoef(c.ravel(), c_ref.ravel())[0, 1]),
        "matrix_max_relative_difference": float(rel.max()),
        "conservation_max_relative_difference": float(
            np.max(np.abs(result.sca.conservation - ref["Di"]) / np.abs(ref["Di"]))
        ),
        "top10_eigenvalue_max_relative_difference": float(eig_rel.max()),
        "same_number_of_significant_modes": int(ref["kpos"]) == result.n_significant,
        "same_ic_positions": mine_members == ref_members,
        **ics,
    }


def _letters(codes: np.ndarray) -> np.ndarray:
    alphabet = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
    return alphabet[np.minimum(codes, 20)]


def sca_section(args, env_pysca, env_seqvae, work: Path) -> dict:
    from seqvae.analysis.sca import SCAOptions, run_sca
    from seqvae.data.alignment import read_alignment

    pysca_times, seqvae_times = [], []
    reference_npz = None
    for r in range(args.repeats):
        t, reference_npz = run_pysca(
            args.pysca, args.alignment, args.reference, work / f"pysca{r}", env_pysca
        )
        pysca_times.append(t)
        seqvae_times.append(
            run_seqvae_cli(args.alignment, args.reference, work / f"seqvae{r}", env_seqvae, [])
        )
        print(
            f"  SCA round {r + 1}: pySCA {pysca_times[-1][0]:.1f} s wall / {pysca_times[-1][1]:.1f} s CPU, "
            f"seqvae {seqvae_times[-1][0]:.1f} / {seqvae_times[-1][1]:.1f} s",
            flush=True,
        )
    aln = read_alignment(args.alignment, reference=args.reference, nonstandard="drop")
    result = run_sca(aln, SCAOptions())
    out = compare_sca(reference_npz, result)
    out.update(_speed(pysca_times, seqvae_times, "pysca"))
    out["seqvae_stage_timings_s"] = {k: round(v, 3) for k, v in result.timings.items()}
    return out


def _speed(peer: list[np.ndarray], mine: list[np.ndarray], name: str) -> dict:
    peer_a, mine_a = np.array(peer), np.array(mine)
    return {
        "wall_s": {name: peer_a[:, 0].round(2).tolist(), "seqvae": mine_a[:, 0].round(2).tolist()},
        "cpu_s": {name: peer_a[:, 1].round(2).tolist(), "seqvae": mine_a[:, 1].round(2).tolist()},
        "speed_ratio_wall_median": float(np.median(peer_a[:, 0]) / np.median(mine_a[:, 0])),
        "speed_ratio_cpu_median": float(np.median(peer_a[:, 1]) / np.median(mine_a[:, 1])),
        "speed_ratio_wall_pairs": (peer_a[:, 0] / mine_a[:, 0]).round(2).tolist(),
    }


# -- r20 ------------------------------------------------------------------------------------------
def read_plain_msa(path: Path) -> np.ndarray:
    """HOM_r20's MSA format: one aligned sequence per line."""
    letters = "ACDEFGHIKLMNPQRSTVWY-"
    lut = np.full(256, 255, np.uint8)
    for i, c in enumerate(letters):
        lut[ord(c)] = i
    rows = [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    codes = lut[np.frombuffer("".join(rows).encode(), np.uint8).reshape(len(rows), -1)]
    if (codes == 255).any():
        raise SystemExit(f"{path}: letters outside {letters}")
    return codes


def read_hom_db(path: Path) -> list[tuple[np.ndarray, list[str], np.ndarray]]:
    sets = []
    for block in path.read_text().split("\n\n"):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        positions = np.array([int(p) for p in lines[0].split()])
        seqs, freqs = zip(*(line.split() for line in lines[1:]))
        sets.append((positions, list(seqs), np.array(freqs, float)))
    return sets


def r20_section(args, env_hom, env_seqvae, work: Path) -> dict:
    from seqvae.analysis.capacity import higher_order_r20

    example = args.hom / "example"
    target, model, indep = (example / name for name in ("targetMSA", "modelMSA", "indepMSA"))
    work.mkdir(parents=True, exist_ok=True)
    hom_times, seqvae_times = [], []
    seqvae_script = (
        "import sys, numpy as np\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from benchmarks.bench_sca_parity import read_plain_msa\n"
        "from seqvae.analysis.capacity import higher_order_r20\n"
        "from pathlib import Path\n"
        "t = read_plain_msa(Path(sys.argv[2]))\n"
        "for k, m in enumerate(sys.argv[3:5]):\n"
        "    r = higher_order_r20(t, read_plain_msa(Path(m)), 21, n_sets=int(sys.argv[5]), seed=k)\n"
        "    np.save(f'seqvae_r20_{k}.npy', r.per_set)\n"
    )
    for r in range(args.repeats):
        driver = [sys.executable, "-c", HOM_DRIVER, str(args.hom)]
        hom_times.append(
            timed([*driver, "make_db", f"db{r}", str(args.r20_sets), str(target)], work, env_hom)
            + timed([*driver, "count", f"db{r}", f"hom_model{r}", str(model)], work, env_hom)
            + timed([*driver, "count", f"db{r}", f"hom_indep{r}", str(indep)], work, env_hom)
        )
        command = [sys.executable, "-c", seqvae_script, str(ROOT), str(target), str(model), str(indep)]
        seqvae_times.append(timed([*command, str(args.r20_sets)], work, env_seqvae))
        print(
            f"  r20 round {r + 1}: HOM_r20 {hom_times[-1][0]:.1f} s wall / {hom_times[-1][1]:.1f} s CPU, "
            f"seqvae {seqvae_times[-1][0]:.1f} / {seqvae_times[-1][1]:.1f} s",
            flush=True,
        )
    n_values = list(range(2, 11))
    codes = {"target": read_plain_msa(target), "model": read_plain_msa(model), "indep": read_plain_msa(indep)}
    out: dict = {"n": n_values, "sets_per_n": args.r20_sets}
    for k, name in enumerate(("model", "indep")):
        hom = np.load(work / f"hom_{name}0.npy")  # [n, sets], NaN where undefined
        mine = np.load(work / f"seqvae_r20_{k}.npy")
        rows = []
        for i, n in enumerate(n_values):
            h, s = hom[i][~np.isnan(hom[i])], mine[i][~np.isnan(mine[i])]
            se = np.sqrt(h.var(ddof=1) / h.size + s.var(ddof=1) / s.size)
            rows.append({"n": n, "hom_r20": float(h.mean()), "seqvae_r20": float(s.mean()),
                         "hom_defined": int(h.size), "seqvae_defined": int(s.size),
                         "z": float((s.mean() - h.mean()) / se)})  # fmt: skip
        out[name] = rows
        out[f"{name}_max_abs_z"] = max(abs(row["z"]) for row in rows)
        # per set, on HOM_r20's own position sets
        db = read_hom_db(work / "db0.db")
        given = higher_order_r20(codes["target"], codes[name], 21, position_sets=[p for p, _, _ in db])
        differences, nan_mismatch, seen = [], 0, {n: 0 for n in n_values}
        for positions, _, _ in db:
            n = positions.size
            j = seen[n]
            seen[n] += 1
            h, s = hom[n_values.index(n), j], given.per_set[given.n_values.index(n), j]
            if np.isnan(h) != np.isnan(s):
                nan_mismatch += 1
            elif not np.isnan(h):
                differences.append(abs(h - s))
        out[f"{name}_same_sets"] = {
            "sets": len(db), "both_defined": len(differences), "undefined_in_one_only": nan_mismatch,
            "max_abs_r_difference": float(max(differences)),
        }  # fmt: skip
    # the noise floor: HOM_r20 against itself over independent databases
    calibration = []
    for r in range(1, args.repeats):
        for name in ("model", "indep"):
            a, b = np.load(work / f"hom_{name}0.npy"), np.load(work / f"hom_{name}{r}.npy")
            for i in range(len(n_values)):
                x, y = a[i][~np.isnan(a[i])], b[i][~np.isnan(b[i])]
                calibration.append(
                    float((y.mean() - x.mean()) / np.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size))
                )
    if calibration:
        out["hom_vs_hom_z"] = {"values": len(calibration), "max_abs": max(map(abs, calibration)),
                               "beyond_2": sum(abs(z) > 2 for z in calibration)}  # fmt: skip
    out.update(_speed(hom_times, seqvae_times, "hom_r20"))
    return out


def _unambiguous_top(target: np.ndarray, positions: np.ndarray, hom_freqs: np.ndarray, top: int = 20) -> bool:
    """True when the target's top-``top`` set is unique (no tie across its boundary)."""
    keys = np.zeros(target.shape[0], np.int64)
    for p in positions:
        keys = keys * 21 + target[:, p]
    counts = np.sort(np.unique(keys, return_counts=True)[1])[::-1]
    return counts.size <= top or counts[top - 1] > counts[top]


# -- fixtures for the tests -----------------------------------------------------------------------
def synthetic_sca_alignment(path: Path, seed: int = 7) -> str:
    """A small seeded family with two co-varying groups, gaps, and sequences exactly at pySCA's
    bounds (20 % gaps, 85 % identity to the reference); returns the reference's name."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    n, length = 240, 80
    ancestor = rng.integers(0, 20, length)
    codes = np.where(rng.random((n, length)) < 0.45, rng.integers(0, 20, (n, length)), ancestor)
    group_a, group_b = rng.choice(length, 8, replace=False), rng.choice(length, 6, replace=False)
    state_a, state_b = rng.random(n) < 0.4, rng.random(n) < 0.3
    codes[np.ix_(state_a, group_a)] = (ancestor[group_a] + 7) % 20
    codes[np.ix_(state_b, group_b)] = (ancestor[group_b] + 3) % 20
    seqs = ["".join(letters[row]) for row in codes]
    seqs = [_gapped(s, rng, rng.uniform(0, 0.3)) for s in seqs]
    reference = seqs[0].replace("-", "A") if "-" in seqs[0] else seqs[0]
    seqs[0] = reference
    # exactly at the bounds: 16 of 80 gaps (20 %), 68 of 80 identical to the reference (85 %)
    at_gaps = list(reference)
    for p in rng.choice(length, 16, replace=False):
        at_gaps[p] = "-"
    at_identity = list(reference)
    for p in rng.choice(length, 12, replace=False):
        at_identity[p] = letters[(np.flatnonzero(letters == at_identity[p])[0] + 1) % 20]
    seqs[1], seqs[2] = "".join(at_gaps), "".join(at_identity)
    # two columns that are mostly gaps (dropped by the first filter)
    rows = [
        s[:10] + ("-" if k % 10 else "K") + s[10:40] + ("-" if k % 7 else "W") + s[40:]
        for k, s in enumerate(seqs)
    ]
    with path.open("w") as handle:
        for k, s in enumerate(rows):
            handle.write(f">syn{k}\n{s}\n")
    return "syn0"


def _gapped(sequence: str, rng: np.random.Generator, fraction: float) -> str:
    chars = list(sequence)
    for p in np.flatnonzero(rng.random(len(chars)) < fraction):
        chars[p] = "-"
    return "".join(chars)


def synthetic_r20_msas(seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Target and model MSAs (1000 x 30, 21 codes). The target: three clades around their own
    ancestors; the model: 6 % from the same clades with more mutations, 94 % uniform noise,
    so that large position sets are often flat (none of the target's top sub-sequences)."""
    rng = np.random.default_rng(seed)
    n, length = 1000, 30
    ancestors = rng.integers(0, 21, (3, length))

    def clades(count: int, rate: float) -> np.ndarray:
        codes = ancestors[rng.choice(3, size=count, p=[0.5, 0.3, 0.2])]
        return np.where(rng.random((count, length)) < rate, rng.integers(0, 21, (count, length)), codes)

    target = clades(n, 0.15)
    model = np.concatenate([clades(60, 0.5), rng.integers(0, 21, (940, length))])
    return target.astype(np.uint8), model.astype(np.uint8)


def make_fixtures(args, env_pysca, env_hom, work: Path, s1a_npz: Path | None) -> None:
    data = ROOT / "tests" / "data"
    data.mkdir(parents=True, exist_ok=True)
    pysca_commit = args.pysca_label or _git_commit(args.pysca)
    hom_commit = args.hom_label or _git_commit(args.hom)
    # 1. SCA on a small synthetic alignment, through pySCA
    fasta = data / "sca_parity_alignment.fasta"
    reference = synthetic_sca_alignment(fasta)
    _, npz = run_pysca(args.pysca, fasta, reference, work / "fixture_pysca", env_pysca)
    ref = dict(np.load(npz, allow_pickle=False))
    np.savez_compressed(
        data / "sca_parity_pysca7.npz",
        ids=ref["ids"], alg=ref["alg"], seqw=ref["seqw"], effseqs=ref["effseqs"], Csca=ref["Csca"], Di=ref["Di"],
        L=ref["L"], Lrand_second=ref["Lrand"][:, 1], kpos=ref["kpos"], Vica=ref["Vica"], ic_members=ref["ic_members"],
    )  # fmt: skip
    # 2. the S1A numbers (and matrix, float32) from the side-by-side run
    if s1a_npz is not None:
        s1a = dict(np.load(s1a_npz, allow_pickle=False))
        np.savez_compressed(
            data / "sca_parity_s1a_pysca7.npz",
            n_sequences=len(s1a["ids"]), ids=s1a["ids"], effseqs=s1a["effseqs"], Csca=s1a["Csca"].astype(np.float32),
            Di=s1a["Di"], L=s1a["L"][:10], kpos=s1a["kpos"], ic_members=s1a["ic_members"],
        )  # fmt: skip
    # 3. r20 through HOM_r20 on small synthetic MSAs
    target, model = synthetic_r20_msas()
    letters = "ACDEFGHIKLMNPQRSTVWY-"
    rwork = work / "fixture_hom"
    rwork.mkdir(parents=True, exist_ok=True)
    for name, codes in (("target", target), ("model", model)):
        (rwork / name).write_text("\n".join("".join(letters[c] for c in row) for row in codes) + "\n")
    driver = [sys.executable, "-c", HOM_DRIVER, str(args.hom)]
    timed([*driver, "make_db", "fx", "25", "target", "--npos", "2-8"], rwork, env_hom)
    timed([*driver, "count", "fx", "fx_model", "model"], rwork, env_hom)
    db = read_hom_db(rwork / "fx.db")
    hom = np.load(rwork / "fx_model.npy")
    order = {n: 0 for n in range(2, 9)}
    positions, r_hom, unambiguous = [], [], []
    for pos, _, freqs in db:
        n = pos.size
        positions.append(np.r_[pos, np.full(8 - n, -1)])
        r_hom.append(hom[n - 2, order[n]])
        order[n] += 1
        unambiguous.append(_unambiguous_top(target, pos, freqs))
    np.savez_compressed(
        data / "r20_hom.npz", target=target, model=model, positions=np.array(positions), r_hom=np.array(r_hom),
        unambiguous=np.array(unambiguous),
    )  # fmt: skip
    provenance = {
        "sca_parity_alignment.fasta": "synthetic, benchmarks/bench_sca_parity.py synthetic_sca_alignment(seed=7)",
        "sca_parity_pysca7.npz": f"pySCA {pysca_commit}: sca-process-msa ALN -i 0 --output msa; "
        "sca-core Outputs/msa.db.gz --do-sector-id (defaults, one thread)",
        "sca_parity_s1a_pysca7.npz": f"pySCA {pysca_commit} on ../shared/data/s1a/halabi_s1a_alignment.fasta, "
        "-i <index of 4139558>, same commands; Csca stored as float32",
        "r20_hom.npz": f"HOM_r20 {hom_commit}: make_db fx 25 target --npos 2-8; count fx fx_model model "
        "(one worker; make_db keeps all sub-sequences of a set with fewer than 20); MSAs from "
        "benchmarks/bench_sca_parity.py synthetic_r20_msas(seed=11)",
        "made_with": "python benchmarks/bench_sca_parity.py --pysca PYSCA --hom HOM --make-fixtures",
        "date": time.strftime("%Y-%m-%d"),
    }
    (data / "PROVENANCE_sca_r20.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"fixtures written to {data}")


def _git_commit(path: Path) -> str:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "(not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pysca", type=Path, default=os.environ.get("SEQVAE_PYSCA"))
    parser.add_argument("--hom", type=Path, default=os.environ.get("SEQVAE_HOM_R20"))
    parser.add_argument("--pysca-label", help="version/commit to record (default: git rev-parse of --pysca)")
    parser.add_argument("--hom-label", help="version/commit to record (default: git rev-parse of --hom)")
    parser.add_argument("--peer-path", default=os.environ.get("SEQVAE_PEER_PYTHONPATH", ""))
    parser.add_argument("--alignment", type=Path, default=S1A)
    parser.add_argument("--reference", default="4139558")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--r20-sets", type=int, default=1000)
    parser.add_argument("--skip-sca", action="store_true")
    parser.add_argument("--skip-r20", action="store_true")
    parser.add_argument("--make-fixtures", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "sca_parity.json")
    args = parser.parse_args()
    if args.pysca is None and not args.skip_sca:
        raise SystemExit("pySCA not given: --pysca DIR or SEQVAE_PYSCA (or --skip-sca)")
    if args.hom is None and not args.skip_r20:
        raise SystemExit("HOM_r20 not given: --hom DIR or SEQVAE_HOM_R20 (or --skip-r20)")
    peer = [p for p in args.peer_path.split(os.pathsep) if p]
    env_pysca = environment([str(args.pysca), *peer]) if args.pysca else {}
    env_hom = environment(peer)
    env_seqvae = environment([str(ROOT / "src")])
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine_description(), "threads": 1}
    with tempfile.TemporaryDirectory(prefix="seqvae_parity_") as tmp:
        work = Path(tmp)
        if not args.skip_sca:
            report["pysca_commit"] = args.pysca_label or _git_commit(args.pysca)
            report["sca"] = sca_section(args, env_pysca, env_seqvae, work / "sca")
        if not args.skip_r20:
            report["hom_r20_commit"] = args.hom_label or _git_commit(args.hom)
            report["r20"] = r20_section(args, env_hom, env_seqvae, work / "r20")
        if args.make_fixtures:
            s1a = None if args.skip_sca else work / "sca" / "pysca0" / "pysca.npz"
            make_fixtures(args, env_pysca, env_hom, work / "fixtures", s1a)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
