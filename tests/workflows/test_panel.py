"""The DMS panel: a panel file, one resumable command, its table and figure, and bad panels."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import shared_file
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.workflows.batch import read_batch_manifest
from seqvae.workflows.dms_panel import load_panel

TINY_VAE = [
    "--set",
    "training.max_steps=3",
    "--set",
    "model.encoder_hidden=[16]",
    "--set",
    "model.decoder_hidden=[16]",
    "--set",
    "model.latent_dim=2",
    "--set",
    "training.batch_size=16",
]


def _write_panel(tmp_path, scan_name="scan.csv", variant="variant", measured="fitness", extra="") -> object:
    alignment = shared_file("blat/BLAT_ECOLX_test.a2m")
    scan = tmp_path / "scan.csv"
    scan.write_text(
        "variant;fitness\nA182T;1.0\nV29A;0.4\nA182T/V29A;0.2\nH24A;0.3\nA300V;0.1\nI45A;0.8\nS104K;0.9\n"
    )
    panel = tmp_path / "panel.yaml"
    panel.write_text(
        "families:\n"
        "  - name: tinyBLAT\n"
        f"    alignment: {alignment}\n"
        f"    scan: {scan_name}\n"
        "    sep: auto\n"
        f"    mutant_column: {variant}\n"
        f"    score_column: {measured}\n"
        "    mutation_separator: /\n"
        "    published: {DeepSequence: 0.744}\n" + extra
    )
    return panel


def test_project_panel_reads():
    from pathlib import Path

    for name in (
        "blat/BLAT_ECOLX_Ranganathan2015.csv",
        "avgfp/avGFP.csv",
        "pdz3/DLG4_RAT_Ranganathan2012.csv",
    ):
        shared_file(name)
    proteins = load_panel(Path(__file__).resolve().parents[2] / "benchmarks" / "panel.yaml")
    assert [p.name for p in proteins] == ["BLAT", "avGFP", "PDZ3"]
    gfp = proteins[1].scans[0].reading
    assert (gfp["sep"], gfp["mutation_separator"], gfp["mutant_column"]) == (";", "/", "variant")
    pdz3 = proteins[2]
    assert (
        pdz3.reference == "DLG4_RAT/313-391" and Path(pdz3.scans[0].reading["reference_sequence"]).is_file()
    )
    # one manifest: seqvae batch reads the panel's families and scans as they are
    batch = read_batch_manifest(Path(__file__).resolve().parents[2] / "benchmarks" / "panel.yaml")
    assert [(f.name, f.alignment, f.scans) for f in batch.families] == [
        (p.name, p.alignment, p.scans) for p in proteins
    ]


def test_panel_command_table_figure_and_resume(tmp_path, capsys):
    panel = _write_panel(tmp_path)
    out = tmp_path / "out"
    args = [
        "benchmark-dms",
        "--panel",
        str(panel),
        "--out",
        str(out),
        "--models",
        "site-independent,vae",
        "--samples",
        "2",
        *TINY_VAE,
    ]
    assert main(args) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "panel.csv")
    assert list(table["model"]) == ["site-independent", "vae (seed 0)"]
    assert (table["n_scored"] == 5).all()  # H24A: not a focus column; A300V: outside the reference
    assert (table["n_skipped"] == 2).all()
    assert table["train_s"].notna().all() and table["score_s"].notna().all()
    assert table.loc[1, "active_dims"] >= 0
    markdown = (out / "panel.md").read_text()
    assert "| tinyBLAT | vae (seed 0) |" in markdown and "DeepSequence 0.744" in markdown
    assert (out / "panel.png").stat().st_size > 1000
    model_file = out / "tinyBLAT" / "vae_seed0" / "model.safetensors"
    stamp = model_file.stat().st_mtime_ns
    # each model is an executor task: its result, stored in its folder, holds the fitting seconds
    results = {key: out / "tinyBLAT" / key / ".seqvae-task.json" for key in ("site-independent", "vae_seed0")}
    stored = {key: json.loads(path.read_text()) for key, path in results.items()}
    assert stored["vae_seed0"]["result"]["seconds"] == pytest.approx(table.loc[1, "train_s"], rel=1e-4)
    capsys.readouterr()
    # rerun: the tasks are complete, nothing is fitted or scored again, the same table comes out
    assert main(args) == 0
    log = capsys.readouterr().err
    assert "fitted" not in log
    assert "tinyBLAT/site-independent: already done" in log and "tinyBLAT/vae_seed0: already done" in log
    assert model_file.stat().st_mtime_ns == stamp
    assert {key: json.loads(path.read_text()) for key, path in results.items()} == stored
    pd.testing.assert_frame_equal(pd.read_csv(out / "panel.csv"), table)
    # a folder of an earlier seqvae (its own fits.json and timings.json, no task results): its
    # models are recognised by the same fingerprints and kept; other settings are refused
    for path in results.values():
        path.unlink()
    fits = {key: value["fingerprint"] for key, value in stored.items()}
    timings = {key: value["result"]["seconds"] for key, value in stored.items()}
    (out / "tinyBLAT" / "fits.json").write_text(json.dumps(fits))
    (out / "tinyBLAT" / "timings.json").write_text(json.dumps(timings))
    assert main(args) == 0
    log = capsys.readouterr().err
    assert "fitted" not in log and "tinyBLAT/vae_seed0: recorded by an earlier seqvae" in log
    assert model_file.stat().st_mtime_ns == stamp
    assert {key: json.loads(path.read_text()) for key, path in results.items()} == stored
    pd.testing.assert_frame_equal(pd.read_csv(out / "panel.csv"), table)
    results["vae_seed0"].unlink()
    (out / "tinyBLAT" / "fits.json").write_text(json.dumps({**fits, "vae_seed0": "0" * 16}))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "vae_seed0: holds a model fitted with other settings" in err and "(--out)" in err
    assert model_file.stat().st_mtime_ns == stamp and not results["vae_seed0"].exists()


def test_one_scan_benchmark_is_a_panel_view_and_resumes(tmp_path, capsys):
    """``benchmark-dms ALIGNMENT DMS``: the panel's rows for one protein, its models in OUT itself;
    a rerun fits nothing and gives the same rows."""
    _write_panel(tmp_path)
    out = tmp_path / "one"
    args = ["benchmark-dms", str(shared_file("blat/BLAT_ECOLX_test.a2m")), str(tmp_path / "scan.csv")]
    args += ["--score-col", "fitness", "--mutant-col", "variant", "--out", str(out)]
    args += ["--models", "potts,vae", "--potts-iterations", "3", "--samples", "2", *TINY_VAE]
    assert main(args) == 0, capsys.readouterr().err
    rows = json.loads((out / "benchmark.json").read_text())
    assert [r["model"] for r in rows] == ["potts", "vae (seed 0)", "vae (seed 0) + potts"]
    assert rows[1]["active_dims"] is not None and rows[0]["active_dims"] is None
    assert {"spearman", "ci_low", "ci_high", "n_scored", "n_skipped", "train_s", "score_s"} <= set(rows[0])
    assert (out / "vae_seed0" / ".seqvae-task.json").is_file() and (
        out / "scores_vae_seed0_potts.csv"
    ).is_file()
    stamp = (out / "vae_seed0" / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    log = capsys.readouterr().err
    assert "fitted" not in log and "BLAT_ECOLX_test/vae_seed0: already done" in log
    assert (out / "vae_seed0" / "model.safetensors").stat().st_mtime_ns == stamp
    assert json.loads((out / "benchmark.json").read_text()) == rows


def test_panel_in_parallel_equals_sequential(tmp_path, capsys):
    """Two fitting workers give the same models and table as one process; --fast scores."""
    panel = _write_panel(tmp_path)
    common = ["--models", "site-independent,vae", "--ensemble", "2", "--fast", *TINY_VAE]
    tables = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        args = ["benchmark-dms", "--panel", str(panel), "--out", str(out), "--jobs", str(jobs), *common]
        assert main(args) == 0, capsys.readouterr().err
        tables.append(pd.read_csv(out / "panel.csv"))
    assert list(tables[0]["model"]) == [
        "site-independent",
        "vae (seed 0)",
        "vae (seed 1)",
        "vae ensemble of 2",
    ]
    pd.testing.assert_series_equal(tables[0]["spearman"], tables[1]["spearman"])
    summary = pd.read_csv(tmp_path / "jobs1" / "panel_summary.csv")
    assert list(summary["model"]) == ["site-independent", "vae seed mean", "vae ensemble of 2"]
    seeds = tables[0]["spearman"].iloc[1:3]
    assert summary.loc[1, "tinyBLAT"] == pytest.approx(seeds.mean(), abs=1e-6)
    assert summary.loc[1, "seeds"] == 2
    assert "| vae seed mean (2 seeds; sd " in (tmp_path / "jobs1" / "panel.md").read_text()
    for seed in (0, 1):
        first, second = (
            pd.read_csv(tmp_path / f"jobs{j}" / "tinyBLAT" / f"scores_vae_seed{seed}.csv") for j in (1, 2)
        )
        pd.testing.assert_frame_equal(first, second)


def test_panel_profile_of_the_wild_types_relatives(tmp_path, capsys):
    """``site-independent-wt``: the site-independent model weighted towards the wild type
    (identity², fit_baseline's reference_power), a row of its own beside the plain one."""
    panel = _write_panel(tmp_path)
    out = tmp_path / "out"
    args = ["benchmark-dms", "--panel", str(panel), "--out", str(out)]
    assert main([*args, "--models", "site-independent,site-independent-wt"]) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "panel.csv")
    assert list(table["model"]) == ["site-independent", "site-independent-wt"]
    info = json.loads((out / "tinyBLAT" / "site-independent-wt" / "baseline.json").read_text())
    plain = json.loads((out / "tinyBLAT" / "site-independent" / "baseline.json").read_text())
    assert info["report"]["reference_power"] == 2.0
    assert 1.0 <= info["n_eff"] < plain["n_eff"]  # the relatives are fewer than the family
    scores = [
        pd.read_csv(out / "tinyBLAT" / f"scores_{k}.csv")["score"]
        for k in ("site-independent", "site-independent-wt")
    ]
    assert (scores[0] - scores[1]).abs().max() > 1e-3
    # the one-scan command knows the name too (and reads the scan's variant column)
    single = [
        str(shared_file("blat/BLAT_ECOLX_test.a2m")),
        str(tmp_path / "scan.csv"),
        "--score-col",
        "fitness",
    ]
    single += ["--mutant-col", "variant"]
    one = tmp_path / "one"
    assert main(["benchmark-dms", *single, "--models", "site-independent-wt", "--out", str(one)]) == 0
    rows = json.loads((one / "benchmark.json").read_text())
    assert [r["model"] for r in rows] == ["site-independent-wt"]
    assert rows[0]["spearman"] == pytest.approx(table.loc[1, "spearman"])  # the panel's row
    capsys.readouterr()
    assert main(["benchmark-dms", *single, "--models", "nope", "--out", str(tmp_path / "two")]) == 2
    assert (
        "--models: unknown model 'nope'; choose from site-independent, site-independent-wt, potts, vae"
        in (capsys.readouterr().err)
    )
    for flag, value in (("--models", "nope"), ("--ensemble", "0"), ("--jobs", "0"), ("--threads", "0")):
        assert main([*args, flag, value, "--out", str(tmp_path / "three")]) == 2
        assert f"{flag}: " in capsys.readouterr().err  # the library names the argument, the CLI its flag
    assert not (tmp_path / "three").exists()
    assert main([*args, "--mutant-col", "variant"]) == 2  # the panel file names it
    assert "--panel takes no ALIGNMENT, DMS or --mutant-col" in capsys.readouterr().err


def test_panel_row_of_the_vae_and_potts_mean(tmp_path, capsys):
    """With both fitted, a row scores the mean of the seed-0 VAE's and the Potts model's scores."""
    panel = _write_panel(tmp_path)
    out = tmp_path / "out"
    args = ["benchmark-dms", "--panel", str(panel), "--out", str(out), "--models", "potts,vae"]
    assert main([*args, "--potts-iterations", "3", "--samples", "2", *TINY_VAE]) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "panel.csv")
    assert list(table["model"]) == ["potts", "vae (seed 0)", "vae (seed 0) + potts"]
    folder = out / "tinyBLAT"
    vae, potts, mean = (
        pd.read_csv(folder / f"scores_{k}.csv") for k in ("vae_seed0", "potts", "vae_seed0_potts")
    )
    scored = mean["score"].notna()
    assert scored.sum() == 5 and (vae["score"].notna() == scored).all()
    expected = (vae["score"] + potts["score"]) / 2
    assert (mean.loc[scored, "score"] - expected[scored]).abs().max() < 1e-4
    assert (mean.loc[scored, "score"] - vae.loc[scored, "score"]).abs().max() > 1e-6  # not one member
    row = table.iloc[2]
    assert row["train_s"] == pytest.approx(table.iloc[0]["train_s"] + table.iloc[1]["train_s"], rel=1e-4)


def test_panel_summary_folds_seeds_and_averages_over_proteins():
    from seqvae.workflows.dms_panel import panel_summary

    table = pd.DataFrame(
        {
            "protein": ["A", "A", "A", "A", "B", "B", "B"],
            "model": [
                "potts",
                "vae (seed 0)",
                "vae (seed 1)",
                "vae (seed 2)",
                "vae (seed 0)",
                "vae (seed 1)",
                "vae (seed 2)",
            ],
            "spearman": [0.7, 0.60, 0.62, 0.64, 0.40, 0.50, 0.45],
        }
    )
    summary = panel_summary(table).set_index("model")
    assert list(summary.index) == ["potts", "vae seed mean"]
    seeds = summary.loc["vae seed mean"]
    assert seeds["A"] == pytest.approx(0.62) and seeds["B"] == pytest.approx(0.45)
    assert seeds["panel mean"] == pytest.approx(0.535)
    assert seeds["seeds"] == 3
    assert seeds["seed_sd"] == pytest.approx((0.02 + 0.05) / 2)
    assert seeds["seed_min"] == pytest.approx((0.60 + 0.40) / 2)
    assert seeds["seed_max"] == pytest.approx((0.64 + 0.50) / 2)
    # a model scored on one protein only: its panel mean is over that protein
    assert summary.loc["potts", "panel mean"] == pytest.approx(0.7) and pd.isna(summary.loc["potts", "B"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scan_name": "missing.csv"}, "family 'tinyBLAT' scan: file not found: missing.csv"),
        ({"measured": "nope"}, "score_column 'nope' is not a column of scan.csv"),
        ({"variant": "mutant"}, "mutant_column 'mutant' is not a column"),
        ({"extra": "    measured_column: fitness\n"}, "'measured_column' is now 'score_column'"),
        ({"extra": "    chain: A\n"}, "family.chain needs family.structure"),
        ({"extra": "    notes: [1, 2]\n"}, "family.notes: must be a string"),
        ({"extra": "    colour: red\n"}, "unknown key 'colour'"),
        ({"extra": "    seeds: [0, 1]\n"}, "family 'tinyBLAT': 'seeds' is not read by the panel"),
        ({"extra": "    scans: [scan.csv]\n"}, "family.scan and family.scans exclude each other"),
    ],
)
def test_bad_panel_entry(tmp_path, capsys, kwargs, message):
    panel = _write_panel(tmp_path, **kwargs)
    out = tmp_path / "out"
    assert main(["benchmark-dms", "--panel", str(panel), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_unreadable_panel_file(tmp_path, capsys):
    panel = tmp_path / "panel.yaml"
    panel.write_text("families: [\n  - name: x\n")
    out = tmp_path / "out"
    assert main(["benchmark-dms", "--panel", str(panel), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "invalid YAML" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    with pytest.raises(InputError, match="manifest not found"):
        load_panel(tmp_path / "absent.yaml")


def test_panel_reference_sequence_that_does_not_align(tmp_path, capsys):
    fasta = tmp_path / "wt.fasta"
    fasta.write_text(">other\n" + "W" * 200 + "\n")
    panel = _write_panel(tmp_path, extra=f"    reference_sequence: {fasta}\n")
    out = tmp_path / "out"
    assert main(["benchmark-dms", "--panel", str(panel), "--out", str(out), *TINY_VAE]) == 2
    err = capsys.readouterr().err
    assert "does not align" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_depth_benchmark_subsamples_keep_the_reference_first(tmp_path):
    from benchmarks.dms_depth import subsample_alignment

    from seqvae.io.alignment_formats import read_records

    def rows(path):
        return [(r.id, r.header, r.text) for r in read_records(path).records]

    (protein,) = load_panel(_write_panel(tmp_path))
    original = rows(protein.alignment)
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
    first = subsample_alignment(protein, 5, seed=0, folder=tmp_path / "a")
    assert first.suffix == protein.alignment.suffix
    sampled = rows(first)
    # the reference row first, then 5 distinct other rows of the original in the file's order
    assert len(sampled) == 6 and sampled[0] == original[0]
    positions = [original.index(row) for row in sampled[1:]]
    assert positions == sorted(set(positions)) and 0 not in positions
    # the same seed draws the same rows, another seed other rows
    assert rows(subsample_alignment(protein, 5, seed=0, folder=tmp_path / "b")) == sampled
    assert rows(subsample_alignment(protein, 5, seed=1, folder=tmp_path / "c")) != sampled
    assert subsample_alignment(protein, len(original) - 1, seed=0, folder=tmp_path) is None


def test_panel_and_benchmark_rows_with_a_structure(tmp_path, capsys):
    """A protein with a ``structure:`` entry gets a ``+ structure`` row per model, from the same
    scores; the seeds fold into ``vae seed mean + structure``; the one-scan command agrees."""
    structure = shared_file("blat/1FQG.pdb")
    panel = _write_panel(tmp_path, extra=f"    structure: {structure}\n    chain: A\n")
    out = tmp_path / "out"
    args = ["benchmark-dms", "--panel", str(panel), "--out", str(out), "--models", "site-independent,vae"]
    assert main([*args, "--ensemble", "2", "--samples", "2", *TINY_VAE]) == 0, capsys.readouterr().err
    table = pd.read_csv(out / "panel.csv")
    assert list(table["model"]) == [
        "site-independent",
        "site-independent + structure",
        "vae (seed 0)",
        "vae (seed 0) + structure",
        "vae (seed 1)",
        "vae (seed 1) + structure",
        "vae ensemble of 2",
        "vae ensemble of 2 + structure",
    ]
    assert (table["n_scored"] == 5).all()
    assert (table.iloc[1::2]["spearman"].to_numpy() != table.iloc[0::2]["spearman"].to_numpy()).any()
    summary = pd.read_csv(out / "panel_summary.csv")
    assert list(summary["model"]) == [
        "site-independent",
        "site-independent + structure",
        "vae seed mean",
        "vae seed mean + structure",
        "vae ensemble of 2",
        "vae ensemble of 2 + structure",
    ]
    assert summary.loc[3, "seeds"] == 2
    markdown = (out / "panel.md").read_text()
    assert "tinyBLAT: 1FQG.pdb chain A covers" in markdown and "factor = " in markdown
    # the one-scan command: the same structure-aware row
    single = [
        str(shared_file("blat/BLAT_ECOLX_test.a2m")),
        str(tmp_path / "scan.csv"),
        "--score-col",
        "fitness",
    ]
    single += ["--mutant-col", "variant", "--models", "site-independent", "--structure", str(structure)]
    assert main(["benchmark-dms", *single, "--out", str(tmp_path / "one")]) == 0
    rows = json.loads((tmp_path / "one" / "benchmark.json").read_text())
    assert [r["model"] for r in rows] == ["site-independent", "site-independent + structure"]
    assert rows[1]["spearman"] == pytest.approx(table.loc[1, "spearman"])
    capsys.readouterr()
    assert main([*args, "--structure", str(structure)]) == 2
    assert "--panel takes no --structure" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text(
        panel.read_text().replace(f"    structure: {structure}\n", "    structure: missing.pdb\n")
    )
    with pytest.raises(InputError, match=r"structure: file not found: missing\.pdb"):
        load_panel(tmp_path / "bad.yaml")
