"""The notebook tour (docs/tour.md) runs, cell by cell, in a real Jupyter kernel: no cell fails,
`run.score` gives a DataFrame-backed result whose `plot()` displays inline as a PNG, and the
wrong protein's scan is refused by name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, SHARED_DATA, shared_file

TOUR = PROJECT_ROOT / "docs" / "tour.md"
DATA_LINE = 'DATA = Path("../shared/data")'
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def tour_notebook(data: Path):
    """The tour as a notebook: its prose as markdown cells, each ``python`` block a code cell
    (the data folder made absolute, as the kernel runs in a scratch folder)."""
    import nbformat

    text = TOUR.read_text(encoding="utf-8")
    assert DATA_LINE in text
    cells, last = [], 0
    for match in FENCE.finditer(text):
        prose = text[last : match.start()].strip()
        if prose:
            cells.append(nbformat.v4.new_markdown_cell(prose))
        code = match.group(1).strip().replace(DATA_LINE, f"DATA = Path({str(data)!r})")
        cells.append(nbformat.v4.new_code_cell(code))
        last = match.end()
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def execute(notebook, folder: Path) -> None:
    """Run ``notebook`` in a python3 Jupyter kernel in ``folder``, importing this checkout's seqvae;
    a failing cell shows as an ``error`` output (the tests look for them) and the rest still run."""
    from nbclient import NotebookClient

    source = str(PROJECT_ROOT / "src")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
        )
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(folder)}},
        ).execute()


def short_notebook_cells(folder: Path) -> list[str]:
    """The shortest notebook, on a toy family written to ``folder``: train, score a DataFrame,
    show it and its plot, then say whether pyplot was imported."""
    import numpy as np

    from builders import TINY, write_family

    family = write_family(folder / "family.fasta")
    reference = family.read_text().splitlines()[1]
    rng = np.random.default_rng(0)
    rows = [f"{wt}{i + 1}{'A' if wt != 'A' else 'G'},{rng.normal():.3f}" for i, wt in enumerate(reference)]
    (folder / "scan.csv").write_text("mutant,fitness\n" + "\n".join(rows) + "\n")
    steps = TINY[TINY.index("--max-steps") + 1]
    return [
        "import sys\nimport pandas as pd\nimport seqvae",
        'config = seqvae.preset_config("explore").updated({"model.encoder_hidden": [16], '
        f'"model.decoder_hidden": [16], "training.max_steps": {steps}, "training.batch_size": 16}})\n'
        'run = seqvae.train("family.fasta", config, out="run", progress=False)',
        'result = run.score(pd.read_csv("scan.csv"), score_column="fitness", samples=4)\nresult',
        "result.to_frame()",
        "result.plot()",
        'print("matplotlib.pyplot" in sys.modules)',
    ]


TOUR_DATA = ("blat/BLAT_ECOLX_test.a2m", "sh3/sh3_59_phenotypes.csv")


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """One Jupyter kernel (its start and seqvae's imports are most of a short notebook's time)
    runs the shortest notebook and then, where ../shared/data holds its files, the tour from an
    empty namespace (``%reset``). Returns the folder and the two parts' code cells."""
    import nbformat

    folder = tmp_path_factory.mktemp("kernel")
    short = [nbformat.v4.new_code_cell(code) for code in short_notebook_cells(folder)]
    tour = []
    if all((SHARED_DATA / name).exists() for name in TOUR_DATA):
        tour = tour_notebook(SHARED_DATA).cells
    reset = [nbformat.v4.new_code_cell("%reset -f")] if tour else []
    notebook = nbformat.v4.new_notebook(cells=[*short, *reset, *tour])
    execute(notebook, folder)
    return folder, short, [cell for cell in tour if cell.cell_type == "code"]


def test_a_score_displays_inline_without_pyplot(kernel_run):
    """The shortest notebook, on a toy family: `run.score(DataFrame)` shows a DataFrame and
    `plot()` a PNG, with pyplot never imported (seqvae's figures display themselves)."""
    _, short, _ = kernel_run
    outputs = [cell.outputs for cell in short]
    assert not [o for cell in outputs for o in cell if o.output_type == "error"]
    assert outputs[2][0].data["text/plain"].startswith("ScoringReport('run', ")
    assert "<table" in outputs[3][0].data["text/html"] and "fitness" in outputs[3][0].data["text/plain"]
    assert "image/png" in outputs[4][0].data
    assert outputs[5][0].text.strip() == "False"


@pytest.mark.shared_data
def test_the_tour_runs_in_a_jupyter_kernel(kernel_run):
    for name in TOUR_DATA:
        shared_file(name)
    tmp_path, _, code = kernel_run
    assert code  # the tour ran
    outputs = [output for cell in code for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]

    def cell(fragment: str):
        (found,) = [c for c in code if c.source.startswith(fragment)]
        return found

    def result(fragment: str) -> dict:
        (out,) = [o for o in cell(fragment).outputs if o.output_type == "execute_result"]
        return out.data

    # run.score: a one-line result, a DataFrame of the scan's rows, a PNG shown inline
    assert result("scan = pd.read_csv")["text/plain"].startswith("ScoringReport('blat', ")
    table = result("scores.to_frame()")
    assert "text/html" in table and "dataframe" in table["text/html"]
    assert "image/png" in result("scores.plot()")
    rho = float(re.search(r"rho = (-?[0-9.]+)", result("scan = pd.read_csv")["text/plain"]).group(1))
    assert rho > 0.2, rho  # even a minute's model ranks the ampicillin scan (0.42 when written)
    assert "scores.csv" in result("scores.save(")["text/plain"]
    assert "image/png" in result("fig, (left, right)")
    assert "image/png" in result("latent.plot(") and "image/png" in result("designs.plot()")
    assert list(result("couplings = ")["text/plain"].split("\n")[0].split()) == [
        "i",
        "A_i",
        "j",
        "A_j",
        "score",
    ]
    assert "RE_norm" in result("latent = sh3_run.latent")["text/plain"]
    refusal = "".join(o.get("text", "") for o in cell("try:\n    sh3_run.score").outputs)
    assert "reference 0_jgi||155364||Lysophosphatidic (residues 1-58)" in refusal, refusal
    assert refusal.count("\n") == 1 and "line" not in refusal and "tmp" not in refusal
    missing = "".join(o.get("text", "") for o in cell("try:\n    run.score(scan.rename").outputs)
    assert "variant_column" in missing and missing.count("\n") == 1
    assert (tmp_path / "blat_scores" / "scores_scatter.png").is_file()
