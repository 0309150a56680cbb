"""``seqvae batch``: families × seeds trained, scored with their ensemble, summarised; resumable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import shared_file
from seqvae.analysis.mutations import MutationMapper, parse_mutant
from seqvae.analysis.scoring import load_scorer
from seqvae.cli.main import main
from seqvae.errors import InputError
from seqvae.executor import RAY_NO_CLUSTER_VARIABLE, THREAD_VARIABLES, LocalExecutor, RayExecutor
from seqvae.workflows.batch import read_batch_manifest, run_batch
from test_executor import _check, _is_loopback, _listening_addresses, _need, _ray_processes, _tasks

SRC = Path(__file__).resolve().parents[2] / "src"
TIMES = ["prepare_s", "train_s", "score_s", "report_s"]
TINY = {
    "model.encoder_hidden": [16],
    "model.decoder_hidden": [16],
    "model.warmup_steps": 10,
    "training.max_steps": 40,
    "training.eval_every": 20,
    "training.checkpoint_every": 20,
    "training.log_every": 10,
    "training.batch_size": 32,
    "training.device": "cpu",
}


def _manifest(folder: Path, report: bool = False, steps: int = 40) -> Path:
    """Two families on the small BLAT alignment (a 300-mutant slice of its scan): 3 models."""
    folder.mkdir(parents=True, exist_ok=True)
    alignment = shared_file("blat/BLAT_ECOLX_test.a2m")
    scan = pd.read_csv(shared_file("blat/BLAT_ECOLX_Ranganathan2015.csv")).iloc[:300]
    scan[["mutant", "2500"]].to_csv(folder / "scan.csv", index=False)
    manifest = {
        "preset": "explore",
        "seeds": [0, 1],
        "samples": 4,
        "report": report,
        "overrides": {**TINY, "training.max_steps": steps},
        "families": [
            {
                "name": "blat",
                "alignment": str(alignment),
                "scans": [{"name": "stiffler", "file": "scan.csv", "score_column": "2500"}],
            },
            {"name": "blat_one", "alignment": str(alignment), "seeds": [2], "scans": ["scan.csv"]},
        ],
    }
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


def _scores(out: Path) -> dict[str, pd.DataFrame]:
    return {str(p.relative_to(out)): pd.read_csv(p) for p in sorted(out.glob("*/scores/*.csv"))}


def _same_results(a: Path, b: Path) -> None:
    left = pd.read_csv(a / "batch_summary.csv").drop(columns=TIMES)
    right = pd.read_csv(b / "batch_summary.csv").drop(columns=TIMES)
    pd.testing.assert_frame_equal(left, right)
    scores_a, scores_b = _scores(a), _scores(b)
    assert sorted(scores_a) == sorted(scores_b) and len(scores_a) == 2
    for name in scores_a:
        pd.testing.assert_frame_equal(scores_a[name], scores_b[name])


@pytest.fixture(scope="module")
def sequential(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch")
    manifest = _manifest(folder, report=True)
    assert main(["batch", str(manifest), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder


def test_batch_trains_scores_and_summarises(sequential):
    out = sequential / "out"
    summary = pd.read_csv(out / "batch_summary.csv")
    assert list(summary["family"]) == ["blat", "blat_one"]
    assert (summary["status"] == "finished").all()
    assert list(summary["L"]) == [253, 253] and list(summary["n_sequences"]) == [46, 46]
    assert summary["N_eff"].iloc[0] == pytest.approx(19.18, abs=0.05)
    dims = [int(d) for d in str(summary["active_dims"].iloc[0]).split()]
    assert len(dims) == 2 and all(0 <= d <= 2 for d in dims)  # one per seed, of a 2-D latent space
    assert -1 <= summary["rho_stiffler"].iloc[0] <= 1
    assert 200 <= summary["n_scored_stiffler"].iloc[0] <= 300  # mutants on focus columns
    assert (
        pd.isna(summary["rho_stiffler"].iloc[1])
        and summary["n_scored_scan"].iloc[1] == summary["n_scored_stiffler"].iloc[0]
    )
    assert (out / "blat" / "report.html").stat().st_size > 1000
    # the ensemble score is the mean of the two seeds' scores
    scores = pd.read_csv(out / "blat" / "scores" / "stiffler.csv")
    assert scores["score"].notna().sum() == summary["n_scored_stiffler"].iloc[0]
    first = scores[scores["score"].notna()].iloc[:20]
    mapper = MutationMapper(load_scorer(out / "blat" / "seed0").registry)
    codes = np.stack([mapper.apply(parse_mutant(m)) for m in first["mutant"]])
    members = [load_scorer(out / "blat" / f"seed{k}", samples=4).score_codes(codes) for k in (0, 1)]
    assert np.allclose((members[0] + members[1]) / 2, first["score"], rtol=1e-6, atol=1e-6)
    assert not np.allclose(members[0], members[1])
    markdown = (out / "batch_summary.md").read_text()
    assert "| family |" in markdown and "blat_one" in markdown and "Failures" not in markdown


def test_local_jobs_equal_sequential(sequential, tmp_path):
    manifest = _manifest(tmp_path, report=False)
    result = run_batch(manifest, tmp_path / "out", executor=LocalExecutor(jobs=2))
    assert result.info["n_tasks"] == 7 and not result.failures
    _same_results(sequential / "out", tmp_path / "out")
    # a rerun does nothing
    again = run_batch(manifest, tmp_path / "out", jobs=2)
    assert again.info["n_skipped"] == 7


def test_a_scan_numbered_by_its_full_wild_type(sequential, tmp_path):
    """A scan may be numbered from a full wild type (``reference_sequence: FASTA``) instead of from the
    reference row's ``NAME/start-end``: the same mutants renumbered give the same scores."""
    manifest = _manifest(tmp_path)
    values = yaml.safe_load(manifest.read_text())
    text = shared_file("blat/BLAT_ECOLX_test.a2m").read_text().split(">")[1]  # the reference row
    residues = "".join(c for c in "".join(text.splitlines()[1:]) if c.isalpha()).upper()
    (tmp_path / "wild_type.fasta").write_text(">wt with 5 extra N-terminal residues\nMSIQH" + residues + "\n")
    scan = pd.read_csv(tmp_path / "scan.csv")
    # row residue 24 is residue 6 of the full wild type
    scan["mutant"] = [f"{m[0]}{int(m[1:-1]) - 24 + 6}{m[-1]}" for m in scan["mutant"]]
    scan.to_csv(tmp_path / "renumbered.csv", index=False)
    values["families"] = [values["families"][0]]
    values["families"][0]["scans"] = [
        {
            "name": "stiffler",
            "file": "renumbered.csv",
            "score_column": "2500",
            "reference_sequence": "wild_type.fasta",
        }
    ]
    manifest.write_text(yaml.safe_dump(values))
    result = run_batch(manifest, tmp_path / "out")
    assert not result.failures, result.failures
    renumbered = pd.read_csv(tmp_path / "out" / "blat" / "scores" / "stiffler.csv")
    original = pd.read_csv(sequential / "out" / "blat" / "scores" / "stiffler.csv")
    assert renumbered["score"].notna().sum() > 200
    np.testing.assert_array_equal(renumbered["score"].to_numpy(), original["score"].to_numpy())

    values["families"][0]["scans"][0]["reference_sequence"] = "missing.fasta"
    manifest.write_text(yaml.safe_dump(values))
    with pytest.raises(InputError, match=r"reference_sequence: file not found: missing\.fasta"):
        run_batch(manifest, tmp_path / "out2")
    # the older name is refused with the new one
    values["families"][0]["scans"][0]["wild_type"] = values["families"][0]["scans"][0].pop(
        "reference_sequence"
    )
    manifest.write_text(yaml.safe_dump(values))
    with pytest.raises(InputError, match="'wild_type' is now 'reference_sequence'"):
        read_batch_manifest(manifest)


def test_kill_nine_then_rerun_completes_only_the_missing_tasks(sequential, tmp_path):
    manifest = _manifest(tmp_path, report=False)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen(
        [sys.executable, "-m", "seqvae.cli.main", "batch", str(manifest), "--out", str(out), "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = out / "blat" / "tasks" / "train-seed0" / ".seqvae-task.json"
    deadline = time.monotonic() + 120
    while not first.exists() and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert first.exists(), "the driver never finished its first model"
    assert not (out / "batch_summary.csv").exists()  # killed half-way
    result = run_batch(manifest, out)
    assert not result.failures, result.failures
    assert 2 <= result.info["n_skipped"] < result.info["n_tasks"] == 7
    _same_results(sequential / "out", out)


def test_a_run_killed_during_its_first_write_starts_afresh(sequential, tmp_path):
    """The state kill -9 leaves when it lands inside the first atomic write of a run directory."""
    out = tmp_path / "out"
    shutil.copytree(sequential / "out", out)
    shutil.copy(sequential / "scan.csv", tmp_path / "scan.csv")
    manifest = _manifest(tmp_path, report=True)
    for folder in (
        out / "blat" / "seed1",
        out / "blat" / "tasks" / "train-seed1",
        out / "blat" / "tasks" / "score",
    ):
        shutil.rmtree(folder)
    (out / "blat" / "seed1").mkdir()
    (out / "blat" / "seed1" / ".seqvae.lock").touch()
    (out / "blat" / "seed1" / ".config.json.ab12cd.tmp").touch()
    result = run_batch(manifest, out)
    assert not result.failures, result.failures
    assert result.info["n_skipped"] == 5
    _same_results(sequential / "out", out)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_ray_cluster_binds_to_loopback_only_and_gives_identical_scores(sequential, tmp_path):
    _need("ray")
    manifest = _manifest(tmp_path)
    ours = (*THREAD_VARIABLES, RAY_NO_CLUSTER_VARIABLE, "RAY_USAGE_STATS_ENABLED")
    environment = {name: os.environ.get(name) for name in ours}
    executor = RayExecutor(jobs=2)
    with executor:
        ray = executor.ray
        addresses = executor.addresses
        assert addresses["node_ip_address"] == "127.0.0.1"
        assert addresses["gcs_address"].startswith("127.0.0.1:")
        assert not addresses["dashboard_url"]  # no dashboard
        assert [node["NodeManagerAddress"] for node in ray.nodes()] == ["127.0.0.1"]
        tasks = executor.run(_tasks(tmp_path / "tasks"))
        result = run_batch(manifest, tmp_path / "ray", executor=executor)  # the same cluster
        # every socket the driver, the Ray daemons and the workers listen on is on loopback
        listening = _listening_addresses(_ray_processes(addresses["session_dir"]))
        assert listening, "found no listening socket of the Ray processes"
        assert all(_is_loopback(a) for a in listening), listening
        assert ray.is_initialized()  # held over several runs inside the block
    assert not ray.is_initialized()
    # the variables seqvae set for the cluster are restored (Ray's own, e.g. PYTHONBREAKPOINT, stay)
    assert {name: os.environ.get(name) for name in ours} == environment
    _check(tasks)
    assert not result.failures and result.info["backend"] == "ray"
    _same_results(sequential / "out", tmp_path / "ray")


def test_slurm_backend_through_submitit_gives_identical_scores(sequential, tmp_path):
    _need("submitit")
    manifest = _manifest(tmp_path, report=False)
    arguments = ["batch", str(manifest), "--out", str(tmp_path / "slurm"), "--backend", "slurm"]
    assert main([*arguments, "--slurm-cluster", "debug", "--quiet"]) == 0
    _same_results(sequential / "out", tmp_path / "slurm")


def test_a_failing_family_is_reported_and_the_rest_finishes(tmp_path, capsys):
    manifest = _manifest(tmp_path)
    values = yaml.safe_load(manifest.read_text())
    broken = tmp_path / "broken.a2m"
    broken.write_text(">a\nACDEF\n>b\nAC\n", encoding="utf-8")  # rows of unequal length
    values["families"][1]["alignment"] = "broken.a2m"
    manifest.write_text(yaml.safe_dump(values))
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "failed: blat_one/prepare: InputError:" in err and "broken.a2m" in err
    summary = pd.read_csv(tmp_path / "out" / "batch_summary.csv")
    assert summary["status"].iloc[0] == "finished"
    assert summary["status"].iloc[1].startswith("failed: blat_one/prepare: InputError:")
    assert "## Failures" in (tmp_path / "out" / "batch_summary.md").read_text()


def test_csv_manifest_reads_like_yaml(tmp_path):
    _manifest(tmp_path)
    alignment = shared_file("blat/BLAT_ECOLX_test.a2m")
    (tmp_path / "m.csv").write_text(
        "family,alignment,seeds,preset,scan,scan_name,score_column\n"
        f"blat,{alignment},0;1,explore,scan.csv,stiffler,2500\n"
        "blat,,,,scan.csv,again,\n",
        encoding="utf-8",
    )
    manifest = read_batch_manifest(tmp_path / "m.csv")
    (family,) = manifest.families
    assert family.seeds == [0, 1] and family.config.preset == "explore"
    assert [s.name for s in family.scans] == ["stiffler", "again"]
    assert family.scans[0].reading == {"score_column": "2500"} and family.scans[1].reading == {}


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda m: m["families"][0].update(alignment="missing.a2m"),
            "alignment: file not found: missing.a2m",
        ),
        (lambda m: m["families"][0]["scans"][0].update(file="nope.csv"), "scan: file not found: nope.csv"),
        (lambda m: m["families"][1].update(name="blat"), "duplicate task: family 'blat' is listed twice"),
        (lambda m: m.update(seeds=[0, 0]), "manifest.seeds: must be a non-empty list of distinct values"),
        (lambda m: m.update(samples=0), "manifest.samples: must be an integer >= 1"),
        (lambda m: m["families"][0].update(seeds="x"), "family.seeds: must be"),
        (lambda m: m["families"][1].update(scans=["scan.csv", "scan.csv"]), "duplicate task: scan 'scan'"),
        (lambda m: m["families"][0].update(colour="red"), "unknown key 'colour'"),
        (lambda m: m["families"][0]["scans"][0].update(separator=";"), "'separator' is now 'sep'"),
        (lambda m: m["families"][0]["scans"][0].update(sep="|"), "sep: must be one of"),
        (
            lambda m: m["families"][0]["scans"][0].update(score_column="nope"),
            "score_column 'nope' is not a column",
        ),
        (lambda m: m["overrides"].update({"model.beta": -1}), "model.beta"),
    ],
)
def test_bad_manifests_are_one_line_exit_2(tmp_path, capsys, change, expected):
    manifest = _manifest(tmp_path)
    values = yaml.safe_load(manifest.read_text())
    change(values)
    manifest.write_text(yaml.safe_dump(values))
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out")]) == 2
    err = _one_error_line(capsys)
    assert str(manifest) in err and expected in err, err
    assert not (tmp_path / "out").exists()  # nothing written


def test_bad_backend_and_missing_packages_are_one_line_exit_2(tmp_path, capsys, monkeypatch):
    manifest = _manifest(tmp_path)
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out), "--backend", "spark"]) == 2
    assert "unknown backend 'spark'" in _one_error_line(capsys)
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "submitit", None)
    assert main(["batch", str(manifest), "--out", str(out), "--backend", "ray"]) == 2
    assert "pip install 'seqvae[ray]'" in _one_error_line(capsys)
    assert main(["batch", str(manifest), "--out", str(out), "--backend", "slurm"]) == 2
    assert "pip install 'seqvae[slurm]'" in _one_error_line(capsys)
    assert main(["batch", str(tmp_path / "none.yaml"), "--out", str(out)]) == 2
    assert "manifest not found" in _one_error_line(capsys)
    assert not out.exists()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("x")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "foreign")]) == 2
    assert "is not a seqvae batch folder" in _one_error_line(capsys)


def test_an_unavailable_device_names_the_argument_and_the_cli_its_flag(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    manifest = _manifest(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"^device: cuda is not available here"):
        run_batch(manifest, out, device="cuda")
    assert main(["batch", str(manifest), "--out", str(out), "--device", "cuda"]) == 2
    assert _one_error_line(capsys).startswith("error: --device: cuda is not available here")
    assert not out.exists()
