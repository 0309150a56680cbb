"""Generation commands: ``seqvae generate`` (designs from a run, or samples from a site-independent
baseline directory) and ``seqvae evaluate-samples`` (how well a design set reproduces natural
statistics). Thin wrappers over
:mod:`seqvae.analysis.generation` and :mod:`seqvae.analysis.capacity`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from seqvae.cli.common import DEVICE_HELP, console, parse_number_list, run_on_device, stdout
from seqvae.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
    app.command("evaluate-samples")(evaluate_samples_command)


# -- seqvae generate -----------------------------------------------------------------------------
def _parse_id_list(value: str) -> list[str]:
    """Ids from a file (one per line, or a CSV/TSV with an ``id`` column) or a comma list."""
    path = Path(value)
    if path.is_file():
        from seqvae.io.alignment_formats import read_text
        from seqvae.io.tables import read_table

        text = read_text(path)
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if lines and ("," in lines[0] or "\t" in lines[0]):
            table = read_table(path, "cannot read the id table", sep=None, engine="python", dtype=str)
            if "id" not in table.columns:
                raise InputError("an id table needs an 'id' column", path, 1)
            return [v for v in table["id"].dropna().astype(str)]
        return lines
    return [v.strip() for v in value.split(",") if v.strip()]


def generate_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A trained run directory, or a site-independent baseline directory (seqvae baseline fit)."
        ),
    ],
    n: Annotated[int | None, typer.Option("-n", "--n", help="Number of designs (>= 1).")] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="FASTA to write; a CSV (z, ELBO, nearest natural) and a JSON of settings go beside it.",
        ),
    ] = Path("designs.fasta"),
    seed: Annotated[int, typer.Option(help="Seed for z draws and per-position sampling.")] = 0,
    temperature: Annotated[
        float | None,
        typer.Option(help="Sample each position from softmax(log p / T) (default T = 1)."),
    ] = None,
    argmax: Annotated[bool, typer.Option("--argmax", help="Decode by argmax instead of sampling.")] = False,
    region_ids: Annotated[
        str | None,
        typer.Option(
            help="Gaussian fitted to these training sequences' latent means: a file of ids or a comma list."
        ),
    ] = None,
    region_phenotype: Annotated[
        str | None,
        typer.Option(
            help="Gaussian fitted to the training sequences passing a phenotype threshold, e.g. "
            "'RE_norm >= q90' (OP: >= > <= < ==; a number or qNN, the quantile over measured "
            "training sequences). Needs --phenotypes."
        ),
    ] = None,
    phenotypes: Annotated[
        Path | None,
        typer.Option("--phenotypes", "-p", help="Phenotype table (CSV/TSV) for --region-phenotype."),
    ] = None,
    id_column: Annotated[
        str, typer.Option(help="The phenotype table's column of sequence ids (FASTA ids).")
    ] = "id",
    region_scale: Annotated[
        float, typer.Option(help="Scale the fitted Gaussian's standard deviations.")
    ] = 1.0,
    region_ball: Annotated[
        str | None,
        typer.Option(help="Uniform in a ball around this training sequence's latent mean (with --radius)."),
    ] = None,
    region_coords: Annotated[
        str | None,
        typer.Option(
            help="Ball around explicit latent coordinates, e.g. '0.1,-0.3' (with --radius; default 0)."
        ),
    ] = None,
    radius: Annotated[
        float | None, typer.Option(help="Ball radius for --region-ball / --region-coords.")
    ] = None,
    interpolate: Annotated[
        tuple[str, str] | None,
        typer.Option(
            help="Decode a straight latent path between two training sequences: --interpolate ID_A ID_B."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Points on the interpolation path (>= 2).")] = 10,
    elbo_samples: Annotated[int, typer.Option(help="z draws per design for its ELBO (0 skips it).")] = 8,
    figure: Annotated[
        Path | None, typer.Option(help="Interpolation figure (default: beside the FASTA, .png).")
    ] = None,
    sweeps: Annotated[
        int | None,
        typer.Option(help="Potts baselines: Gibbs sweeps per chain (default 200; one chain per sample)."),
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help=DEVICE_HELP)] = None,
) -> None:
    """Generate sequences: z from the prior (or a region, or a path between two sequences),
    decoded by sampling (default, T = 1) or argmax.

    Runs trained with model_gaps=False have no gap state: their designs contain no gaps.
    Given a baseline directory (seqvae baseline fit), draws -n sequences from it: column by
    column from a site-independent model (the CSV holds the log-likelihood), by Gibbs sampling
    from a Potts model (--sweeps; the CSV holds the Hamiltonian). --seed and --temperature apply.
    """
    from seqvae.analysis import generation as gen
    from seqvae.run import load

    selectors = [
        name
        for name, value in (
            ("--region-ids", region_ids),
            ("--region-phenotype", region_phenotype),
            ("--region-ball", region_ball),
            ("--region-coords", region_coords),
            ("--interpolate", interpolate),
        )
        if value is not None
    ]
    if len(selectors) > 1:
        raise InputError(f"choose one of {', '.join(selectors)}", selectors[1])
    from seqvae.training.baselines import is_baseline_directory

    if is_baseline_directory(run_dir):
        vae_only = [*selectors] + [
            name
            for name, used in (
                ("--argmax", argmax),
                ("--phenotypes", phenotypes is not None),
                ("--radius", radius is not None),
                ("--figure", figure is not None),
            )
            if used
        ]
        _sample_baseline(run_dir, n, out, seed, temperature, vae_only, sweeps)
        return
    if sweeps is not None:
        raise InputError("--sweeps applies to Potts baselines only", "--sweeps")
    if argmax and temperature is not None:
        raise InputError("--argmax and --temperature exclude each other", "--temperature")
    if region_phenotype is not None and phenotypes is None:
        raise InputError("--region-phenotype needs a phenotype table (--phenotypes)", "--phenotypes")
    if phenotypes is not None and region_phenotype is None:
        raise InputError("--phenotypes goes with --region-phenotype", "--phenotypes")
    if region_phenotype is not None:
        gen.parse_phenotype_threshold(region_phenotype)  # fail on a typo before loading the run
    if radius is not None and region_ball is None and region_coords is None:
        raise InputError("--radius goes with --region-ball or --region-coords", "--radius")
    if region_ball is not None and radius is None:
        raise InputError("--region-ball needs --radius", "--region-ball")
    if interpolate is not None:
        if n is not None:
            raise InputError("--interpolate makes --steps designs; leave out -n", "-n")
    elif n is None:
        raise InputError("give the number of designs with -n N", "-n")
    elif n < 1:
        raise InputError(f"the number of designs must be >= 1, got {n}", "-n")
    if elbo_samples < 0:
        raise InputError(f"--elbo-samples must be >= 0, got {elbo_samples}", "--elbo-samples")
    if temperature is not None and not temperature > 0:
        raise InputError(f"temperature must be > 0, got {temperature}", "--temperature")
    if out.suffix.lower() in (".csv", ".json", ".png"):
        raise InputError("--out is the FASTA file; the CSV and JSON are written beside it", out)

    run = run_on_device(load(run_dir), device)
    if interpolate is not None:
        decoding = "sample" if temperature is not None else "argmax"
        designs = gen.interpolate(
            run,
            interpolate[0],
            interpolate[1],
            steps=steps,
            seed=seed,
            decoding=decoding,
            temperature=temperature or 1.0,
            elbo_samples=elbo_samples,
        )
    else:
        decoding = "argmax" if argmax else "sample"
        d = run.config.model.latent_dim
        if region_ids is not None:
            region = gen.region_from_sequences(run, _parse_id_list(region_ids), scale=region_scale)
        elif region_phenotype is not None:
            region, selection = gen.region_from_phenotype(
                run, phenotypes, region_phenotype, id_column=id_column, scale=region_scale
            )
            console.print(f"region: {selection.describe()}")
        elif region_ball is not None:
            region = gen.region_ball(run, region_ball, float(radius))
        elif region_coords is not None:
            region = gen.region_coordinates(
                parse_number_list(region_coords, "--region-coords", "coordinates"), d, radius or 0.0
            )
        else:
            region = gen.prior_region(d)
        with console.status(f"generating {n} designs"):
            designs = gen.generate(
                run,
                int(n),
                seed=seed,
                decoding=decoding,
                temperature=temperature or 1.0,
                region=region,
                elbo_samples=elbo_samples,
            )
    fasta, csv, meta = designs.write(out)
    elbo_text = f"median ELBO {float(np.median(designs.elbo)):.2f}" if elbo_samples else "ELBO skipped"
    console.print(
        f"{len(designs)} designs ({designs.metadata['decoding']}): {elbo_text}, "
        f"median Hamming to nearest natural {np.median(designs.nearest_hamming):.0f}, "
        f"{int((designs.nearest_hamming == 0).sum())} identical to a training sequence\n"
        f"wrote {fasta}, {csv}, {meta}"
    )
    if not run.model.config.model_gaps:
        console.print("note: the run has no gap state (model_gaps=False), so the designs contain no gaps")
    if interpolate is not None:
        from seqvae.plots.generation import plot_interpolation

        target = figure or out.with_suffix(".png")
        plot_interpolation(designs, target, title=f"latent interpolation, {run.path.name}")
        console.print(f"wrote {target}")


def _sample_baseline(
    baseline_dir: Path,
    n: int | None,
    out: Path,
    seed: int,
    temperature: float | None,
    vae_only: list[str],
    sweeps: int | None = None,
) -> None:
    """``seqvae generate BASELINE_DIR``: independent draws per column from a site-independent
    model, or Gibbs chains of a Potts model."""
    from seqvae.analysis.generation import sample_potts, sample_site_independent
    from seqvae.training.baselines import load_baseline

    if vae_only:
        raise InputError(
            f"{', '.join(vae_only)} need a VAE run; a baseline directory samples from its columns only",
            vae_only[0],
        )
    if n is None:
        raise InputError("give the number of samples with -n N", "-n")
    if n < 1:
        raise InputError(f"the number of samples must be >= 1, got {n}", "-n")
    if temperature is not None and not temperature > 0:
        raise InputError(f"temperature must be > 0, got {temperature}", "--temperature")
    if out.suffix.lower() in (".csv", ".json", ".png"):
        raise InputError("--out is the FASTA file; the CSV and JSON are written beside it", out)
    model, registry, kind = load_baseline(baseline_dir)
    if kind == "potts":
        with console.status(f"Gibbs sampling {n} chains"):
            samples = sample_potts(
                model, registry.alphabet, int(n), seed, 200 if sweeps is None else sweeps,
                temperature or 1.0, source=str(baseline_dir),
            )  # fmt: skip
        before, last = samples.metadata["mean_hamiltonian_last_two_tenths"]
        fasta, csv, meta = samples.write(out)
        console.print(
            f"{len(samples)} Gibbs samples from the Potts model ({samples.metadata['sweeps']} sweeps): "
            f"mean H {before:.2f} over the second-last tenth of the sweeps, {last:.2f} over the last "
            "(close values: the chains have settled; otherwise raise --sweeps)\n"
            f"wrote {fasta}, {csv}, {meta}"
        )
        return
    if sweeps is not None:
        raise InputError("--sweeps applies to Potts baselines only", "--sweeps")
    samples = sample_site_independent(
        model, registry.alphabet, int(n), seed, temperature or 1.0, source=str(baseline_dir)
    )
    fasta, csv, meta = samples.write(out)
    console.print(
        f"{len(samples)} samples from the site-independent model: median log-likelihood "
        f"{float(np.median(samples.log_likelihood)):.2f}\nwrote {fasta}, {csv}, {meta}"
    )
    if not model.model_gaps:
        console.print("note: fitted without --model-gaps, so the samples contain no gaps")


# -- seqvae evaluate-samples ----------------------------------------------------------------------
def _read_set(path: Path, run: Any, alphabet: str):
    if run is not None:
        return run.read_alignment(path)
    from seqvae.data.alignment import read_alignment

    return read_alignment(path, alphabet=alphabet)


def evaluate_samples_command(
    designs: Annotated[Path, typer.Argument(help="Generated sequences (aligned FASTA).")],
    reference: Annotated[
        Path, typer.Option(help="Natural target set, e.g. a held-out split, aligned to the same columns.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for summary.json, CSVs and figures.")
    ] = Path("evaluation"),
    training: Annotated[
        Path | None,
        typer.Option(
            help="Training sequences, for Hamming distances to the nearest one (default with --run: the run's)."
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run",
            help="The run that made the designs: adds reconstruction stability and codes inputs with its registry.",
        ),
    ] = None,
    alphabet: Annotated[
        str, typer.Option(help="protein, dna, rna or residue letters (without --run).")
    ] = "protein",
    weighting: Annotated[
        str,
        typer.Option(
            help="'reference': weight the natural set by sequence weights (designs never weighted); 'none'."
        ),
    ] = "reference",
    theta: Annotated[
        float, typer.Option(help="Identity threshold for the reference's sequence weights.")
    ] = 0.2,
    include_gaps: Annotated[
        bool | None,
        typer.Option(
            "--include-gaps/--exclude-gaps",
            help="Count the gap as a state in the statistics (default: yes, unless the run has no gap state).",
        ),
    ] = None,
    r20_sets: Annotated[int, typer.Option(help="Random position sets per n for r20.")] = 200,
    r20_flat: Annotated[
        str,
        typer.Option(
            help="r20 position sets whose top sub-sequences all have the same frequency in the designs: "
            "drop (HOM_r20's convention) or zero (score r = 0)."
        ),
    ] = "drop",
    max_pairs: Annotated[int, typer.Option(help="Pairs per set for within-set Hamming distances.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Seed for r20 position sets and pair sampling.")] = 0,
    figures: Annotated[bool, typer.Option(help="Draw statistics.png and logos.png.")] = True,
    family: Annotated[
        Path | None,
        typer.Option(
            "--family",
            help="Synthetic family's PREFIX_patterns.npz (seqvae simulate associative-memory): adds the "
            "energy distributions of designs vs reference and the coverage of the long patterns.",
        ),
    ] = None,
    coverage_threshold: Annotated[
        float,
        typer.Option(help="Identity to a pattern at which a design counts as reaching it (with --family)."),
    ] = 0.8,
) -> None:
    """Judge generated sequences against natural ones: single-site, pairwise and higher-order
    (r20) statistics, Hamming distances and reconstruction stability; for a synthetic family,
    energies and pattern coverage."""
    import pandas as pd

    from seqvae.analysis.capacity import evaluate_samples
    from seqvae.data.weights import compute_sequence_weights
    from seqvae.io.atomic import atomic_open, write_json

    if weighting not in ("reference", "none"):
        raise InputError(f"--weighting must be 'reference' or 'none', got {weighting!r}", "--weighting")
    if r20_sets < 1:
        raise InputError(f"--r20-sets must be >= 1, got {r20_sets}", "--r20-sets")
    if r20_flat not in ("drop", "zero"):
        raise InputError(f"--r20-flat must be 'drop' or 'zero', got {r20_flat!r}", "--r20-flat")
    if max_pairs < 1:
        raise InputError(f"--max-pairs must be >= 1, got {max_pairs}", "--max-pairs")
    run = None
    if run_dir is not None:
        from seqvae.run import load

        run = load(run_dir)
        if run.registry is None:
            raise InputError("this run models continuous data, not sequences", run_dir)
    design_set = _read_set(designs, run, alphabet)
    reference_set = _read_set(reference, run, alphabet)
    if design_set.length != reference_set.length:
        raise InputError(
            f"designs have {design_set.length} columns but the reference has {reference_set.length}: "
            "both must be aligned to the same columns",
            reference,
        )
    if design_set.alphabet.symbols != reference_set.alphabet.symbols:
        raise InputError("designs and reference are coded with different alphabets", reference)
    training_set = None
    if training is not None:
        training_set = _read_set(training, run, alphabet)
        if training_set.length != design_set.length:
            raise InputError(
                f"training sequences have {training_set.length} columns but the designs have "
                f"{design_set.length}: all sets must be aligned to the same columns",
                training,
            )
    elif run is not None:
        training_set = run.training_alignment()
    if include_gaps is None:
        include_gaps = True if run is None else bool(run.model.config.model_gaps)
    family_model = None
    if family is not None:
        from seqvae.data.synthetic.associative_memory import load_patterns

        if not 0.0 < coverage_threshold <= 1.0:
            raise InputError(
                f"--coverage-threshold must be in (0, 1], got {coverage_threshold}", "--coverage-threshold"
            )
        family_model = load_patterns(family)
        if family_model.length != design_set.length:
            raise InputError(
                f"the family has length {family_model.length} but the designs have {design_set.length} "
                "columns",
                family,
            )
        if design_set.alphabet.size - 1 != family_model.n_letters:
            raise InputError(
                f"the family has {family_model.n_letters} letters but the designs' alphabet has "
                f"{design_set.alphabet.size - 1}: pass --run or --alphabet with the family's letters",
                family,
            )

    reference_weights = None
    note = "designs unweighted, reference unweighted"
    if weighting == "reference":
        reference_weights = compute_sequence_weights(
            reference_set.codes, reference_set.alphabet.gap_code, theta
        )
        note = (
            f"designs unweighted, reference weighted (theta={theta:g} within the reference set, "
            f"N_eff={reference_weights.sum():.1f})"
        )
    with console.status("evaluating samples"):
        evaluation = evaluate_samples(
            design_set,
            reference_set,
            training=training_set,
            run=run,
            reference_weights=reference_weights,
            weighting_note=note,
            include_gaps=include_gaps,
            r20_sets=r20_sets,
            r20_flat=r20_flat,
            max_pairs=max_pairs,
            seed=seed,
            energy_fn=None if family_model is None else family_model.energy,
            patterns=None if family_model is None else family_model.long_patterns,
            overlap_threshold=coverage_threshold,
        )
    out.mkdir(parents=True, exist_ok=True)
    summary = {
        "designs": str(designs),
        "reference": str(reference),
        "training": str(training) if training is not None else (str(run_dir) if run is not None else None),
        "run": None if run_dir is None else str(run_dir),
        **evaluation.summary,
    }
    write_json(out / "summary.json", summary)
    per_design: dict[str, Any] = {"id": design_set.ids}
    if evaluation.design_to_training is not None and training_set is not None:
        per_design["nearest_training_id"] = [training_set.ids[i] for i in evaluation.design_nearest_index]
        per_design["hamming_to_nearest_training"] = evaluation.design_to_training
    if evaluation.design_stable is not None:
        per_design["reconstruction_stable"] = evaluation.design_stable
        per_design["redecoded_hamming"] = evaluation.design_redecoded_hamming
    with atomic_open(out / "per_design.csv", "w", newline="", encoding="utf-8") as handle:
        pd.DataFrame(per_design).to_csv(handle, index=False)
    r20 = evaluation.r20
    with atomic_open(out / "r20.csv", "w", newline="", encoding="utf-8") as handle:
        pd.DataFrame(
            {"n": r20.n_values, "r20": r20.r20, "r20_std": r20.r20_std, "undefined_sets": r20.n_undefined}
        ).to_csv(handle, index=False, float_format="%.6g")
    if figures:
        from seqvae.plots.generation import plot_sample_statistics, plot_sequence_logos

        plot_sample_statistics(
            evaluation, out / "statistics.png", title=f"{designs.name} vs {reference.name}"
        )
        numbering = None
        registry = run.registry if run is not None else None
        if registry is not None and np.all(registry.numbering >= 0):
            numbering = [int(v) for v in registry.numbering]
        plot_sequence_logos(
            {
                f"natural: {reference.name}": reference_set.codes,
                f"generated: {designs.name}": design_set.codes,
            },
            design_set.alphabet,
            out / "logos.png",
            weights={f"natural: {reference.name}": reference_weights},
            position_labels=numbering,
        )
        if evaluation.energies is not None:
            from seqvae.plots.generation import plot_energies

            plot_energies(evaluation, out / "energies.png", title=f"{designs.name} vs {reference.name}")
    table = Table(title=f"{designs.name} vs {reference.name}", show_header=False)
    table.add_column("statistic", style="bold")
    table.add_column("value", justify="right")
    for label, value in evaluation.table():
        table.add_row(label, value)
    stdout.print(table)
    console.print(
        f"weighting: {note}; gap {'counted' if include_gaps else 'not counted'} as a state\nwrote {out}/"
    )
