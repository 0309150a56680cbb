"""The notebook tour (docs/tour.md) runs, cell by cell, in a real Jupyter kernel: no cell fails,
`run.score` gives a DataFrame-backed result whose `plot()` displays inline as a PNG, and the
wrong protein's scan is refused by name."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT, shared_file

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


def execute(notebook, folder: Path, monkeypatch) -> None:
    """Run ``notebook`` in a python3 Jupyter kernel in ``folder``, importing this checkout's seqvae."""
    from nbclient import NotebookClient

    source = str(PROJECT_ROOT / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()


def test_a_score_displays_inline_without_pyplot(tmp_path, monkeypatch):
    """The shortest notebook, on a toy family: `run.score(DataFrame)` shows a DataFrame and
    `plot()` a PNG, with pyplot never imported (seqvae's figures display themselves)."""
    import nbformat
    import numpy as np

    from builders import TINY, write_family

    family = write_family(tmp_path / "family.fasta")
    reference = family.read_text().splitlines()[1]
    rng = np.random.default_rng(0)
    rows = [f"{wt}{i + 1}{'A' if wt != 'A' else 'G'},{rng.normal():.3f}" for i, wt in enumerate(reference)]
    (tmp_path / "scan.csv").write_text("mutant,fitness\n" + "\n".join(rows) + "\n")
    steps = TINY[TINY.index("--max-steps") + 1]
    cells = [
        "import sys\nimport pandas as pd\nimport seqvae",
        'config = seqvae.preset_config("explore").updated({"model.encoder_hidden": [16], '
        f'"model.decoder_hidden": [16], "training.max_steps": {steps}, "training.batch_size": 16}})\n'
        'run = seqvae.train("family.fasta", config, out="run", progress=False)',
        'result = run.score(pd.read_csv("scan.csv"), score_column="fitness", samples=4)\nresult',
        "result.to_frame()",
        "result.plot()",
        'print("matplotlib.pyplot" in sys.modules)',
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    execute(notebook, tmp_path, monkeypatch)
    outputs = [cell.outputs for cell in notebook.cells]
    assert not [o for cell in outputs for o in cell if o.output_type == "error"]
    assert outputs[2][0].data["text/plain"].startswith("ScoringReport('run', ")
    assert "<table" in outputs[3][0].data["text/html"] and "fitness" in outputs[3][0].data["text/plain"]
    assert "image/png" in outputs[4][0].data
    assert outputs[5][0].text.strip() == "False"


@pytest.mark.shared_data
def test_the_tour_runs_in_a_jupyter_kernel(tmp_path, monkeypatch):
    data = shared_file("blat/BLAT_ECOLX_test.a2m").parents[1]
    shared_file("sh3/sh3_59_phenotypes.csv")
    notebook = tour_notebook(data)
    execute(notebook, tmp_path, monkeypatch)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
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
