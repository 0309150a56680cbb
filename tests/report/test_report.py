"""The report renders in headless Chromium with no console errors and no network requests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import seqvae
from seqvae.data.alignment import alignment_from_sequences

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))
    centres = rng.integers(0, 20, size=(2, 24))
    rows = []
    for i in range(120):
        row = centres[i % 2].copy()
        flips = rng.random(24) < 0.15
        row[flips] = rng.integers(0, 21, size=flips.sum())
        rows.append("".join(letters[row]))
    aln = alignment_from_sequences(rows)
    cfg = seqvae.preset_config("explore").updated(
        {"training.max_steps": 60, "training.eval_every": 20, "training.batch_size": 32}
    )
    out = tmp_path_factory.mktemp("run") / "run"
    return seqvae.train(aln, cfg, out=out, progress=False)


@pytest.fixture(scope="module")
def plain_report(small_run, tmp_path_factory) -> Path:
    """The small run's report with nothing included, read by the tests below."""
    from seqvae.report import build_report

    return build_report(small_run.path, tmp_path_factory.mktemp("plain_report") / "report.html")


def test_report_sections_and_self_contained(plain_report):
    html = plain_report.read_text()
    for title in ("Data", "Training", "Latent space", "Configuration and software"):
        assert f">{title}</h2>" in html
    # nothing that would reach the network: no http(s) sources, styles or scripts
    assert 'src="http' not in html and 'href="http' not in html and "@import" not in html
    assert html.count("data:image/png;base64,") >= 2


def test_report_in_headless_chromium(plain_report):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required under CI (.ci/run installs it)")
        pytest.skip("Chromium not installed: apt-get install chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    outside: list[str] = []
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "request",
            lambda req: outside.append(req.url) if not req.url.startswith(("file://", "data:")) else None,
        )
        page.goto(plain_report.resolve().as_uri())
        page.wait_for_load_state("load")
        n_images = page.eval_on_selector_all("img", "els => els.filter(e => e.naturalWidth > 0).length")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert outside == []
    assert n_images >= 2
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_included_analysis_folder_gets_its_section(small_run, tmp_path):
    import json

    from seqvae.plots.style import new_figure, save_figure
    from seqvae.report import build_report

    folder = tmp_path / "designs_eval"
    folder.mkdir()
    fig, axes = new_figure()
    axes[0, 0].plot([0, 1], [0, 1])
    save_figure(fig, folder / "statistics.png")
    (folder / "per_design.csv").write_text("id,hamming\nd1,3\n")
    (folder / "summary.json").write_text(json.dumps({"single_site": {"pearson_r": 0.91}}))
    html = build_report(small_run.path, tmp_path / "r.html", include=[folder]).read_text()
    assert ">Generated sequences</h2>" in html
    assert "single_site.pearson_r" in html and "0.91" in html
    # an analysis whose results are absent gets no section
    assert "Statistical Coupling Analysis" not in html


def test_report_bad_include_is_an_input_error(small_run, tmp_path):
    from seqvae.cli.main import main

    code = main(
        [
            "report",
            str(small_run.path),
            "--include",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "r.html"),
        ]
    )
    assert code == 2
    assert not (tmp_path / "r.html").exists()


def test_scored_scan_gets_a_scatter_with_rho(small_run, tmp_path):
    """`seqvae score --score-col` writes a summary and scatter; the report draws the scatter with ρ."""
    import json

    import pandas as pd

    from seqvae.cli.main import main
    from seqvae.report import build_report

    registry = small_run.registry
    residues = registry.alphabet.residues
    rng = np.random.default_rng(1)
    rows = []
    for column, number in enumerate(registry.numbering):
        wild_type = registry.reference_sequence[column]
        if number < 0 or wild_type not in residues:
            continue
        for residue in rng.choice([r for r in residues if r != wild_type], size=3, replace=False):
            rows.append({"mutant": f"{wild_type}{number}{residue}", "fitness": rng.normal()})
    folder = tmp_path / "scan"
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "dms.csv", index=False)
    out = folder / "scores.csv"
    arguments = ["score", str(small_run.path), str(folder / "dms.csv"), "--score-col", "fitness"]
    assert main([*arguments, "--threads", "0", "--out", str(out)]) == 2
    assert not out.exists()
    threads = torch.get_num_threads()
    assert main([*arguments, "--samples", "4", "--threads", "1", "--out", str(out)]) == 0
    assert torch.get_num_threads() == threads  # --threads applies to the command only
    summary = json.loads((folder / "scores_summary.json").read_text())
    assert summary["scores_file"] == "scores.csv" and summary["n_scored"] == len(rows)
    assert (folder / "scores_scatter.png").stat().st_size > 5_000
    html = build_report(small_run.path, tmp_path / "r.html", include=[folder]).read_text()
    assert ">Mutation effects</h2>" in html
    assert f"{summary['spearman']:.4f}".rstrip("0") in html
    assert "mutation scores vs fitness" in html


def test_structure_aware_scores_and_the_burial_strip_reach_the_report(small_run, tmp_path):
    """`seqvae score --structure`: the report's table gets the structure-aware ρ, the heatmap's
    caption the burial strip."""
    import pandas as pd

    from builders import write_chain
    from seqvae.cli.main import main
    from seqvae.report import build_report

    registry = small_run.registry
    residues = "".join(c for c in registry.reference_raw if c.isalpha()).upper()
    folder = tmp_path / "scan"
    folder.mkdir()
    chain = write_chain(residues, tmp_path / "model.pdb")
    rng = np.random.default_rng(2)
    rows = [
        {"mutant": f"{wt}{number}{'A' if wt != 'A' else 'G'}", "fitness": rng.normal()}
        for wt, number in zip(registry.reference_sequence, registry.numbering)
        if number >= 0
    ]
    pd.DataFrame(rows).to_csv(folder / "dms.csv", index=False)
    common = ["--samples", "4", "--structure", str(chain)]
    score = ["score", str(small_run.path), str(folder / "dms.csv"), "--score-col", "fitness"]
    assert main([*score, *common, "--out", str(folder / "scores.csv")]) == 0
    singles = ["score", str(small_run.path), "--all-singles", *common, "--out", str(folder / "singles.csv")]
    assert main(singles) == 0
    html = build_report(small_run.path, tmp_path / "r.html", include=[folder]).read_text()
    assert "structure-aware ρ" in html and f"{len(rows)} of {len(rows)} positions" in html
    assert "The strip under it is the burial of each position" in html
