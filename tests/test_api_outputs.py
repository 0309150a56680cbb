"""The CLI outputs of couplings, compare, contacts, latent, sca, generate, evaluate-samples and score rebuilt
from the Python API alone: results save themselves (data files), plots draw them (figures), byte for byte
apart from timings; a changed setting shows in the comparison (contacts, latent)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import seqvae
from builders import toy_fasta as _toy_fasta
from seqvae.analysis.compare import compare_matrices
from seqvae.analysis.couplings import CouplingOptions, vae_couplings
from seqvae.cli.main import main
from seqvae.io.matrix_file import load_matrix_npz, save_matrix_npz
from seqvae.plots.matrices import plot_comparison, plot_coupling_matrix
from seqvae.report.sections import _holds

TIMINGS = {"elapsed_s", "neighbours_per_s", "timings_s", "seconds"}


def same_folder(cli_dir, api_dir) -> None:
    cli_files = sorted(p.name for p in cli_dir.iterdir())
    assert cli_files and cli_files == sorted(p.name for p in api_dir.iterdir())
    for name in cli_files:
        a, b = (cli_dir / name).read_bytes(), (api_dir / name).read_bytes()
        if name.endswith(".json"):
            a, b = ({k: v for k, v in json.loads(x).items() if k not in TIMINGS} for x in (a, b))
        # a plain bool: pytest would otherwise diff the two contents for the message, and under
        # CI=true (no truncation) that diff of a CSV or PNG takes minutes in the spot checks
        same = a == b
        assert same, f"{name} differs"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    fasta = _toy_fasta(root / "toy.fasta")
    cfg = seqvae.preset_config("explore").updated(
        {"model.encoder_hidden": [16], "model.decoder_hidden": [16], "training.max_steps": 5,
         "training.eval_every": 5, "training.batch_size": 16}
    )  # fmt: skip
    seqvae.train(fasta, cfg, out=root / "run", progress=False)
    return root, fasta


@pytest.mark.parametrize("with_alignment", [False, True], ids=["training-set", "alignment"])
def test_couplings_folder_from_the_api(tiny_run, tmp_path, with_alignment):
    root, fasta = tiny_run
    cli, api = tmp_path / "cli_couplings", tmp_path / "api_couplings"
    references = [str(fasta)] if with_alignment else []
    assert main(["couplings", str(root / "run"), *references, "--out", str(cli), "--n-ref", "4"]) == 0
    run = seqvae.load(root / "run")
    result = vae_couplings(run, fasta if with_alignment else None, None, CouplingOptions(n_references=4))
    result.save(api, run)
    plot_coupling_matrix(result, api)
    same_folder(cli, api)


def test_compare_folder_from_the_api(tiny_run, tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 14, 14))
    save_matrix_npz(tmp_path / "a.npz", a + a.T, numbering=np.arange(1, 15), kind="a")
    save_matrix_npz(tmp_path / "b.npz", b + b.T + a + a.T, numbering=np.arange(1, 15), kind="b")
    cli = tmp_path / "cli_compare"
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--out", str(cli),
                 "--permutations", "20"]) == 0  # fmt: skip
    first, second = load_matrix_npz(tmp_path / "a.npz"), load_matrix_npz(tmp_path / "b.npz")
    comparison, a_sub, b_sub = compare_matrices(first, second, 3, 20, 0, "a", "b")
    comparison.save(tmp_path / "api_compare")
    plot_comparison(comparison, a_sub, b_sub, tmp_path / "api_compare")
    same_folder(cli, tmp_path / "api_compare")


def test_contacts_folder_from_the_api(tmp_path):
    from builders import HAIRPIN_REFERENCE as REFERENCE
    from builders import hairpin_pdb as _hairpin_pdb
    from seqvae.analysis.contacts import CONTACTS_FILE, SECTORS_PML_FILE, analyse_contacts
    from seqvae.plots.matrices import CONTACT_MAP_PNG, plot_contact_map, plot_contacts

    rng = np.random.default_rng(3)
    m = rng.random((14, 14))
    groups = np.array([1, 1, 1, 0, 0, 2, 2, 2, 0, 0, 0, 1, 0, 2])
    save_matrix_npz(tmp_path / "m.npz", m + m.T, numbering=np.arange(1, 15), residues=REFERENCE,
                    kind="test", ic_group=groups)  # fmt: skip
    pdb = _hairpin_pdb(tmp_path / "toy.pdb")
    cli, api, other = tmp_path / "cli", tmp_path / "api", tmp_path / "other"
    flags = ["--random-sets", "30", "--apc", "--min-separation", "3", "--distance", "cb"]
    assert main(["contacts", str(tmp_path / "m.npz"), "--pdb", str(pdb), "--out", str(cli), *flags]) == 0
    settings = {"random_sets": 30, "apc": True, "min_separation": 3, "distance": "cb"}
    analysis = analyse_contacts(tmp_path / "m.npz", pdb, **settings)
    analysis.save(api)
    plot_contacts(analysis, api)
    same_folder(cli, api)
    assert sorted(p.name for p in api.iterdir()) == sorted([CONTACTS_FILE, SECTORS_PML_FILE, CONTACT_MAP_PNG])
    assert json.loads((api / CONTACTS_FILE).read_text())["clusters"][0]["name"] == "IC1"
    # the same map from its parts, at the analysis's threshold
    parts = (analysis.positions, analysis.structure_map, analysis.distances, analysis.result)
    from_parts = plot_contact_map(*parts, tmp_path / "map.png", threshold=analysis.settings["threshold"])
    assert from_parts.read_bytes() == (api / CONTACT_MAP_PNG).read_bytes()
    # the comparison sees a changed setting
    changed = analyse_contacts(tmp_path / "m.npz", pdb, **{**settings, "min_separation": 4})
    changed.save(other)
    plot_contacts(changed, other)
    with pytest.raises(AssertionError):
        same_folder(cli, other)


def test_latent_folder_from_the_api(tiny_run, tmp_path):
    from dataclasses import replace

    import pandas as pd

    from seqvae.analysis.latent_report import (
        LATENT_COORDINATES_FILE,
        LATENT_METRICS_FILE,
        LatentOptions,
        analyse_latent,
    )
    from seqvae.plots.latent import LOCALISATION_PNG, write_latent_report

    root, fasta = tiny_run
    rng = np.random.default_rng(4)
    ids = [line[1:].strip() for line in fasta.read_text().splitlines() if line.startswith(">")]
    phenotypes = tmp_path / "phenotypes.csv"
    pd.DataFrame(
        {
            "id": ids[:-3],
            "score": rng.normal(size=len(ids) - 3),
            "clade": rng.choice(list("abc"), len(ids) - 3),
        }
    ).to_csv(phenotypes, index=False)
    cli, api, other = tmp_path / "cli", tmp_path / "api", tmp_path / "other"
    flags = ["-p", str(phenotypes), "-c", "score", "-c", "clade", "--permutations", "19", "--min-group-size",
             "10", "--pcs", "4", "--clusters", "2", "--seed", "2"]  # fmt: skip
    assert main(["latent", str(root / "run"), str(fasta), *flags, "--out", str(cli)]) == 0
    options = LatentOptions(n_permutations=19, min_group_size=10, n_pcs=4, n_clusters=2, seed=2)
    run = seqvae.load(root / "run")
    report = analyse_latent(run, fasta, phenotypes, color_columns=["score", "clade"], options=options)
    report.save(api)
    write_latent_report(report, api)
    same_folder(cli, api)
    names = {p.name for p in api.iterdir()}
    assert {LATENT_METRICS_FILE, LATENT_COORDINATES_FILE, LOCALISATION_PNG, "latent_clade.png"} <= names
    assert any(name.startswith("simpson_score_") for name in names)
    # the comparison sees a changed setting
    changed = analyse_latent(
        run, fasta, phenotypes, color_columns=["score", "clade"], options=replace(options, seed=3)
    )
    changed.save(other)
    write_latent_report(changed, other)
    with pytest.raises(AssertionError):
        same_folder(cli, other)


def test_report_tells_a_potts_folder_from_vae_couplings(tiny_run, tmp_path):
    root, fasta = tiny_run
    potts = tmp_path / "potts"
    assert (
        main(
            ["baseline", "fit", str(fasta), "--model", "potts", "--max-iterations", "3", "--out", str(potts)]
        )
        == 0
    )
    assert (potts / "couplings.npz").exists() and not _holds(potts, "couplings.npz")
    assert main(["couplings", str(root / "run"), "--out", str(tmp_path / "vae"), "--n-ref", "2"]) == 0
    assert _holds(tmp_path / "vae", "couplings.npz")


def test_sca_folder_from_the_api(tiny_run):
    from seqvae.analysis.sca import SCAOptions, run_sca
    from seqvae.data.alignment import read_alignment
    from seqvae.plots.matrices import plot_sca

    root, fasta = tiny_run
    flags = ["--randomisations", "2", "--stability-seeds", "2", "--min-identity", "0", "--max-identity", "1"]
    assert main(["sca", str(fasta), "--out", str(root / "cli_sca"), *flags]) == 0
    options = SCAOptions(
        n_randomisations=2, n_stability_seeds=2, min_identity=0.0, max_identity=1.0
    ).validate()
    result = run_sca(read_alignment(fasta, nonstandard="drop"), options, None)
    result.save(root / "api_sca")
    plot_sca(result, root / "api_sca")
    same_folder(root / "cli_sca", root / "api_sca")
    # to_dict and to_frame are the summary and the positions table the folder holds
    saved = json.loads((root / "api_sca" / "summary.json").read_text())
    assert json.loads(json.dumps(result.to_dict())) == saved
    assert result.to_frame().to_csv(index=False) == (root / "api_sca" / "positions.csv").read_text()


# -- generate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "options"),
    [
        (["-n", "6", "--elbo-samples", "2"], {"n": 6, "elbo_samples": 2}),
        (
            ["-n", "5", "--argmax", "--region-ids", "s0,s1,s2", "--seed", "3"],
            {"n": 5, "argmax": True, "region_ids": ["s0", "s1", "s2"], "seed": 3},
        ),
        (
            ["-n", "4", "--region-coords", "0.1,-0.2", "--radius", "0.5", "--temperature", "0.7"],
            {"n": 4, "region_coords": [0.1, -0.2], "radius": 0.5, "temperature": 0.7},
        ),
        (["--interpolate", "s0", "s1", "--steps", "4"], {"interpolate": ("s0", "s1"), "steps": 4}),
    ],
    ids=["prior", "region-ids", "region-coords", "interpolate"],
)
def test_generate_files_from_the_api(tiny_run, tmp_path, flags, options):
    from seqvae.analysis.generation import GenerationOptions, generate_designs
    from seqvae.plots.generation import plot_design_figures

    root, _ = tiny_run
    if "--region-coords" in flags and seqvae.load(root / "run").config.model.latent_dim != 2:
        pytest.skip("the coordinates are for a 2-D latent space")
    cli, api = tmp_path / "cli", tmp_path / "api"
    assert main(["generate", str(root / "run"), *flags, "--out", str(cli / "designs.fasta")]) == 0
    designs = generate_designs(seqvae.load(root / "run"), GenerationOptions(**options))
    designs.save(api / "designs.fasta")
    plot_design_figures(designs, api / "designs.fasta")
    same_folder(cli, api)
    assert (api / "designs.png").exists() == ("--interpolate" in flags)


@pytest.fixture(scope="module")
def baselines(tiny_run):
    root, fasta = tiny_run
    for kind, extra in (("site-independent", ["--model-gaps"]), ("potts", ["--max-iterations", "3"])):
        command = ["baseline", "fit", str(fasta), "--model", kind, *extra, "--out", str(root / kind)]
        assert main(command) == 0
    return {kind: root / kind for kind in ("site-independent", "potts")}


@pytest.mark.parametrize(
    ("kind", "flags", "options"),
    [
        ("site-independent", ["-n", "7", "--temperature", "0.8"], {"n": 7, "temperature": 0.8}),
        ("potts", ["-n", "3", "--sweeps", "4", "--seed", "1"], {"n": 3, "sweeps": 4, "seed": 1}),
    ],
)
def test_baseline_samples_from_the_api(baselines, tmp_path, kind, flags, options):
    from seqvae.analysis.generation import GenerationOptions, sample_baseline

    cli, api = tmp_path / "cli", tmp_path / "api"
    assert main(["generate", str(baselines[kind]), *flags, "--out", str(cli / "samples.fasta")]) == 0
    sample_baseline(baselines[kind], GenerationOptions(**options)).save(api / "samples.fasta")
    same_folder(cli, api)


# -- evaluate-samples -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "options", "with_run"),
    [
        (["--r20-sets", "5", "--max-pairs", "300"], {"r20_sets": 5, "max_pairs": 300}, True),
        (
            ["--weighting", "none", "--exclude-gaps", "--r20-flat", "zero", "--r20-sets", "4", "--seed", "2"],
            {"weighting": "none", "include_gaps": False, "r20_flat": "zero", "r20_sets": 4, "seed": 2},
            False,
        ),
    ],
    ids=["run", "no-run"],
)
def test_evaluate_samples_folder_from_the_api(tiny_run, tmp_path, flags, options, with_run):
    from seqvae.analysis.generation import GenerationOptions, generate_designs
    from seqvae.analysis.sample_evaluation import EvaluationOptions, evaluate_sample_files
    from seqvae.plots.generation import plot_sample_evaluation

    root, fasta = tiny_run
    designs = tmp_path / "designs.fasta"
    generate_designs(seqvae.load(root / "run"), GenerationOptions(n=30, elbo_samples=0)).save(designs)
    cli, api = tmp_path / "cli", tmp_path / "api"
    extra = ["--run", str(root / "run")] if with_run else ["--training", str(fasta)]
    command = ["evaluate-samples", str(designs), "--reference", str(fasta), *extra, *flags, "--out", str(cli)]
    assert main(command) == 0
    result = evaluate_sample_files(
        designs,
        fasta,
        EvaluationOptions(**options),
        run=root / "run" if with_run else None,
        training=None if with_run else fasta,
    )
    result.save(api)
    plot_sample_evaluation(result, api)
    same_folder(cli, api)


def test_evaluate_samples_of_a_synthetic_family_from_the_api(tmp_path):
    from seqvae.analysis.sample_evaluation import EvaluationOptions, evaluate_sample_files
    from seqvae.plots.generation import plot_sample_evaluation

    prefix = tmp_path / "am"
    simulate = [
        "simulate",
        "associative-memory",
        "-L",
        "16",
        "-q",
        "4",
        "-K",
        "3",
        "-n",
        "120",
        "--seed",
        "1",
    ]
    assert main([*simulate, "--motifs", "none", "--out", str(prefix)]) == 0
    lines = (tmp_path / "am.fasta").read_text().splitlines(keepends=True)
    (tmp_path / "designs.fasta").write_text("".join(lines[:80]))
    (tmp_path / "natural.fasta").write_text("".join(lines[80:]))
    cli, api = tmp_path / "cli", tmp_path / "api"
    flags = ["--alphabet", "ACDE", "--r20-sets", "4", "--coverage-threshold", "0.7"]
    family = tmp_path / "am_patterns.npz"
    command = [
        "evaluate-samples",
        str(tmp_path / "designs.fasta"),
        "--reference",
        str(tmp_path / "natural.fasta"),
    ]
    assert main([*command, *flags, "--family", str(family), "--out", str(cli)]) == 0
    result = evaluate_sample_files(
        tmp_path / "designs.fasta",
        tmp_path / "natural.fasta",
        EvaluationOptions(r20_sets=4, coverage_threshold=0.7),
        alphabet="ACDE",
        family=family,
    )
    result.save(api)
    plot_sample_evaluation(result, api)
    same_folder(cli, api)
    assert (api / "energies.png").exists()


# -- score ------------------------------------------------------------------------------------------
def _mutation_table(path):
    """Single and double mutants of the toy reference with a measured column and a binary label."""
    from builders import HAIRPIN_REFERENCE as REFERENCE

    rng = np.random.default_rng(5)
    rows = []
    for k in range(40):
        i, j = sorted(rng.choice(len(REFERENCE), size=2, replace=False))
        subs = [f"{REFERENCE[p]}{p + 1}{rng.choice([a for a in 'ACDEFGHIKLMNPQRSTVWY' if a != REFERENCE[p]])}"
                for p in ((i,) if k % 2 else (i, j))]  # fmt: skip
        rows.append(f"{':'.join(subs)},{rng.normal():.4f},{k % 3 == 0:d}")
    path.write_text("mutant,fitness,label\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("ensemble", [False, True], ids=["run", "ensemble"])
def test_score_table_and_evaluation_from_the_api(tiny_run, baselines, tmp_path, ensemble):
    from seqvae.analysis.scoring import ScoringOptions, load_scorers, score_file
    from seqvae.plots.mutations import plot_scoring_report

    root, _ = tiny_run
    table = _mutation_table(tmp_path / "mutants.csv")
    runs = [root / "run", *([baselines["site-independent"]] if ensemble else [])]
    cli, api = tmp_path / "cli", tmp_path / "api"
    flags = ["--score-col", "fitness", "--label-col", "label", "--samples", "4", "--seed", "1"]
    assert main(["score", *map(str, runs), str(table), *flags, "--out", str(cli / "scores.csv")]) == 0
    scorer = load_scorers(runs, ScoringOptions(samples=4, seed=1))
    report = score_file(scorer, table, api / "scores.csv", score_column="fitness", label_column="label")
    report.save()
    plot_scoring_report(report)
    same_folder(cli, api)
    assert sorted(p.name for p in api.iterdir()) == [
        "scores.csv",
        "scores_scatter.png",
        "scores_summary.json",
    ]


def test_score_all_singles_from_the_api(tiny_run, tmp_path):
    from seqvae.analysis.scoring import ScoringOptions, load_scorers, single_mutant_scores
    from seqvae.plots.mutations import plot_single_mutant_scores

    root, _ = tiny_run
    cli, api = tmp_path / "cli", tmp_path / "api"
    assert (
        main(["score", str(root / "run"), "--all-singles", "--fast", "--out", str(cli / "singles.csv")]) == 0
    )
    singles = single_mutant_scores(load_scorers([root / "run"], ScoringOptions(fast=True)))
    singles.save(api / "singles.csv")
    plot_single_mutant_scores(singles, api / "singles.csv")
    same_folder(cli, api)


def test_score_sequences_from_the_api(tiny_run, tmp_path):
    from seqvae.analysis.scoring import ScoringOptions, load_scorers, score_sequences

    root, fasta = tiny_run
    cli, api = tmp_path / "cli", tmp_path / "api"
    command = ["score", str(root / "run"), "--sequences", str(fasta), "--iw", "--samples", "6"]
    assert main([*command, "--out", str(cli / "sequences.csv")]) == 0
    scorer = load_scorers([root / "run"], ScoringOptions(samples=6, iw=True))
    score_sequences(scorer, fasta, api / "sequences.csv")
    same_folder(cli, api)


def test_structure_aware_scores_from_the_api(tiny_run, baselines, tmp_path):
    """`score --structure` (table and all singles) rebuilt from position_burial, score_file and
    single_mutant_scores."""
    from builders import HAIRPIN_REFERENCE as REFERENCE
    from builders import write_chain
    from seqvae.analysis.burial import position_burial
    from seqvae.analysis.scoring import ScoringOptions, load_scorers, score_file, single_mutant_scores
    from seqvae.plots.mutations import plot_scoring_report, plot_single_mutant_scores

    root, _ = tiny_run
    table = _mutation_table(tmp_path / "mutants.csv")
    chain = write_chain(REFERENCE[:10], tmp_path / "part.pdb.gz")  # covers the first 10 positions
    runs = [root / "run", baselines["potts"]]
    cli, api = tmp_path / "cli", tmp_path / "api"
    flags = ["--score-col", "fitness", "--samples", "4", "--structure", str(chain)]
    assert main(["score", *map(str, runs), str(table), *flags, "--out", str(cli / "scores.csv")]) == 0
    assert (
        main(["score", *map(str, runs), "--all-singles", *flags[2:], "--out", str(cli / "singles.csv")]) == 0
    )
    scorer = load_scorers(runs, ScoringOptions(samples=4))
    burial = position_burial(scorer.registry, chain)
    report = score_file(scorer, table, api / "scores.csv", score_column="fitness", burial=burial)
    report.save()
    plot_scoring_report(report)
    singles = single_mutant_scores(scorer, burial)
    singles.save(api / "singles.csv")
    plot_single_mutant_scores(singles, api / "singles.csv")
    same_folder(cli, api)
    assert report.structure is not None and report.structure.burial.n_covered == 10
