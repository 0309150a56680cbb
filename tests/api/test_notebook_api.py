"""The notebook API: a run's analyses as methods (`run.score`, `run.generate`, `run.couplings`,
`run.latent`) returning results with `to_frame`, `plot` and `save`, the same numbers and files as
the commands; `aln.weighted(theta)`; bad input as a `ValueError` naming the field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import seqvae
from seqvae.cli.main import main
from seqvae.errors import ConfigError, InputError
from test_api_outputs import _mutation_table, same_folder
from test_api_outputs import tiny_run as tiny_run


@pytest.fixture(scope="module")
def run(tiny_run):
    root, _ = tiny_run
    return seqvae.load(root / "run")


def short(result) -> None:
    """One line without arrays, and a small table in a notebook."""
    text = repr(result)
    assert len(text) < 240 and "\n" not in text and "array" not in text and "[" not in text, text
    assert result._repr_html_().startswith("<table>")


def test_load_gives_the_run_with_the_analyses(run):
    assert isinstance(run, seqvae.Run) and isinstance(run, seqvae.run.Run)
    assert all(callable(getattr(run, name)) for name in ("score", "generate", "couplings", "latent"))
    assert issubclass(InputError, ValueError) and issubclass(ConfigError, ValueError)


def test_dir_lists_the_lazy_names_before_their_first_use(monkeypatch):
    """Tab completion: ``dir(seqvae)`` lists a public name that is not imported yet."""
    if "fit_labels" in vars(seqvae):  # imported by an earlier test: forget it for this one
        monkeypatch.delattr(seqvae, "fit_labels")
    assert "fit_labels" not in vars(seqvae) and "fit_labels" in dir(seqvae)
    assert set(seqvae.__all__) <= set(dir(seqvae))
    assert callable(seqvae.fit_labels)  # imported on first use


def test_score_a_dataframe_as_the_command_does(run, tiny_run, tmp_path):
    root, _ = tiny_run
    table = _mutation_table(tmp_path / "mutants.csv")
    cli, api = tmp_path / "cli", tmp_path / "api"
    flags = ["--score-col", "fitness", "--label-col", "label", "--samples", "4", "--seed", "1"]
    assert main(["score", str(root / "run"), str(table), *flags, "--out", str(cli / "scores.csv")]) == 0

    scan = pd.read_csv(table)
    result = run.score(scan, score_column="fitness", label_column="label", samples=4, seed=1)
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(scan)
    assert list(frame["mutant"]) == list(scan["mutant"]) and frame["score"].notna().all()
    assert frame.equals(pd.read_csv(cli / "scores.csv"))  # the command's numbers
    assert result.evaluation is not None and -1 <= result.evaluation.spearman <= 1
    # a path: the folder holds the command's files, byte for byte (a DataFrame's own columns
    # are written back as pandas formats them: the same numbers, maybe other digits)
    from_path = run.score(table, score_column="fitness", label_column="label", samples=4, seed=1)
    assert from_path.to_frame().equals(frame)
    from_path.save(api)
    from_path.save_figures(api)
    same_folder(cli, api)
    short(result)
    assert "rho = " in repr(result) and "Spearman rho" in result._repr_html_()


def test_plot_returns_a_figure_and_draws_into_a_given_ax(run, tmp_path):
    result = run.score(_mutation_table(tmp_path / "m.csv"), score_column="fitness", samples=4)
    fig = result.plot()
    assert isinstance(fig, Figure) and fig.axes and fig._repr_png_().startswith(b"\x89PNG")
    mine = Figure()
    left, right = mine.subplots(1, 2)
    assert result.plot(ax=right) is mine  # an ax of another figure is fine
    assert right.collections and not left.collections


def test_score_in_the_proteingym_format(run, tmp_path):
    scan = pd.read_csv(_mutation_table(tmp_path / "m.csv"))
    table = run.score(scan, score_column="fitness", output_format="proteingym", samples=4).to_frame()
    assert {"mutant", "mutated_sequence", "DMS_score"} <= set(table.columns)
    assert np.allclose(table["DMS_score"], scan["fitness"])
    unevaluated = run.score(scan, samples=4)
    assert unevaluated.evaluation is None and len(unevaluated.to_frame()) == len(scan)
    with pytest.raises(ValueError, match="score_column"):
        unevaluated.plot()
    assert unevaluated.save_figures(tmp_path / "none") == {}


def test_score_with_eves_sign(run, tmp_path):
    """``sign="eve"`` gives EVE's evolutionary index (the fitness score negated), as ``seqvae score
    --sign eve`` does, and the report says which sign its numbers carry."""
    scan = pd.read_csv(_mutation_table(tmp_path / "m.csv"))
    fitness = run.score(scan, score_column="fitness", samples=4)
    eve = run.score(scan, score_column="fitness", samples=4, sign="eve")
    assert eve.sign == "eve" and fitness.sign == "fitness"
    np.testing.assert_allclose(eve.to_frame()["score"], -fitness.to_frame()["score"], rtol=1e-6)
    assert eve.evaluation.spearman == pytest.approx(-fitness.evaluation.spearman)


def test_score_bad_input_names_the_field(run, tmp_path):
    scan = pd.read_csv(_mutation_table(tmp_path / "m.csv"))
    cases = [
        (dict(scan=scan.rename(columns={"mutant": "variant"})), "variant_column", "no 'mutant'"),
        (dict(scan=scan, variant_column="variant"), "variant_column", "no column 'variant'"),
        (dict(scan=scan, score_column="DMS_score"), "score_column", "no column 'DMS_score'"),
        (dict(scan=scan, output_format="csv"), "output_format", "seqvae, proteingym"),
        (dict(scan=scan, sampels=4), "scoring.sampels", "did you mean 'samples'"),
        (dict(scan=scan, samples=0), "scoring.samples", "samples"),
    ]
    for kwargs, field, fragment in cases:
        with pytest.raises(ValueError) as caught:
            run.score(kwargs.pop("scan"), **kwargs)
        error = caught.value
        assert isinstance(error, ConfigError) and error.field == field, (field, error)
        assert fragment in str(error) and "\n" not in str(error) and "--" not in str(error)
    # a bad row of a DataFrame: named as the DataFrame's row, not a temporary file
    broken = scan.astype({"fitness": object})
    broken.loc[3, "fitness"] = "high"
    with pytest.raises(InputError) as caught:
        run.score(broken, score_column="fitness")
    message = str(caught.value)
    assert message.startswith("the DataFrame") and "(row 3)" in message and "tmp" not in message, message
    with pytest.raises(InputError, match="file not found"):
        run.score(tmp_path / "missing.csv")


def test_generate_as_the_command_does(run, tiny_run, tmp_path):
    root, _ = tiny_run
    cli, api = tmp_path / "cli", tmp_path / "api"
    assert (
        main(["generate", str(root / "run"), "-n", "6", "--seed", "2", "--out", str(cli / "designs.fasta")])
        == 0
    )
    designs = run.generate(6, seed=2)
    assert len(designs.to_frame()) == 6
    designs.save(api)
    designs.save_figures(api)
    same_folder(cli, api)
    assert isinstance(designs.plot(), Figure)
    short(designs)
    assert repr(designs).startswith("SequenceSet(designs = 6, L = ")
    path = run.generate(interpolate=("s0", "s1"), steps=4)
    assert isinstance(path.plot(), Figure) and set(path.save_figures(tmp_path / "path")) == {"figure"}
    with pytest.raises(ConfigError, match="did you mean 'temperature'") as caught:
        run.generate(4, temprature=0.5)
    assert caught.value.field == "generation.temprature"


def test_couplings_rank_the_matrix(run, tiny_run, tmp_path):
    root, _ = tiny_run
    cli, api = tmp_path / "cli", tmp_path / "api"
    assert main(["couplings", str(root / "run"), "--out", str(cli), "--n-ref", "4"]) == 0
    result = run.couplings(n_references=4)
    pairs = result.to_frame()
    length = result.matrix.shape[0]
    assert (
        list(pairs.columns) == ["i", "A_i", "j", "A_j", "score"] and len(pairs) == length * (length - 1) // 2
    )
    assert pairs["score"].is_monotonic_decreasing
    upper = np.triu(result.matrix, k=1)
    top = np.unravel_index(np.argmax(upper), upper.shape)
    numbering, reference = run.registry.numbering, run.registry.reference_sequence
    assert (pairs.loc[0, "i"], pairs.loc[0, "j"]) == (numbering[top[0]], numbering[top[1]])
    assert pairs.loc[0, "A_i"] == reference[top[0]] and pairs.loc[0, "score"] == upper[top]
    result.save(api)
    result.save_figures(api)
    same_folder(cli, api)
    assert isinstance(result.plot(), Figure)
    short(result)
    assert f"{pairs.loc[0, 'A_i']}{pairs.loc[0, 'i']}-" in repr(result)


def test_latent_with_a_phenotype_frame(run, tmp_path):
    ids = run.training_alignment().ids
    rng = np.random.default_rng(0)
    phenotypes = pd.DataFrame({"id": ids, "activity": rng.normal(size=len(ids))})
    report = run.latent(phenotypes=phenotypes, folds=3)
    frame = report.to_frame()
    assert len(frame) == len(ids) and "activity" in frame and "z_mean_0" in frame
    assert list(report.columns) == ["activity"]
    short(report)
    assert repr(report).endswith("columns = activity)")
    assert isinstance(report.plot(), Figure) and isinstance(report.plot(column="activity"), Figure)
    figures = report.save_figures(tmp_path / "figures")  # what `seqvae latent` draws, by file stem
    assert {"latent_activity", "latent_density"} <= set(figures)
    assert all(
        path == tmp_path / "figures" / f"{stem}.png" and path.stat().st_size for stem, path in figures.items()
    )
    mine = Figure()
    ax = mine.subplots(1, 2)[1]
    assert report.plot(ax=ax) is mine
    with pytest.raises(ValueError, match="column: 'size' was not analysed"):
        report.plot(column="size")
    with pytest.raises(ConfigError) as caught:
        run.latent(phenotypes=phenotypes.rename(columns={"id": "name"}))
    assert caught.value.field == "id_column"


def test_alignment_weighted(tiny_run):
    _, fasta = tiny_run
    aln = seqvae.read_alignment(fasta)
    weighted = aln.weighted(0.2)
    expected = seqvae.compute_sequence_weights(aln.codes, aln.alphabet.gap_code, 0.2)
    assert np.array_equal(weighted.weights, expected) and weighted.theta == 0.2
    assert weighted.n_eff < aln.n_sequences and aln.weighted(None).n_eff == aln.n_sequences
    with pytest.raises(ValueError, match="theta must be a number in") as caught:
        aln.weighted(2.0)
    assert caught.value.field == "theta"
