"""`seqvae embed RUN [ALN] --out z.csv`: the training set, and new sequences mapped through the
saved registry (full raw A2M rows, A3M rows, focus-only rows); files that do not fit are
rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seqvae
from seqvae.cli.main import main

UPPER = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
FOCUS_LENGTH = 10
INSERTS_AFTER = {2: 2, 6: 1}  # focus column -> number of insert columns after it
GAPPY_COLUMN = 8  # mostly gaps: removed by the column gap filter of the run


def family_rows(n: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """The same sequences as A2M rows (inserts as lower case or '.'), A3M rows (no '.') and
    rows of the focus columns only."""
    rng = np.random.default_rng(seed)
    ancestors = rng.integers(0, 20, (3, FOCUS_LENGTH))
    focus = ancestors[rng.integers(0, 3, n)]
    focus = np.where(rng.random(focus.shape) < 0.2, rng.integers(0, 21, focus.shape), focus)
    focus[:, GAPPY_COLUMN] = np.where(rng.random(n) < 0.9, 20, focus[:, GAPPY_COLUMN])
    a2m, a3m, focus_only = [], [], []
    for i, row in enumerate(focus):
        raw = ""
        for column, code in enumerate(row):
            raw += UPPER[code]
            for _ in range(INSERTS_AFTER.get(column, 0)):
                # the first row (the reference) has residues in every insert column
                raw += UPPER[rng.integers(0, 20)].lower() if (i == 0 or rng.random() < 0.3) else "."
        a2m.append(raw)
        a3m.append(raw.replace(".", ""))
        focus_only.append("".join(UPPER[row]))
    return a2m, a3m, focus_only


def write(path: Path, ids: list[str], rows: list[str]) -> Path:
    path.write_text("".join(f">{i}\n{r}\n" for i, r in zip(ids, rows)))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embed")
    a2m, _, _ = family_rows(80, seed=1)
    ids = ["ref/5-20"] + [f"t{i}" for i in range(1, 80)]
    aln = write(folder / "train.a2m", ids, a2m)
    out = folder / "run"
    args = ["train", str(aln), "--out", str(out), "--no-progress", "--max-steps", "10", "--batch-size", "16"]
    args += ["--set", "model.encoder_hidden=[16]", "--set", "model.decoder_hidden=[16]"]
    args += ["--set", "data.max_column_gap_fraction=0.5", "--latent-dim", "3"]
    assert main(args) == 0
    return out, aln


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False)


def test_embed_training_set(run, tmp_path, capsys):
    run_dir, aln = run
    out = tmp_path / "z.csv"
    assert main(["embed", str(run_dir), "--out", str(out)]) == 0
    table = read_csv(out)
    expected_columns = (
        ["id", "weight"] + [f"z_mean_{k}" for k in range(3)] + [f"z_logvar_{k}" for k in range(3)]
    )
    assert list(table.columns) == expected_columns
    loaded = seqvae.load(run_dir)
    training = loaded.training_alignment()
    assert table["id"].tolist() == training.ids
    np.testing.assert_allclose(table["weight"], training.weights)
    mean, logvar = loaded.encode(training.codes)
    np.testing.assert_allclose(
        table[[f"z_mean_{k}" for k in range(3)]].to_numpy(), mean, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        table[[f"z_logvar_{k}" for k in range(3)]].to_numpy(), logvar, rtol=1e-6, atol=1e-6
    )
    # the registry kept 9 of the 10 match columns (the gappy one was filtered)
    assert loaded.registry.length == FOCUS_LENGTH - 1
    assert loaded.registry.raw_length == FOCUS_LENGTH + sum(INSERTS_AFTER.values())

    # the training file itself, given explicitly, embeds the same
    again = tmp_path / "z_again.csv"
    assert main(["embed", str(run_dir), str(aln), "--out", str(again)]) == 0
    pd.testing.assert_frame_equal(read_csv(again), table)
    capsys.readouterr()


def test_new_sequences_in_every_layout_embed_the_same(run, tmp_path, capsys):
    run_dir, _ = run
    a2m, a3m, focus_only = family_rows(25, seed=2)
    loaded = seqvae.load(run_dir)
    kept = np.searchsorted(np.arange(FOCUS_LENGTH), [c for c in range(FOCUS_LENGTH) if c != GAPPY_COLUMN])
    focus_kept = ["".join(row[c] for c in kept) for row in focus_only]
    ids = [f"new{i}" for i in range(25)]
    files = {
        "a2m": write(tmp_path / "new.a2m", ids, a2m),
        "a3m": write(tmp_path / "new.a3m", ids, a3m),
        "a3m_as_fasta": write(tmp_path / "new_a3m.fasta", ids, a3m),
        "focus": write(tmp_path / "new_focus.fasta", ids, focus_kept),
    }
    tables = {}
    for name, path in files.items():
        out = tmp_path / f"z_{name}.csv"
        assert main(["embed", str(run_dir), str(path), "--out", str(out)]) == 0, capsys.readouterr().err
        tables[name] = read_csv(out)
        assert tables[name]["id"].tolist() == ids
    for name in ("a3m", "a3m_as_fasta", "focus"):
        pd.testing.assert_frame_equal(tables[name], tables["a2m"], check_exact=True)
    # and it is the encoder applied to the focus letters
    codes = np.array([[loaded.registry.alphabet.encode(s)] for s in focus_kept])[:, 0]
    mean, _ = loaded.encode(codes)
    np.testing.assert_allclose(
        tables["a2m"][["z_mean_0", "z_mean_1", "z_mean_2"]].to_numpy(), mean, atol=1e-6
    )
    capsys.readouterr()


def test_non_fitting_files_are_rejected(run, tmp_path, capsys):
    run_dir, _ = run
    out = tmp_path / "z.csv"
    # 13 raw, 10 match and 9 focus columns fit; 11 does not
    wrong = write(tmp_path / "wrong.fasta", ["a", "b"], ["ACDEFGHIKLM", "ACDEFGHIKLM"])
    assert main(["embed", str(run_dir), str(wrong), "--out", str(out)]) == 2
    message = capsys.readouterr().err.strip()
    assert f"{wrong}:1: sequences have 11 columns" in message
    assert "9 (focus columns only)" in message and "10 (match" in message and "13 (full rows" in message
    ragged = write(tmp_path / "ragged.fasta", ["a", "b"], ["ACDEFGHIK", "ACDEFGHI"])
    assert main(["embed", str(run_dir), str(ragged), "--out", str(out)]) == 2
    assert "ragged" in capsys.readouterr().err
    odd = write(tmp_path / "odd.fasta", ["a", "b"], ["ACDEFGHIK", "ACDEFGH1K"])
    assert main(["embed", str(run_dir), str(odd), "--out", str(out)]) == 2
    assert "unknown character '1'" in capsys.readouterr().err
    assert not out.exists()


def test_python_api_embed(run):
    run_dir, aln = run
    loaded = seqvae.load(run_dir)
    table = loaded.embed(aln)
    assert len(table) == 80 and table["weight"].gt(0).all()
    new = loaded.read_alignment(aln)
    assert new.codes.shape == (80, FOCUS_LENGTH - 1)
    other_alphabet = seqvae.read_alignment(aln, alphabet="ACDEFGHIKLMNPQRSTVWYX")
    with pytest.raises(seqvae.InputError, match="the run expects"):
        loaded.embed(other_alphabet)
