from __future__ import annotations

import numpy as np
import pytest

from seqvae.analysis.compare import (
    align_matrices,
    compare_matrices,
    eigenvector_overlaps,
    pca_loading_matrix,
    principal_cosines,
    random_vector_null,
    top_eigenvectors,
    write_comparison,
)
from seqvae.errors import InputError
from seqvae.io.matrix_file import PositionMatrix, load_matrix_npz, save_matrix_npz
from seqvae.plots.matrices import plot_comparison


def _random_symmetric(length: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((length, length))
    return a + a.T


def test_overlap_with_itself_is_one_and_with_random_matrices_is_about_one_over_sqrt_l():
    rng = np.random.default_rng(0)
    length, k = 100, 3
    m = _random_symmetric(length, rng)
    _, v = top_eigenvectors(m, k)
    np.testing.assert_allclose(np.diag(eigenvector_overlaps(v, v)), 1.0, atol=1e-10)
    np.testing.assert_allclose(principal_cosines(v, v), 1.0, atol=1e-10)
    dots = []
    for _ in range(200):
        _, w = top_eigenvectors(_random_symmetric(length, rng), k)
        dots.extend(np.diag(eigenvector_overlaps(v, w)))
    mean = float(np.mean(dots))
    # E|v.w| = sqrt(2 / (pi L)) ~ 0.080 for L = 100; 1/sqrt(L) = 0.1
    assert abs(mean - np.sqrt(2 / (np.pi * length))) < 0.012
    assert 0.5 / np.sqrt(length) < mean < 1.5 / np.sqrt(length)
    null = random_vector_null(length, k, n_samples=4000)
    assert null["dot_mean"] == pytest.approx(null["dot_analytic"], rel=0.05)


def test_compare_aligns_on_labels_and_numbering(tmp_path):
    rng = np.random.default_rng(1)
    length = 30
    m = np.abs(_random_symmetric(length, rng))
    labels = np.array([str(10 + i) for i in range(length)])
    a = PositionMatrix(m, labels=labels, numbering=np.arange(length))
    # b: the same matrix on a shuffled, partly different set of positions
    order = rng.permutation(length)[:25]
    b = PositionMatrix(m[np.ix_(order, order)], labels=labels[order])
    comparison, a_sub, b_sub = compare_matrices(a, b, k=3, n_permutations=20)
    assert comparison.matched_by == "labels" and comparison.length == 25
    assert comparison.pearson == pytest.approx(1.0) and comparison.spearman == pytest.approx(1.0)
    np.testing.assert_allclose(comparison.top_dots, 1.0, atol=1e-8)
    assert np.array_equal(a_sub.labels, b_sub.labels)
    # the permutation null of a non-negative matrix has a large top-eigenvector overlap
    assert comparison.permutation["dot_mean"][0] > 0.5
    # identical matrices: no permutation reaches the observed overlaps or correlation
    assert comparison.permutation["dot_p"] == [1 / 21] * 3
    assert comparison.permutation["pearson_p"] == 1 / 21
    # an unrelated matrix on the same positions is not significant on the 2nd and 3rd vectors
    other = PositionMatrix(np.abs(_random_symmetric(length, rng)), labels=labels)
    unrelated, _, _ = compare_matrices(a, other, k=3, n_permutations=200)
    assert min(unrelated.permutation["dot_p"][1:]) > 0.01 and unrelated.permutation["pearson_p"] > 0.01
    # numbering alignment when labels are absent
    c = PositionMatrix(m[::-1, ::-1], numbering=np.arange(length)[::-1])
    a2, c2, _ = align_matrices(a, c)
    np.testing.assert_allclose(a2.matrix, c2.matrix)
    # round trip through the NPZ convention
    save_matrix_npz(tmp_path / "m.npz", m, labels=labels, kind="test", extra_array=np.arange(3))
    loaded = load_matrix_npz(tmp_path / "m.npz")
    assert loaded.kind == "test" and np.array_equal(loaded.labels, labels) and "extra_array" in loaded.extra
    paths = write_comparison(comparison, tmp_path / "cmp")
    paths.update(plot_comparison(comparison, a_sub, b_sub, tmp_path / "cmp"))
    assert paths["overlap_png"].exists() and paths["json"].exists()


def test_bad_matrix_files(tmp_path):
    with pytest.raises(InputError):
        load_matrix_npz(tmp_path / "none.npz")
    np.savez(tmp_path / "nomatrix.npz", other=np.zeros(3))
    with pytest.raises(InputError, match="no 'matrix'"):
        load_matrix_npz(tmp_path / "nomatrix.npz")
    np.savez(tmp_path / "rect.npz", matrix=np.zeros((3, 4)))
    with pytest.raises(InputError, match="square"):
        load_matrix_npz(tmp_path / "rect.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(InputError):
        load_matrix_npz(tmp_path / "text.npz")
    a = PositionMatrix(np.eye(5))
    b = PositionMatrix(np.eye(6))
    with pytest.raises(InputError, match="different sizes"):
        align_matrices(a, b)
    c = PositionMatrix(np.eye(5), labels=np.array(list("abcde")))
    d = PositionMatrix(np.eye(5), labels=np.array(list("vwxyz")))
    with pytest.raises(InputError, match="share only"):
        align_matrices(c, d)


def test_pca_loading_matrix_matches_dense_pca():
    rng = np.random.default_rng(2)
    n, length, k = 80, 6, 4
    codes = rng.integers(0, 21, size=(n, length)).astype(np.uint8)
    codes[:, 2] = np.where(codes[:, 0] < 10, 3, 9)  # a correlated pair
    weights = rng.uniform(0.5, 1.0, n)
    matrix, variances = pca_loading_matrix(codes, weights, 20, n_components=k)
    x = np.zeros((n, length * 20))
    for s in range(n):
        for i in range(length):
            if codes[s, i] < 20:
                x[s, i * 20 + codes[s, i]] = 1
    wn = weights / weights.sum()
    mean = wn @ x
    cov = x.T @ (wn[:, None] * x) - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1][:k], vectors[:, ::-1][:, :k]
    np.testing.assert_allclose(variances, values, rtol=1e-6)
    low_rank = vectors @ np.diag(values) @ vectors.T
    expected = np.array(
        [
            [np.linalg.norm(low_rank[i * 20 : (i + 1) * 20, j * 20 : (j + 1) * 20]) for j in range(length)]
            for i in range(length)
        ]
    )
    np.testing.assert_allclose(matrix, expected, rtol=1e-5, atol=1e-9)


def test_average_product_correction_removes_rank_one_scale():
    from seqvae.analysis.compare import average_product_correction

    rng = np.random.default_rng(3)
    scale = rng.uniform(0.5, 2.0, 20)
    signal = np.zeros((20, 20))
    signal[2, 7] = signal[7, 2] = 3.0
    m = np.outer(scale, scale) + signal
    corrected = average_product_correction(m)
    assert np.allclose(corrected, corrected.T) and np.all(np.diag(corrected) == 0)
    # the strongest corrected pair is the planted one, not the pair of largest scales
    i, j = np.unravel_index(np.argmax(corrected), corrected.shape)
    assert {i, j} == {2, 7}
    top_scale = set(np.argsort(-scale)[:2].tolist())
    assert not ({2, 7} == top_scale and np.argmax(m - signal) == np.argmax(corrected))
