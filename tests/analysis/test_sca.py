from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import shared_file
from seqvae.analysis import sca as S
from seqvae.analysis import sca_matrix as SM
from seqvae.analysis import sca_sectors as SS
from seqvae.data.alignment import alignment_from_sequences
from seqvae.errors import InputError


def _toy_codes(n: int = 60, length: int = 7, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 20, size=(n, length))
    # a few conserved and co-varying columns plus gaps
    codes[:, 1] = np.where(rng.random(n) < 0.8, 5, codes[:, 1])
    codes[:, 3] = np.where(codes[:, 0] < 10, 2, 7)
    codes[rng.random((n, length)) < 0.1] = 20
    return codes.astype(np.uint8)


def _dense_sca(codes, weights, lam, convention="pysca7"):
    """SCA straight from the definitions with a dense one-hot (toy sizes only)."""
    n, length = codes.shape
    q = SM.BACKGROUND_FREQUENCIES
    x = np.zeros((n, length, 20))
    for s in range(n):
        for i in range(length):
            if codes[s, i] < 20:
                x[s, i, codes[s, i]] = 1.0
    x = x.reshape(n, length * 20)
    wn = weights / weights.sum()
    f1 = wn @ x
    f2 = x.T @ (wn[:, None] * x)
    f1_cov = (1 - lam) * f1 + lam / 21
    if convention == "pysca7":  # pySCA's freq(): background 1/21² off the diagonal blocks, δ_ab/21 on them
        background = np.full((length * 20, length * 20), 1 / 21**2)
        for i in range(length):
            background[i * 20 : (i + 1) * 20, i * 20 : (i + 1) * 20] = np.eye(20) / 21
        f2_cov = (1 - lam) * f2 + lam * background
    else:
        f2_cov = (1 - lam) * f2
        for i in range(length):
            f2_cov[i * 20 : (i + 1) * 20, i * 20 : (i + 1) * 20] += lam / 21**2
    f1_q = (1 - lam) * f1 + lam * np.tile(q, length)
    qq = np.tile(q, length)
    phi = np.abs(np.log(f1_q * (1 - qq) / ((1 - f1_q) * qq)))
    tilde = np.outer(phi, phi) * (f2_cov - np.outer(f1_cov, f1_cov))
    c = np.zeros((length, length))
    for i in range(length):
        for j in range(length):
            c[i, j] = np.linalg.norm(tilde[i * 20 : (i + 1) * 20, j * 20 : (j + 1) * 20])
    fi = f1_q.reshape(length, 20)
    theta = 1 - fi.sum() / length
    gap = 1 - fi.sum(axis=1)
    d = (fi * np.log(fi / ((1 - theta) * q))).sum(axis=1) + gap * np.log(gap / theta)
    return c, phi.reshape(length, 20), d


@pytest.mark.parametrize("convention", ["pysca7", "pre2020"])
def test_sca_matrix_matches_dense_formula(convention):
    codes = _toy_codes()
    weights = np.random.default_rng(1).uniform(0.3, 1.0, codes.shape[0])
    result = SM.sca_matrix(codes, weights, 20, pseudocount=0.03, block_size=3, pair_regularisation=convention)
    dense, phi, d = _dense_sca(codes, weights, 0.03, convention)
    np.testing.assert_allclose(result.matrix, dense, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.position_weights, phi, rtol=1e-10)
    np.testing.assert_allclose(result.conservation, d, rtol=1e-10)
    # the co-varying pair (0, 3) stands out against an unrelated pair
    assert result.matrix[0, 3] > 3 * result.matrix[2, 5]


def test_sca_matrix_conventions_differ_and_exact_count_paths_agree():
    import torch

    codes = _toy_codes(n=300, length=9, seed=3)
    new = SM.sca_matrix(codes, None, 20, 0.03, block_size=4).matrix
    old = SM.sca_matrix(codes, None, 20, 0.03, block_size=4, pair_regularisation="pre2020").matrix
    assert np.abs(new - old).max() > 1e-3  # the pair pseudocount matters
    dense, _, _ = _dense_sca(codes, np.ones(codes.shape[0]), 0.03)
    for dtype in (torch.float32, torch.bfloat16, SM.exact_count_dtype()):
        counts = SM.sca_matrix(codes, None, 20, 0.03, block_size=4, exact_dtype=dtype).matrix
        np.testing.assert_allclose(counts, dense, rtol=1e-9, atol=1e-12)
    with pytest.raises(InputError):
        SM.sca_matrix(codes, None, 20, 0.03, pair_regularisation="2019")


def test_sca_weights_count_gaps_as_a_letter():
    # identity with gaps as a 21st letter: "AC--" and "AC--" are identical; "ACDE" is 50 % away
    codes = np.array([[0, 1, 20, 20], [0, 1, 20, 20], [0, 1, 2, 3]], dtype=np.uint8)
    w = S.sca_weights(codes, 20, 0.8)
    np.testing.assert_allclose(w, [0.5, 0.5, 1.0])


def test_preprocessing_filters_in_pysca_order():
    seqs = [
        "ACDEFGHIKL-",  # reference
        "ACDEFGHIKM-",  # 90 % identical to the reference -> dropped by max identity
        "ACDQWGHRKL-",
        "A---FGHRKL-",  # 30 % gaps -> dropped
        "MCDWWGYIKV-",
        "ACEQFGHIVV-",
    ]
    aln = alignment_from_sequences(seqs)
    processed = S.preprocess_alignment(aln, S.SCAOptions())
    assert processed.report["columns_after_initial_gap_filter"] == 10  # the all-gap column goes first
    assert processed.ids == ["seq0", "seq2", "seq4", "seq5"]
    assert processed.reference_index == 0
    assert processed.residues == "ACDEFGHIKL"
    assert list(processed.numbering) == list(range(1, 11))
    with pytest.raises(InputError):
        S.SCAOptions(min_identity=0.9, max_identity=0.5).validate()
    with pytest.raises(InputError):
        S.SCAOptions(bounds="loose").validate()


def test_preprocessing_bounds_are_strict_as_pysca7():
    reference = "ACDEFGHIKLMNPQRSTVWY"
    seqs = [
        reference,
        "ACDE----KLMNPQRSTVWY",  # exactly 20 % gaps: pySCA drops it (gap fraction < 0.2)
        "ACDEFGHIKLMNPQRSAAAY",  # exactly 85 % identity: pySCA drops it (identity < 0.85)
        "ACDEFGHIKLMNPQAAAAAA",  # 70 %: kept
        "ACDEFGHIKLMNPAAAAAAA",  # 65 %: kept
    ]
    aln = alignment_from_sequences(seqs)
    strict = S.preprocess_alignment(aln, S.SCAOptions(max_column_gaps=1.0))
    assert strict.ids == ["seq0", "seq3", "seq4"]
    inclusive = S.preprocess_alignment(aln, S.SCAOptions(max_column_gaps=1.0, bounds="inclusive"))
    assert inclusive.ids == ["seq0", "seq1", "seq2", "seq3", "seq4"]


def test_eigen_sign_and_ica_recovers_mixed_sources():
    rng = np.random.default_rng(0)
    values, vectors = SM.eigen_decomposition(np.cov(rng.standard_normal((5, 40))))
    assert np.all(np.diff(values) <= 1e-12) and np.all(vectors.mean(axis=0) >= 0)
    # two sparse, super-Gaussian sources mixed by a rotation: ICA un-mixes them
    length = 300
    sources = np.zeros((length, 2))
    sources[rng.choice(length, 15, replace=False), 0] = rng.uniform(2, 3, 15)
    sources[rng.choice(length, 15, replace=False), 1] = rng.uniform(2, 3, 15)
    sources += 0.05 * rng.standard_normal((length, 2))
    q, _ = np.linalg.qr(sources)
    angle = 0.6
    mixed = q @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    ica = SS.infomax_ica(mixed)
    assert ica.converged and 10 < ica.iterations < 100000 and ica.last_change <= 1e-15
    match = np.abs(np.corrcoef(np.c_[ica.ics, sources].T)[:2, 2:])
    assert match.max(axis=1).min() > 0.95
    # stopping at convergence gives what running on would give
    longer = SS.infomax_ica(mixed, iterations=ica.iterations + 2000, tolerance=0.0)
    assert not longer.converged and longer.iterations == ica.iterations + 2000
    assert np.abs(longer.ics - ica.ics).max() < 1e-5
    short = SS.infomax_ica(mixed, iterations=3)
    assert not short.converged and short.iterations == 3


def test_pysca_cutoff_is_a_grid_point_near_the_quantile():
    from scipy.stats import t as student_t

    values = np.random.default_rng(0).standard_t(3, 400) * 0.02
    params = student_t.fit(values)
    cut = SS.pysca_cutoff(values, params, 0.95)
    grid = np.linspace(values.min(), values.max(), 100)
    assert np.isclose(grid, cut).any()
    assert abs(cut - student_t.ppf(0.95, *params)) <= grid[1] - grid[0]


def test_randomised_alignment_keeps_column_frequencies():
    rng = np.random.default_rng(0)
    freqs = np.tile(np.r_[np.full(20, 0.04), 0.2], (3, 1))
    freqs[1] = 0
    freqs[1, 4] = 1.0
    codes = SM.randomised_alignment(freqs, 4000, rng)
    assert np.all(codes[:, 1] == 4)
    assert abs((codes[:, 0] == 20).mean() - 0.2) < 0.03


def test_s1a_sectors_overlap_published_sectors():
    import seqvae
    from seqvae.io.structure_files import read_structure

    started = time.perf_counter()
    aln = seqvae.read_alignment(shared_file("s1a/halabi_s1a_alignment.fasta"))
    structure = read_structure(shared_file("s1a/3tgi.pdb"), "E")
    labels, identity = S.structure_labels_for_columns(aln, structure)
    assert identity == 1.0
    # the mapping: catalytic triad His57, Asp102, Ser195 (chymotrypsin numbering) on the right letters
    reference = aln.registry.reference_sequence
    for label, letter in (("57", "H"), ("102", "D"), ("195", "S"), ("184A", "F"), ("189", "D")):
        column = int(np.flatnonzero(labels == label)[0])
        assert reference[column] == letter
    options = S.SCAOptions(n_randomisations=1, n_stability_seeds=1, n_components=6, ica_iterations=5000)
    result = S.run_sca(aln, options, structure_labels=labels)
    length = result.alignment.codes.shape[1]
    assert 190 <= length <= 260  # pySCA 7 gives 239 here
    assert 3 <= result.n_significant <= 9
    published = dict(np.load(shared_file("s1a/halabi_s1a_sectors.npz")))
    rows = SS.sector_overlaps(result.labels, result.ic_groups.groups, published, n_random=300)
    best_ics = [row["best_ic"] for row in rows]
    assert len(set(best_ics)) == 3  # three different ICs for the three sectors
    for row in rows:
        assert row["overlap"] >= 3 * max(row["expected_by_chance"], 1.0)
        assert row["overlap"] > row["random_best_overlap_max"]
        assert row["hypergeometric_p"] < 1e-5
    assert time.perf_counter() - started < 60
