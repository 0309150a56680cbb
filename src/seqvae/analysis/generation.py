"""Generating sequences: designs from a trained run, samples from a baseline, and ``seqvae
generate`` as one call (:func:`generate_from`).

z comes from a :class:`~seqvae.analysis.latent_regions.LatentRegion` — the prior N(0, I), a
Gaussian fitted to the latent means of chosen training sequences, a ball around one sequence or
explicit coordinates — or from a straight line between two sequences' latent means. Each z is
decoded either by argmax or by sampling every position from the decoder's categorical at a
temperature (:func:`~seqvae.analysis.reconstruction.decode_latents`). A baseline directory has no
latent space: its site-independent model draws every column independently, its Potts model by
Gibbs sampling. Either way the result is one
:class:`~seqvae.analysis.sequence_sets.SequenceSet`.

Gaps: a run trained with ``model_gaps=True`` (the explore preset) has the gap as a decoder
state, so designs contain gaps wherever the decoder puts them. A run trained with
``model_gaps=False`` (the fitness preset, DeepSequence's convention) predicts residues only:
its designs never contain a gap — every column gets a residue — and its ELBO ignores gap
positions. Compare such designs to natural sequences with gaps excluded from the statistics
(``include_gaps=False`` in :func:`seqvae.analysis.capacity.evaluate_samples`).

Randomness: one seed. z draws and per-position sampling use a ``torch.Generator`` seeded with
``seed``; ELBO estimates use a separate generator seeded with ``seed + 1``, so the number of
ELBO samples never changes the designs.

The latent regions, phenotype selectors, decoding, the options and the sequence-set result live
in their own modules; this module re-exports their public names, so
``from seqvae.analysis.generation import X`` reaches all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqvae.analysis.capacity import nearest_sequences
from seqvae.analysis.generation_options import (
    GenerationOptions,
    check_fasta_target,
    check_option_value,
    option_field,
    read_id_list,
)
from seqvae.analysis.latent_regions import (
    LatentRegion,
    prior_region,
    region_ball,
    region_coordinates,
    region_from_phenotype,
    region_from_sequences,
    select_training_rows,
    sequence_latent_mean,
)
from seqvae.analysis.phenotype_selection import (
    PhenotypeSelection,
    PhenotypeThreshold,
    parse_phenotype_threshold,
    select_by_phenotype,
)
from seqvae.analysis.reconstruction import (
    DECODINGS,
    ReconstructionAccuracy,
    check_decoding,
    decode_latents,
    predictable_positions,
    reconstruction_accuracy,
    sequence_elbo,
)
from seqvae.analysis.sequence_sets import (
    DESIGNS_FASTA,
    FIGURE_SUFFIX,
    SETTINGS_SUFFIX,
    TABLE_SUFFIX,
    DesignSet,
    SampleSet,
    SequenceSet,
    numbered_ids,
    sequence_set_files,
)
from seqvae.data.alphabet import Alphabet
from seqvae.errors import ConfigError, InputError
from seqvae.models.potts import PottsModel
from seqvae.models.site_independent import SiteIndependentModel
from seqvae.run import load
from seqvae.training.baselines import is_baseline_directory, load_baseline

__all__ = [
    "DECODINGS",
    "DESIGNS_FASTA",
    "FIGURE_SUFFIX",
    "SETTINGS_SUFFIX",
    "TABLE_SUFFIX",
    "DesignSet",
    "GenerationOptions",
    "LatentRegion",
    "PhenotypeSelection",
    "PhenotypeThreshold",
    "ReconstructionAccuracy",
    "SampleSet",
    "SequenceSet",
    "check_fasta_target",
    "decode_latents",
    "generate",
    "generate_designs",
    "generate_from",
    "interpolate",
    "parse_phenotype_threshold",
    "prior_region",
    "read_id_list",
    "reconstruction_accuracy",
    "region_ball",
    "region_coordinates",
    "region_for",
    "region_from_phenotype",
    "region_from_sequences",
    "sample_baseline",
    "sample_potts",
    "sample_site_independent",
    "select_by_phenotype",
    "select_training_rows",
    "sequence_elbo",
    "sequence_latent_mean",
    "sequence_set_files",
]


# -- designs from a run ----------------------------------------------------------------------------
def _annotate(
    run,
    codes: np.ndarray,
    z: np.ndarray,
    ids: list[str],
    elbo_samples: int,
    seed: int,
    metadata: dict[str, Any],
    extra: dict[str, np.ndarray] | None = None,
) -> SequenceSet:
    """Designs with their ELBO (NaN with ``elbo_samples`` 0) and nearest training sequence."""
    train_codes, _, train_ids, _ = run.training_data()
    elbo = (
        sequence_elbo(run.model, codes, elbo_samples, seed + 1)
        if elbo_samples > 0
        else np.full(len(codes), np.nan)
    )
    index, distance = nearest_sequences(codes, train_codes, run.model.config.alphabet_size)
    return SequenceSet(
        ids=ids,
        codes=codes,
        score=elbo,
        alphabet=run.registry.alphabet,
        score_name="elbo",
        z=np.asarray(z, dtype=np.float32),
        nearest_id=[train_ids[i] for i in index],
        nearest_hamming=distance,
        extra=extra or {},
        metadata=metadata,
    )


def generate(
    run,
    n: int,
    seed: int = 0,
    decoding: str = "sample",
    temperature: float = 1.0,
    region: LatentRegion | None = None,
    elbo_samples: int = 8,
    batch_size: int = 2048,
) -> SequenceSet:
    """Generate ``n`` sequences from a run.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` trained on sequences.
    n
        Number of designs (>= 1).
    seed
        Seeds the z draws and the per-position sampling (ELBO estimates use ``seed + 1``).
    decoding
        ``sample`` (each position from the decoder's categorical at ``temperature``) or
        ``argmax``.
    region
        Where z comes from; ``None`` = the prior N(0, I).
    elbo_samples
        z draws per design for its ELBO (0 skips it).
    """
    run.sequence_registry()  # refuses a run on other data
    n = check_option_value("n", n)
    check_decoding(decoding, temperature)
    d = run.config.model.latent_dim
    region = region or prior_region(d)
    if region.latent_dim != d:
        raise InputError(f"the region has {region.latent_dim} dimensions, the run {d}")
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.cat([region.sample(min(batch_size, n - s), generator) for s in range(0, n, batch_size)])
    codes = decode_latents(run.model, z, decoding, temperature, generator, batch_size)
    ids = numbered_ids("design", n)
    metadata = {
        "run": str(run.path),
        "n": int(n),
        "seed": int(seed),
        "decoding": decoding,
        "temperature": float(temperature) if decoding == "sample" else None,
        "region": region.to_dict(),
        "elbo_samples": int(elbo_samples),
        "model_gaps": bool(run.model.config.model_gaps),
        "gaps_note": None
        if run.model.config.model_gaps
        else "the model has no gap state (model_gaps=False): designs contain no gaps",
    }
    return _annotate(run, codes, z.numpy(), ids, elbo_samples, seed, metadata)


def interpolate(
    run,
    id_a: str,
    id_b: str,
    steps: int = 10,
    seed: int = 0,
    decoding: str = "argmax",
    temperature: float = 1.0,
    elbo_samples: int = 8,
) -> SequenceSet:
    """Decode ``steps`` points on the straight line between two sequences' latent means.

    The designs carry ``t`` (0 at A, 1 at B) and their Hamming distances to the natural
    sequences A and B (``hamming_to_a``, ``hamming_to_b``).
    """
    run.sequence_registry()  # refuses a run on other data
    steps = check_option_value("steps", steps)
    check_decoding(decoding, temperature)
    codes_all, _, ids_all, _ = run.training_data()
    rows = [select_training_rows(ids_all, [name], option_field("interpolate"))[0] for name in (id_a, id_b)]
    means, _ = run.encode(codes_all[rows])
    t = np.linspace(0.0, 1.0, steps)
    z = (1.0 - t)[:, None] * means[0][None, :].astype(np.float64) + t[:, None] * means[1][None, :]
    generator = torch.Generator().manual_seed(int(seed))
    codes = decode_latents(
        run.model, torch.as_tensor(z, dtype=torch.float32), decoding, temperature, generator
    )
    ids = numbered_ids("interp", steps, first=0, digits=3)
    metadata = {
        "run": str(run.path),
        "interpolate": [id_a, id_b],
        "steps": int(steps),
        "seed": int(seed),
        "decoding": decoding,
        "temperature": float(temperature) if decoding == "sample" else None,
        "elbo_samples": int(elbo_samples),
        "model_gaps": bool(run.model.config.model_gaps),
    }
    predictable = predictable_positions(run.model, codes_all[rows])
    extra = {
        "t": t,
        "hamming_to_a": ((codes != codes_all[rows[0]]) & predictable[0]).sum(axis=1),
        "hamming_to_b": ((codes != codes_all[rows[1]]) & predictable[1]).sum(axis=1),
    }
    return _annotate(run, codes, z, ids, elbo_samples, seed, metadata, extra)


# -- samples from a baseline, which has no latent space --------------------------------------------
def sample_site_independent(
    model: SiteIndependentModel,
    alphabet: Alphabet,
    n: int,
    seed: int = 0,
    temperature: float = 1.0,
    source: str | None = None,
) -> SequenceSet:
    """Draw ``n`` sequences from a site-independent model (each column independently).

    Parameters
    ----------
    model
        A fitted :class:`~seqvae.models.site_independent.SiteIndependentModel`
        (:func:`seqvae.training.baselines.fit_site_independent`, or ``load_baseline``).
    alphabet
        The alphabet its codes refer to (the baseline registry's).
    n
        Number of samples (>= 1).
    seed
        Seeds the ``torch.Generator`` that draws every position.
    temperature
        Draw from softmax(log f / T); 1 = the fitted frequencies.
    source
        Where the model came from (recorded in the metadata).
    """
    if model.length < 1 or alphabet.gap_code != model.gap_code:
        raise InputError("the alphabet does not match the site-independent model")
    generator = torch.Generator().manual_seed(int(seed))
    codes = model.sample(n, generator, temperature).numpy()
    log_likelihood = model.log_likelihood(torch.from_numpy(codes)).numpy()
    return SequenceSet(
        ids=numbered_ids("sample", len(codes)),
        codes=codes,
        score=log_likelihood,
        alphabet=alphabet,
        score_name="log_likelihood",
        metadata={
            "baseline": source,
            "model": "site-independent",
            "n": int(n),
            "seed": int(seed),
            "temperature": float(temperature),
            "model_gaps": bool(model.model_gaps),
            "gaps_note": None
            if model.model_gaps
            else "the model has no gap state (fitted without --model-gaps): samples contain no gaps",
        },
    )


def sample_potts(
    model: PottsModel,
    alphabet: Alphabet,
    n: int,
    seed: int = 0,
    sweeps: int = 200,
    temperature: float = 1.0,
    source: str | None = None,
) -> SequenceSet:
    """Draw ``n`` sequences from a Potts model by Gibbs sampling (``n`` independent chains).

    Parameters
    ----------
    model
        A fitted :class:`~seqvae.models.potts.PottsModel` (``seqvae baseline fit --model potts``).
    alphabet
        The alphabet its codes refer to (the baseline registry's).
    n
        Number of samples = chains (>= 1).
    seed
        Seeds the ``torch.Generator`` of the start states and every draw.
    sweeps
        Gibbs sweeps per chain (>= 1); the metadata records the mean Hamiltonian per sweep so
        that convergence can be checked (it should level off well before the end).
    temperature
        Sample from p(x)^(1/T).
    source
        Where the model came from (recorded in the metadata).
    """
    n = check_option_value("n", n)
    sweeps = check_option_value("sweeps", sweeps)
    temperature = check_option_value("temperature", temperature)
    if alphabet.size != model.n_states:
        raise InputError("the alphabet does not match the Potts model")
    generator = torch.Generator().manual_seed(int(seed))
    trace: list[float] = []
    codes = model.sample(int(n), generator, sweeps=int(sweeps), temperature=float(temperature), trace=trace)
    hamiltonian = model.hamiltonian(codes).numpy()
    tenth = max(1, len(trace) // 10)
    return SequenceSet(
        ids=numbered_ids("sample", len(codes)),
        codes=codes.numpy(),
        score=hamiltonian,
        alphabet=alphabet,
        score_name="hamiltonian",
        metadata={
            "baseline": source,
            "model": "potts",
            "n": int(n),
            "seed": int(seed),
            "sweeps": int(sweeps),
            "temperature": float(temperature),
            "mean_hamiltonian_per_sweep": [round(v, 4) for v in trace],
            # settled chains: the last two tenths of the sweeps agree
            "mean_hamiltonian_last_two_tenths": [
                float(np.mean(trace[-2 * tenth : -tenth] or trace[-tenth:])),
                float(np.mean(trace[-tenth:])),
            ],
            "note": "hamiltonian = log p(x) + log Z (higher = more probable); chains start from "
            "uniform random sequences",
        },
    )


# -- what `seqvae generate` does, as one call ------------------------------------------------------
def region_for(run, options: GenerationOptions, log: Callable[[str], None] | None = None) -> LatentRegion:
    """The latent region ``options`` choose (the prior when none is chosen).

    ``log`` receives one line on which training sequences a phenotype threshold selected.
    """
    d = run.config.model.latent_dim
    if options.region_ids is not None:
        ids = options.region_ids
        return region_from_sequences(
            run, read_id_list(ids) if isinstance(ids, str | Path) else list(ids), scale=options.region_scale
        )
    if options.region_phenotype is not None:
        region, selection = region_from_phenotype(
            run,
            options.phenotypes,
            options.region_phenotype,
            id_column=options.id_column,
            scale=options.region_scale,
        )
        if log is not None:
            log(f"region: {selection.describe()}")
        return region
    if options.region_ball is not None:
        assert options.radius is not None  # validate(): a ball needs a radius
        return region_ball(run, options.region_ball, options.radius)
    if options.region_coords is not None:
        return region_coordinates(options.region_coords, d, options.radius or 0.0)
    return prior_region(d)


def generate_designs(
    run, options: GenerationOptions, log: Callable[[str], None] | None = None
) -> SequenceSet:
    """Designs from a run as ``seqvae generate RUN`` makes them: from the chosen region (or the
    prior), or along an interpolation path.

    Parameters
    ----------
    run
        A :class:`~seqvae.Run` trained on sequences (on the device it should compute on).
    options
        What to draw (checked with :meth:`GenerationOptions.validate`).
    log
        Receives progress lines (which sequences a phenotype threshold selected).

    Returns
    -------
    SequenceSet
        :meth:`SequenceSet.save` writes ``seqvae generate``'s files; an interpolation's figure is
        :func:`seqvae.plots.generation.plot_design_figures`.
    """
    options.validate()
    temperature = options.temperature or 1.0
    if options.interpolate is not None:
        return interpolate(
            run,
            options.interpolate[0],
            options.interpolate[1],
            steps=options.steps,
            seed=options.seed,
            decoding="sample" if options.temperature is not None else "argmax",
            temperature=temperature,
            elbo_samples=options.elbo_samples,
        )
    assert options.n is not None  # validate(): n is given unless interpolating
    return generate(
        run,
        options.n,
        seed=options.seed,
        decoding="argmax" if options.argmax else "sample",
        temperature=temperature,
        region=region_for(run, options, log),
        elbo_samples=options.elbo_samples,
    )


def sample_baseline(
    baseline_dir: str | Path, options: GenerationOptions, vae_only: Sequence[str] = ()
) -> SequenceSet:
    """Samples from a baseline directory (``seqvae baseline fit``) as ``seqvae generate`` draws
    them: column by column from a site-independent model, by Gibbs sampling from a Potts model.

    Parameters
    ----------
    baseline_dir
        The baseline directory.
    options
        ``n``, ``seed``, ``temperature`` and (Potts) ``sweeps``; checked with
        :meth:`GenerationOptions.validate_for_baseline` (``vae_only``: further options in use
        that need a VAE run).
    """
    options.validate_for_baseline(vae_only=vae_only)
    model, registry, _ = load_baseline(baseline_dir)
    assert options.n is not None  # validate_for_baseline(): n is given
    temperature = options.temperature or 1.0
    if isinstance(model, PottsModel):
        sweeps = 200 if options.sweeps is None else options.sweeps
        return sample_potts(
            model,
            registry.alphabet,
            options.n,
            options.seed,
            sweeps,
            temperature,
            source=str(baseline_dir),
        )
    if options.sweeps is not None:
        raise ConfigError(
            f"{option_field('sweeps')} applies to Potts baselines only", field=option_field("sweeps")
        )
    return sample_site_independent(
        model, registry.alphabet, options.n, options.seed, temperature, source=str(baseline_dir)
    )


def generate_from(
    source: str | Path,
    options: GenerationOptions,
    out: str | Path | None = None,
    *,
    vae_only: Sequence[str] = (),
    device: torch.device | None = None,
    log: Callable[[str], None] | None = None,
) -> SequenceSet:
    """``seqvae generate SOURCE`` as one call: designs from a VAE run directory
    (:func:`generate_designs`), samples from a baseline directory (:func:`sample_baseline`).

    Parameters
    ----------
    source
        A trained run directory or a baseline directory (``seqvae baseline fit``).
    options
        What to draw; checked for what ``source`` is, with ``out`` (the FASTA to be written),
        before anything is loaded.
    vae_only
        Further options in use that need a VAE run (the CLI's ``--figure``).
    device
        Where a VAE computes (``None``: the CPU); baselines sample on the CPU.
    log
        Receives progress lines (which sequences a phenotype threshold selected).

    Returns
    -------
    SequenceSet
        Designs or baseline samples; ``save(fasta_path)`` writes the command's files; the figures:
        :func:`seqvae.plots.generation.plot_design_figures`.
    """
    if is_baseline_directory(source):
        options.validate_for_baseline(out, vae_only)
        return sample_baseline(source, options)
    options.validate(out)
    run = load(source)
    if device is not None:
        run.model.to(device)
    return generate_designs(run, options, log=log)
