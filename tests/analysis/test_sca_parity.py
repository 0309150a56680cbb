"""seqvae's SCA and r20 against numbers computed once by the reference tools (issue 17).

The fixtures in tests/data/ come from pySCA 7 and HOM_r20 (tool, commit and command in
tests/data/PROVENANCE_sca_r20.json; remade by ``benchmarks/bench_sca_parity.py --make-fixtures``),
so these tests catch a regression without the peers installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import shared_file
from seqvae.analysis import capacity as cap
from seqvae.analysis import sca as S
from seqvae.analysis import sca_matrix as SM
from seqvae.analysis import sca_sectors as SS
from seqvae.data.alignment import read_alignment
from seqvae.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data"
LETTERS = np.array(list("ACDEFGHIKLMNPQRSTVWY-"))


def _rows(processed) -> dict[str, str]:
    return {i: "".join(LETTERS[np.minimum(row, 20)]) for i, row in zip(processed.ids, processed.codes)}


def _members(groups) -> list[str]:
    return [",".join(str(int(i)) for i in g) for g in groups]


def test_synthetic_alignment_matches_pysca7():
    ref = np.load(DATA / "sca_parity_pysca7.npz")
    aln = read_alignment(DATA / "sca_parity_alignment.fasta", reference="syn0", nonstandard="drop")
    kpos = int(ref["kpos"])
    options = S.SCAOptions(n_randomisations=2, n_stability_seeds=1, n_components=kpos)
    result = S.run_sca(aln, options)
    processed = result.alignment
    rows = _rows(processed)
    # the same sequences and positions; syn1 (exactly 20 % gaps) and syn2 (exactly 85 % identity) are out
    assert sorted(rows) == sorted(str(i) for i in ref["ids"])
    assert "syn1" not in rows and "syn2" not in rows
    assert all(rows[str(i)] == str(a) for i, a in zip(ref["ids"], ref["alg"]))
    assert processed.n_eff == pytest.approx(float(ref["effseqs"]), abs=1e-4)
    np.testing.assert_allclose(result.sca.matrix, ref["Csca"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(result.sca.conservation, ref["Di"], rtol=1e-9)
    np.testing.assert_allclose(result.eigenvalues[:10], ref["L"][:10], rtol=1e-8)
    np.testing.assert_allclose(result.ics, ref["Vica"], atol=1e-6)
    assert _members(result.ic_groups.groups) == [str(m) for m in ref["ic_members"]]
    # the randomised null lands where pySCA's did (its second eigenvalues, 10 trials)
    second = ref["Lrand_second"]
    assert (
        abs(result.random_eigenvalues[:, 1].mean() - second.mean()) < 4 * second.std() + 0.05 * second.mean()
    )
    # the old, inclusive bounds keep the two boundary sequences
    old = S.preprocess_alignment(aln, S.SCAOptions(bounds="inclusive"))
    assert {"syn1", "syn2"} <= set(old.ids)


def test_s1a_matches_pysca7():
    ref = np.load(DATA / "sca_parity_s1a_pysca7.npz")
    aln = read_alignment(
        shared_file("s1a/halabi_s1a_alignment.fasta"), reference="4139558", nonstandard="drop"
    )
    processed = S.preprocess_alignment(aln)
    assert processed.codes.shape == (1121, 239)
    assert sorted(processed.ids) == sorted(str(i) for i in ref["ids"])
    assert processed.n_eff == pytest.approx(828.12, abs=0.01)
    assert processed.n_eff == pytest.approx(float(ref["effseqs"]), abs=1e-4)
    sca = SM.sca_matrix(processed.codes, processed.weights)
    c_ref = ref["Csca"].astype(np.float64)  # stored as float32
    assert np.corrcoef(sca.matrix.ravel(), c_ref.ravel())[0, 1] >= 0.99999
    assert np.max(np.abs(sca.matrix - c_ref) / c_ref) < 1e-3
    np.testing.assert_allclose(sca.conservation, ref["Di"], rtol=1e-6)  # pySCA keeps float32 weights
    values, vectors = SM.eigen_decomposition(sca.matrix)
    np.testing.assert_allclose(values[:10], ref["L"], rtol=1e-3)
    kpos = int(ref["kpos"])
    assert kpos == 6
    ica = SS.infomax_ica(vectors[:, :kpos])
    assert ica.converged and ica.iterations < 5000  # pySCA: 1,089 here
    groups = SS.ic_positions(ica.ics, sca.matrix)
    assert _members(groups.groups) == [str(m) for m in ref["ic_members"]]
    # the pre-2020 pair pseudocount is measurably different (up to 17.5 % on the diagonal)
    old = SM.sca_matrix(processed.codes, processed.weights, pair_regularisation="pre2020").matrix
    assert np.max(np.abs(old - c_ref) / c_ref) > 0.05


def test_r20_matches_hom_r20_per_position_set():
    fx = np.load(DATA / "r20_hom.npz")
    sets = [p[p >= 0] for p in fx["positions"]]
    result = cap.higher_order_r20(fx["target"], fx["model"], 21, position_sets=sets)
    seen: dict[int, int] = {}
    agree_ambiguous, ambiguous = 0, 0
    for k, positions in enumerate(sets):
        n = positions.size
        j = seen.get(n, 0)
        seen[n] = j + 1
        mine, theirs = result.per_set[result.n_values.index(n), j], fx["r_hom"][k]
        if fx["unambiguous"][k]:
            assert np.isnan(mine) == np.isnan(theirs), (positions, mine, theirs)
            if not np.isnan(mine):
                assert mine == pytest.approx(theirs, abs=1e-5)
        else:  # ties across the 20th place: HOM_r20's pick (and whether the picked frequencies
            # are flat) depends on numpy's argpartition, which numpy releases may change
            ambiguous += 1
            both_flat = np.isnan(mine) and np.isnan(theirs)
            agree_ambiguous += both_flat or bool(abs(mine - theirs) < 1e-5)
    assert np.isnan(fx["r_hom"]).sum() >= 5  # the fixture has flat sets, dropped by both
    assert agree_ambiguous >= 0.9 * ambiguous


def test_r20_flat_sets_and_few_subsequences():
    rng = np.random.default_rng(0)
    ancestors = rng.integers(0, 21, (5, 12))
    target = np.where(
        rng.random((300, 12)) < 0.2, rng.integers(0, 21, (300, 12)), ancestors[rng.integers(0, 5, 300)]
    )
    target = target.astype(np.uint8)
    samples = rng.integers(0, 21, (300, 12)).astype(np.uint8)
    # n = 6: the target's top sub-sequences (its clades) are (almost) never in the random samples
    drop = cap.higher_order_r20(target, samples, 21, n_values=[6], n_sets=30, seed=1)
    zero = cap.higher_order_r20(target, samples, 21, n_values=[6], n_sets=30, seed=1, flat="zero")
    flat = np.isnan(drop.per_set[0])
    assert flat.sum() > 20 and drop.n_undefined[0] == flat.sum()
    assert np.all(zero.per_set[0][flat] == 0.0) and zero.n_undefined[0] == 0
    # three distinct pairs only: r over all three, no failure
    few = np.tile(np.array([[0, 1], [0, 1], [0, 1], [2, 3], [2, 3], [4, 4]], np.uint8), (10, 1))
    other = np.tile(np.array([[0, 1], [2, 3], [2, 3], [4, 4], [4, 4], [4, 4]], np.uint8), (10, 1))
    r = cap.higher_order_r20(few, other, 21, n_values=[2], n_sets=1)
    assert r.per_set[0, 0] == pytest.approx(cap.pearson([3, 2, 1], [1, 2, 3]))
    with pytest.raises(InputError):
        cap.higher_order_r20(few, other, 21, n_values=[2], n_sets=1, flat="nan")
    with pytest.raises(InputError):
        cap.higher_order_r20(few, other, 21, position_sets=[[0, 0]])
