"""Builders shared by the tests: tiny families, a tiny trained run, and damaged copies of it.

``tiny_run`` (a session fixture in ``conftest.py``) trains one small run directory once;
:data:`DAMAGES` turns a copy of it into each kind of damaged run directory, and
:data:`RUN_COMMANDS` lists every CLI command that reads a run directory, so that
``tests/test_bad_input.py`` runs each command against each damage. A new command that reads
run directories is added to :data:`RUN_COMMANDS` and gets every check.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from seqvae.cli.main import main

LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
TINY = [
    "--set",
    "model.encoder_hidden=[16]",
    "--set",
    "model.decoder_hidden=[16]",
    "--max-steps",
    "12",
    "--batch-size",
    "16",
    "--set",
    "training.eval_every=6",
    "--set",
    "training.log_every=3",
    "--no-progress",
]
# files that may appear while a command fails without writing anything: the write lock of a
# run directory (an empty file that only serves flock)
IGNORED = {".seqvae.lock"}


def write_family(path: Path, n: int = 60, length: int = 12, seed: int = 0) -> Path:
    """A small aligned family: three ancestors, 20 % random substitutions."""
    rng = np.random.default_rng(seed)
    ancestors = rng.integers(0, 20, (3, length))
    rows = ancestors[rng.integers(0, 3, n)]
    rows = np.where(rng.random((n, length)) < 0.2, rng.integers(0, 20, (n, length)), rows)
    path.write_text("".join(f">s{i}\n{''.join(LETTERS[r])}\n" for i, r in enumerate(rows)))
    return path


# a family whose reference has focus (upper case) and insert (lower case) residues, for structures
STRUCTURE_FOCUS = "MKTAYIAKQRQISFVKSHFSRQLEERLGLI"
STRUCTURE_INSERT = "evqapilsrv"


def write_a2m_family(path: Path, n: int = 30, seed: int = 0) -> Path:
    """An A2M family: the reference ``REF/1-40`` is STRUCTURE_FOCUS + STRUCTURE_INSERT (its last ten
    residues are an insert: no focus column), the other rows carry 15 % substitutions."""
    rng = np.random.default_rng(seed)
    rows = [STRUCTURE_FOCUS + STRUCTURE_INSERT]
    for _ in range(n - 1):
        focus = [c if rng.random() > 0.15 else LETTERS[rng.integers(20)] for c in STRUCTURE_FOCUS]
        rows.append("".join(focus) + STRUCTURE_INSERT)
    names = ["REF/1-40", *(f"s{k}" for k in range(1, n))]
    path.write_text("".join(f">{name}\n{row}\n" for name, row in zip(names, rows)))
    return path


def write_structure(structure, path: Path) -> Path:
    """Write a Biopython structure as PDB, or mmCIF for ``.cif``; ``.gz``: gzip."""
    import gzip
    import io

    from Bio.PDB import MMCIFIO, PDBIO

    writer = MMCIFIO() if ".cif" in path.suffixes else PDBIO()
    writer.set_structure(structure)
    handle = io.StringIO()
    writer.save(handle)
    text = handle.getvalue()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def write_chain(sequence: str, path: Path, chain: str = "A") -> Path:
    """A PDB file of one chain of ``sequence`` with Biopython's default internal coordinates;
    ``.cif`` writes mmCIF, ``.gz`` gzip."""
    import warnings

    from Bio.PDB.PICIO import read_PIC_seq
    from Bio.Seq import Seq
    from Bio.SeqRecord import SeqRecord

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structure = read_PIC_seq(SeqRecord(Seq(sequence.upper()), id="toy", description=""), chain=chain)
        structure.internal_to_atom_coordinates()
    return write_structure(structure, path)


def snapshot(folder: Path) -> dict[Path, str]:
    """Every file and folder under ``folder`` with a digest of its content (folders: "")."""
    state: dict[Path, str] = {}
    for path in folder.rglob("*"):
        if path.name in IGNORED:
            continue
        if path.is_file() and not path.is_symlink():
            state[path.relative_to(folder)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[path.relative_to(folder)] = ""
    return state


def fails_cleanly(capsys, args, *fragments: str, folder: Path | None = None) -> str:
    """Run the CLI; check exit code 2, one stderr line with ``fragments``, nothing written
    or changed under ``folder``."""
    before = snapshot(folder) if folder is not None else None
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (code, captured.err)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    if folder is not None:
        after = snapshot(folder)
        changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        assert not changed, sorted(map(str, changed))
    return line


@dataclass(frozen=True)
class TinyRun:
    """A trained run directory and the alignment it was trained on (never modified)."""

    run: Path
    alignment: Path

    def copy(self, folder: Path, name: str = "run") -> Path:
        target = folder / name
        shutil.copytree(self.run, target)
        return target


def train_tiny_run(folder: Path) -> TinyRun:
    aln = write_family(folder / "family.fasta")
    run_dir = folder / "run"
    assert main(["train", str(aln), "--out", str(run_dir), *TINY]) == 0
    return TinyRun(run_dir, aln)


# -- damages ---------------------------------------------------------------------------------
def _edit_json(path: Path, edit: Callable[[object], object]) -> None:
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def _registry(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        def change(data):
            edit(data["registry"])
            return data

        _edit_json(run / "registry.json", change)

    return damage


def _switch_alphabet(registry: dict) -> None:
    registry["alphabet"] = {"name": "dna", "residues": "ACGT", "gap": "-", "nonstandard": "NRYKMSWBDHV"}


def _nan_weights(run: Path) -> None:
    tensors = load_file(str(run / "model.safetensors"))
    name = sorted(tensors)[0]
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    save_file(tensors, str(run / "model.safetensors"))


def _checkpoint_without(key: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        state = torch.load(run / "checkpoint.pt", weights_only=True)
        del state[key]
        torch.save(state, run / "checkpoint.pt")

    return damage


def _checkpoint_shapes(run: Path) -> None:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    name = sorted(state["model"])[0]
    state["model"][name] = torch.zeros(3, 3)
    torch.save(state, run / "checkpoint.pt")


def _checkpoint_best_shapes(run: Path) -> None:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["best_model"] = {name: torch.zeros(2) for name in state["model"]}
    torch.save(state, run / "checkpoint.pt")


def _config_latent_dim(run: Path) -> None:
    def change(config):
        config["model"]["latent_dim"] = config["model"]["latent_dim"] + 3
        return config

    _edit_json(run / "config.json", change)


def _codes_shape(run: Path) -> None:
    codes = np.load(run / "data" / "codes.npy")
    np.save(run / "data" / "codes.npy", codes[:, :-2])


def _codes_flat(run: Path) -> None:
    codes = np.load(run / "data" / "codes.npy")
    np.save(run / "data" / "codes.npy", codes.reshape(-1))


def _ids_short(run: Path) -> None:
    _edit_json(run / "data" / "ids.json", lambda ids: ids[:-3])


@dataclass(frozen=True)
class Damage:
    """A way of damaging a run directory, the file named in the error, and who reads it."""

    apply: Callable[[Path], None]
    file: str
    fragment: str
    readers: str  # "all", "data" (commands that read data/), "checkpoint" (resume), "metrics" (report)


DAMAGES: dict[str, Damage] = {
    "registry-no-focus-columns": Damage(
        _registry(lambda r: r.pop("focus_columns")), "registry.json", "registry.focus_columns: missing", "all"
    ),
    "registry-start-not-a-number": Damage(
        _registry(lambda r: r.update(reference_start="abc")),
        "registry.json",
        "registry.reference_start",
        "all",
    ),
    "registry-short-numbering": Damage(
        _registry(lambda r: r.update(numbering=r["numbering"][:-2])),
        "registry.json",
        "registry.numbering",
        "all",
    ),
    "registry-other-alphabet": Damage(_registry(_switch_alphabet), "registry.json", "registry.", "all"),
    "registry-null": Damage(
        lambda run: (run / "registry.json").write_text("null\n"),
        "registry.json",
        "must hold an object",
        "all",
    ),
    "registry-not-json": Damage(
        lambda run: (run / "registry.json").write_text('{"kind": "seq'),
        "registry.json",
        "not valid JSON",
        "all",
    ),
    "weights-not-finite": Damage(_nan_weights, "model.safetensors", "not finite", "weights"),
    "summary-wrong-types": Damage(
        lambda run: _edit_json(run / "summary.json", lambda s: {**s, "best_step": "six", "steps": [12]}),
        "summary.json",
        "must be int",
        "weights",
    ),
    "config-other-latent-size": Damage(_config_latent_dim, "", "", "all"),
    "ids-not-json": Damage(
        lambda run: (run / "data" / "ids.json").write_text("[1, 2,"),
        "data/ids.json",
        "not valid JSON",
        "data",
    ),
    "ids-too-few": Damage(_ids_short, "data/ids.json", "sequence ids", "data"),
    "codes-wrong-columns": Damage(_codes_shape, "data/codes.npy", "columns", "data"),
    "codes-flat": Damage(_codes_flat, "data/codes.npy", "shape", "data"),
    "codes-out-of-range": Damage(
        lambda run: np.save(run / "data" / "codes.npy", np.load(run / "data" / "codes.npy") + 30),
        "data/codes.npy",
        "outside",
        "data",
    ),
    "sequence-weights-nan": Damage(
        lambda run: np.save(run / "data" / "sequence_weights.npy", np.full(60, np.nan)),
        "data/sequence_weights.npy",
        "finite sequence weights",
        "data",
    ),
    "validation-mask-wrong-length": Damage(
        lambda run: np.save(run / "data" / "validation_mask.npy", np.zeros(7, dtype=bool)),
        "data/validation_mask.npy",
        "booleans",
        "data",
    ),
    "data-missing": Damage(lambda run: shutil.rmtree(run / "data"), "data", "missing", "data-required"),
    "checkpoint-missing": Damage(
        lambda run: (run / "checkpoint.pt").unlink(), "checkpoint.pt", "train it again", "checkpoint"
    ),
    "checkpoint-no-step": Damage(
        _checkpoint_without("step"), "checkpoint.pt", "'step' is missing", "checkpoint"
    ),
    "checkpoint-no-optimizer": Damage(
        _checkpoint_without("optimizer"), "checkpoint.pt", "'optimizer'", "checkpoint"
    ),
    "checkpoint-wrong-shapes": Damage(_checkpoint_shapes, "checkpoint.pt", "does not fit", "checkpoint"),
    "checkpoint-best-wrong-shapes": Damage(
        _checkpoint_best_shapes, "checkpoint.pt", "best_model", "checkpoint"
    ),
    "metrics-garbage": Damage(
        lambda run: (run / "metrics.csv").write_bytes(b"step,elbo\n1,2\n\x00\x01garbage,,\n"),
        "metrics.csv",
        "metrics.csv",
        "metrics",
    ),
    "metrics-not-numbers": Damage(
        lambda run: (run / "metrics.csv").write_text(
            (run / "metrics.csv").read_text().replace("\n3,", "\nthree,", 1)
        ),
        "metrics.csv",
        "not a number",
        "metrics",
    ),
}


# -- every command that reads a run directory ----------------------------------------------------
@dataclass(frozen=True)
class RunCommand:
    """How to call a command on a run directory, writing under ``out``, and what it reads."""

    argv: Callable[[Path, Path, Path], list]
    reads: frozenset[str]


_ALL = frozenset({"all", "weights", "data", "data-required"})


def _fit_labels_argv(run: Path, aln: Path, out: Path) -> list:
    """Labelled single mutants of the family's first sequence (its reference, numbered from 1)."""
    reference = aln.read_text().splitlines()[1]
    rows = [
        f"{wt}{i + 1}{'A' if wt != 'A' else 'G'},{(3 * i) % 11}\n"
        for i, wt in enumerate(reference)
        if wt.isalpha()
    ]
    labels = out / "labels.csv"
    labels.write_text("mutant,y\n" + "".join(rows))
    return ["fit-labels", run, labels, "--label-col", "y", "--samples", "2", "--out", out / "p"]


def _design_argv(run: Path, aln: Path, out: Path) -> list:
    labels = out / "labels.csv"
    labels.write_text("id,y\n" + "".join(f"s{i},{i % 7}\n" for i in range(60)))
    return ["design", run, "--labels", labels, "--label-col", "y", "-n", "3", "--out", out / "d"]


RUN_COMMANDS: dict[str, RunCommand] = {
    "embed": RunCommand(lambda run, aln, out: ["embed", run, "--out", out / "z.csv"], _ALL),
    "embed-alignment": RunCommand(
        lambda run, aln, out: ["embed", run, aln, "--out", out / "z.csv"], frozenset({"all", "weights"})
    ),
    "latent": RunCommand(lambda run, aln, out: ["latent", run, "--out", out / "latent"], _ALL),
    "score": RunCommand(
        lambda run, aln, out: ["score", run, "--all-singles", "--samples", "2", "--out", out / "s.csv"],
        frozenset({"all", "weights"}),
    ),
    "couplings": RunCommand(
        lambda run, aln, out: ["couplings", run, "--n-ref", "2", "--no-figures", "--out", out / "c"], _ALL
    ),
    "generate": RunCommand(
        lambda run, aln, out: ["generate", run, "-n", "3", "--out", out / "d.fasta"], _ALL
    ),
    "evaluate-samples": RunCommand(
        lambda run, aln, out: ["evaluate-samples", aln, "--reference", aln, "--run", run, "--out", out / "e"],
        _ALL,
    ),
    "design": RunCommand(_design_argv, _ALL),
    "fit-labels": RunCommand(_fit_labels_argv, frozenset({"all", "weights"})),
    "report": RunCommand(
        lambda run, aln, out: ["report", run, "--out", out / "r.html"],
        frozenset({"all", "weights", "data", "metrics"}),  # without data/ it says so and goes on
    ),
    "resume": RunCommand(
        lambda run, aln, out: ["resume", run, "--no-progress"],
        frozenset({"all", "data", "data-required", "checkpoint"}),
    ),
}


def cases() -> list[tuple[str, str]]:
    """Every (command, damage) pair in which the command reads the damaged file."""
    return [
        (command, damage)
        for command, spec in RUN_COMMANDS.items()
        for damage, what in DAMAGES.items()
        if what.readers in spec.reads
    ]


# -- a hairpin structure and a toy family around its sequence (contacts, couplings) -------------
ONE_TO_THREE = {"A": "ALA", "G": "GLY", "K": "LYS", "W": "TRP", "S": "SER", "L": "LEU", "E": "GLU"}


def atom_line(serial, name, resname, chain, number, icode, xyz, element):
    x, y, z = xyz
    return (
        f"ATOM  {serial:5d} {name:<4s} {resname:3s} {chain:1s}{number:4d}{icode:1s}   "
        f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{0.0:6.2f}          {element:>2s}"
    )


def hairpin_pdb(path, sequence="AKWSLEAGKWSLEA", first=1):
    """Two antiparallel strands 5 Å apart: residue k faces residue 15 - k (numbering from 1)."""
    lines = []
    serial = 1
    n = len(sequence)
    half = n // 2
    for k, letter in enumerate(sequence, start=1):
        if k <= half:
            ca = np.array([3.8 * (k - 1), 0.0, 0.0])
        else:
            ca = np.array([3.8 * (n - k), 5.0, 0.0])
        resname = ONE_TO_THREE[letter]
        number = k - 1 + first
        lines.append(atom_line(serial, " CA ", resname, "A", number, "", ca, "C"))
        serial += 1
        if letter != "G":
            lines.append(atom_line(serial, " CB ", resname, "A", number, "", ca + np.array([0, 0, 1.0]), "C"))
            serial += 1
        lines.append(
            atom_line(serial, " H  ", resname, "A", number, "", ca + np.array([0, 0, -1.0]), "H")
        )  # ignored
        serial += 1
    lines.append(atom_line(serial, " CA ", "ALA", "B", 1, "", (50.0, 50.0, 50.0), "C"))
    path.write_text("\n".join(lines) + "\nEND\n")
    return path


#: the hairpin structure's sequence (hairpin_pdb) and the reference of toy_fasta's family
HAIRPIN_REFERENCE = "AKWSLEAGKWSLEA"


def toy_fasta(path, n=120, seed=0):
    """Sequences around the hairpin's reference with two co-varying pairs of positions."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    ref = np.array(list(HAIRPIN_REFERENCE))
    lines = [">ref", HAIRPIN_REFERENCE]
    for s in range(n):
        seq = ref.copy()
        mutate = rng.random(ref.size) < 0.35
        seq[mutate] = rng.choice(letters, mutate.sum())
        flip = rng.random() < 0.5
        seq[0], seq[13] = ("W", "F") if flip else ("A", "A")
        seq[2], seq[11] = ("K", "E") if rng.random() < 0.5 else ("E", "K")
        lines += [f">s{s}", "".join(seq)]
    path.write_text("\n".join(lines) + "\n")
    return path
