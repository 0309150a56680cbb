"""Install like a library: ``python -m build`` gives an sdist and a wheel (built from the sdist)
that install in a fresh virtual environment and work outside the repository: the command line
(`seqvae demo` from another folder) and the API in a Jupyter kernel of that environment.

No network: the build uses this environment's setuptools (``--no-isolation``), and the fresh
venv sees this environment's packages (torch, numpy, ...) through a ``.pth`` line, so pip
resolves seqvae's dependencies against them (``--no-index``) instead of downloading a torch.
The .pth line adds a plain folder to ``sys.path`` without running its own ``.pth`` files, so a
development install of seqvae here (an editable finder) is not importable there: seqvae comes
from the wheel or not at all, which the test checks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA = [f"seqvae/experiments/configs/{name}.yaml" for name in ("compression", "simpson")]


# the fresh venv must not see this checkout through PYTHONPATH (the tests run with src on it)
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def run(args, cwd, timeout=300) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=CLEAN_ENV,
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
    return done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs the dev extra's build")
def test_wheel_and_sdist_install_in_a_fresh_venv_and_run_outside_the_repository(tmp_path):
    # a copy of what the sdist is made from, so that building leaves nothing in the repository
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "CITATION.cff", "MANIFEST.in"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    # without --sdist/--wheel, build makes the sdist and then the wheel from the unpacked sdist
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, source], cwd=tmp_path)
    (sdist,), (wheel,) = dist.glob("seqvae-*.tar.gz"), dist.glob("seqvae-*.whl")
    with tarfile.open(sdist) as archive:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "CITATION.cff", "README.md", "pyproject.toml"} <= names
    assert {f"src/{p}" for p in PACKAGE_DATA} <= names
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert set(PACKAGE_DATA) <= names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert "seqvae = seqvae.cli.main:run" in entry_points

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
    (Path(site.strip()) / "outer_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run(
        [python, "-c", "import seqvae"], capture_output=True, cwd=tmp_path, check=False, env=CLEAN_ENV
    )
    assert probe.returncode != 0  # not importable before the wheel is installed
    run([python, "-m", "pip", "install", "--no-index", wheel], cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([python, "-c", "import seqvae; print(seqvae.__file__)"], elsewhere)
    assert Path(where.strip()).is_relative_to(venv), where
    configs = "from seqvae.experiments.registry import shipped_config_path as p; print(p('simpson').read_text()[:40])"
    assert run([python, "-c", configs], elsewhere).strip()
    seqvae = venv / "bin" / "seqvae"
    assert "Usage" in run([seqvae, "--help"], elsewhere)
    args = ["demo", "--out", "demo", "--samples", "120", "--steps", "5", "--no-progress"]
    run([seqvae, *args], elsewhere)
    assert (elsewhere / "demo" / "latent.png").stat().st_size > 0
    assert (elsewhere / "demo" / "run" / "model.safetensors").exists()

    # a Jupyter kernel of the fresh venv: run.score gives a DataFrame-backed result whose plot()
    # displays inline (a PNG output), with this seqvae coming from the wheel
    cells = [
        "import pandas as pd, seqvae\nprint(seqvae.__file__)",
        'run = seqvae.load("demo/run")\n'
        "pairs = list(zip(run.registry.numbering, run.registry.reference_sequence))[:20]\n"
        "scan = pd.DataFrame({'mutant': [f\"{a}{i}{'A' if a != 'A' else 'G'}\" for i, a in pairs],\n"
        "                     'fitness': range(len(pairs))})\n"
        'result = run.score(scan, score_column="fitness", samples=4)\nresult.to_frame()',
        "result.plot()",
    ]
    script = (
        "import sys, nbformat\nfrom nbclient import NotebookClient\n"
        f"nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in {cells!r}])\n"
        'NotebookClient(nb, timeout=300, kernel_name="python3").execute()\n'
        "nbformat.write(nb, 'tour.ipynb')\n"
    )
    run([python, "-c", script], elsewhere)
    notebook = nbformat.read(elsewhere / "tour.ipynb", as_version=4)
    outputs = [cell.outputs for cell in notebook.cells]
    assert not [o for cell in outputs for o in cell if o.output_type == "error"]
    assert Path(outputs[0][0].text.strip()).is_relative_to(venv)
    assert "text/html" in outputs[1][0].data and "fitness" in outputs[1][0].data["text/plain"]
    assert "image/png" in outputs[2][0].data
