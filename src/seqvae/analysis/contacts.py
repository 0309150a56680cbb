"""Position matrices on a 3-D structure: numbering maps, contact precision, 3-D clustering of
position sets (sectors, eigenvector tops) and PyMOL selections.

Structures are read by :func:`seqvae.io.structure_files.read_structure`. A residue's *label* is its PDB
residue number plus insertion code (``"184A"``), which is how chymotrypsin numbering is
written in S1A structures. Matrix positions reach structure residues in one of three ways:
their ``labels`` (e.g. written by ``seqvae sca --pdb``), their reference ``numbering`` plus an
``offset`` (BLAT in 1FQG: PDB number = UniProt number + 2), or a pairwise alignment of the
reference residues to the structure's sequence.

:func:`analyse_contacts` is ``seqvae contacts`` as one call; :meth:`ContactAnalysis.save` writes
its files and :func:`seqvae.plots.matrices.plot_contacts` its contact map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from seqvae.analysis.compare import average_product_correction
from seqvae.analysis.sca_matrix import eigen_decomposition
from seqvae.data.pairwise import align_sequences
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open, write_json
from seqvae.io.matrix_file import PositionMatrix, load_matrix_npz
from seqvae.io.structure_files import Structure, read_structure


def residue_distances(structure: Structure, mode: str = "heavy") -> np.ndarray:
    """Residue-residue distances in Å: minimum heavy-atom distance (``heavy``) or C-beta (``cb``)."""
    if mode == "cb":
        diff = structure.beta[:, None, :] - structure.beta[None, :, :]
        return np.sqrt((diff**2).sum(-1))
    if mode != "heavy":
        raise InputError(f"distance mode must be 'heavy' or 'cb', got {mode!r}")
    atoms = structure.atoms
    n = structure.n_residues
    # atoms are grouped by residue, so reduceat over residue starts gives per-residue minima
    starts = np.flatnonzero(np.r_[True, np.diff(structure.atom_residue) != 0])
    out = np.empty((n, n))
    sq = (atoms**2).sum(1)
    for i in range(n):
        block = atoms[structure.atom_residue == i]
        d2 = (block**2).sum(1)[:, None] + sq[None, :] - 2.0 * block @ atoms.T
        per_atom = np.minimum.reduceat(d2.min(axis=0), starts)
        out[i] = np.sqrt(np.maximum(per_atom, 0.0))
    return np.minimum(out, out.T)


@dataclass
class StructureMap:
    """Where each matrix position sits in a structure (``-1``: not in the structure)."""

    residue_index: np.ndarray
    method: str
    n_mapped: int
    n_identical: int | None

    @property
    def identity(self) -> float | None:
        if self.n_identical is None or self.n_mapped == 0:
            return None
        return self.n_identical / self.n_mapped


def map_positions(
    positions: PositionMatrix,
    structure: Structure,
    offset: int | None = None,
    method: str = "auto",
) -> StructureMap:
    """Map matrix positions to structure residues.

    Parameters
    ----------
    positions
        The matrix (its ``labels``, ``numbering`` and ``residues`` are used).
    structure
        The chain to map onto.
    offset
        Structure residue number = reference ``numbering`` + ``offset`` (forces ``numbering``).
    method
        ``labels``, ``numbering`` (with ``offset``, default 0), ``sequence`` (align the
        reference residues to the chain), or ``auto``: ``numbering`` when ``offset`` is given,
        else ``labels`` when present, else ``sequence`` when residues are known, else
        ``numbering``.
    """
    if method not in ("auto", "labels", "numbering", "sequence"):
        raise InputError(f"mapping method must be auto, labels, numbering or sequence, got {method!r}")
    if method == "auto":
        if offset is not None:
            method = "numbering"
        elif positions.labels is not None and (positions.labels != "").any():
            method = "labels"
        elif positions.residues is not None and positions.numbering is not None:
            method = "sequence"
        else:
            method = "numbering"
    index_of = structure.index_of()
    length = positions.length
    residue_index = np.full(length, -1, dtype=np.int64)
    if method == "labels":
        if positions.labels is None:
            raise InputError("the matrix file has no 'labels' to map onto the structure", positions.source)
        for p, label in enumerate(positions.labels):
            residue_index[p] = index_of.get(str(label), -1)
    elif method == "numbering":
        if positions.numbering is None:
            raise InputError("the matrix file has no 'numbering' to map onto the structure", positions.source)
        shift = 0 if offset is None else int(offset)
        for p, number in enumerate(positions.numbering):
            if number >= 0:
                residue_index[p] = index_of.get(str(int(number) + shift), -1)
    else:
        if positions.residues is None or positions.numbering is None:
            raise InputError(
                "sequence mapping needs 'residues' and 'numbering' in the matrix file", positions.source
            )
        numbered = np.flatnonzero(positions.numbering >= 0)
        order = numbered[np.argsort(positions.numbering[numbered], kind="stable")]
        query = "".join(str(r) for r in positions.residues[order])
        mapped = align_sequences(query, structure.sequence)
        residue_index[order] = mapped
    n_mapped = int((residue_index >= 0).sum())
    n_identical = None
    if positions.residues is not None and n_mapped:
        ok = residue_index >= 0
        struct_letters = np.array(list(structure.sequence))[residue_index[ok]]
        n_identical = int((struct_letters == positions.residues[ok]).sum())
    return StructureMap(residue_index, method, n_mapped, n_identical)


def sequence_separation(positions: PositionMatrix) -> np.ndarray:
    """|i - j| in reference numbering when known, else in position order (``[L, L]``)."""
    if positions.numbering is not None and (positions.numbering >= 0).all():
        number = positions.numbering.astype(np.int64)
    else:
        number = np.arange(positions.length)
    return np.abs(number[:, None] - number[None, :])


@dataclass
class ContactResult:
    """Contact precision of the strongest matrix entries."""

    precision: dict[str, float]
    n_pairs: dict[str, int]
    length: int
    n_candidate_pairs: int
    contact_fraction: float
    top_pairs: np.ndarray  # [n, 2] position indices, strongest first
    top_is_contact: np.ndarray


def contact_precision(
    positions: PositionMatrix,
    structure_map: StructureMap,
    distances: np.ndarray,
    min_separation: int = 6,
    threshold: float = 8.0,
    divisors: tuple[int, ...] = (5, 2, 1),
) -> ContactResult:
    """Precision of the top ``L/k`` pairs (``|i - j| >= min_separation``) at ``threshold`` Å.

    ``L`` is the number of matrix positions found in the structure; only pairs with both
    positions in the structure are ranked. Ties keep position order.
    """
    mapped = np.flatnonzero(structure_map.residue_index >= 0)
    if mapped.size < 2:
        raise InputError(
            "fewer than two matrix positions map onto the structure; check the chain, offset or numbering"
        )
    separation = sequence_separation(positions)
    i, j = np.triu_indices(positions.length, k=1)
    ok = (structure_map.residue_index[i] >= 0) & (structure_map.residue_index[j] >= 0)
    ok &= separation[i, j] >= min_separation
    i, j = i[ok], j[ok]
    if i.size == 0:
        raise InputError(f"no mapped pair is at least {min_separation} residues apart")
    scores = positions.matrix[i, j]
    order = np.argsort(-scores, kind="stable")
    d = distances[structure_map.residue_index[i[order]], structure_map.residue_index[j[order]]]
    is_contact = d < threshold
    length = int(mapped.size)
    precision: dict[str, float] = {}
    n_pairs: dict[str, int] = {}
    for k in divisors:
        n = max(1, length // k)
        n = min(n, order.size)
        key = "L" if k == 1 else f"L/{k}"
        precision[key] = float(is_contact[:n].mean())
        n_pairs[key] = n
    n_top = min(order.size, length)
    return ContactResult(
        precision=precision,
        n_pairs=n_pairs,
        length=length,
        n_candidate_pairs=int(order.size),
        contact_fraction=float(is_contact.mean()),
        top_pairs=np.stack([i[order[:n_top]], j[order[:n_top]]], axis=1),
        top_is_contact=is_contact[:n_top],
    )


@dataclass
class ClusterTest:
    """Is a set of residues more compact in 3-D than random sets of the same size?"""

    name: str
    size: int
    mean_distance: float
    random_mean: float
    random_std: float
    p_value: float


def cluster_test(
    name: str,
    residues: np.ndarray,
    pool: np.ndarray,
    distances: np.ndarray,
    n_random: int = 2000,
    seed: int = 0,
) -> ClusterTest:
    """Mean pairwise distance of ``residues`` against random same-size sets drawn from ``pool``.

    The p-value is (1 + #random sets at least as compact) / (1 + n_random).
    """
    residues = np.unique(np.asarray(residues, dtype=np.int64))
    pool = np.unique(np.asarray(pool, dtype=np.int64))
    size = residues.size
    if size < 2:
        return ClusterTest(name, int(size), float("nan"), float("nan"), float("nan"), float("nan"))

    def mean_pairwise(index: np.ndarray) -> np.ndarray:
        sub = distances[index[..., :, None], index[..., None, :]]
        iu = np.triu_indices(index.shape[-1], k=1)
        return sub[..., iu[0], iu[1]].mean(-1)

    observed = float(mean_pairwise(residues))
    rng = np.random.default_rng(seed)
    draws = np.argsort(rng.random((n_random, pool.size)), axis=1)[:, :size]
    random = mean_pairwise(pool[draws])
    p_value = (1.0 + float((random <= observed).sum())) / (1.0 + n_random)
    return ClusterTest(name, int(size), observed, float(random.mean()), float(random.std()), p_value)


def pymol_selection(name: str, labels: list[str] | np.ndarray, chain: str) -> str:
    """A PyMOL ``select`` command for residues given by structure labels."""
    items = "+".join(str(label) for label in labels)
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return f"select {safe}, chain {chain} and resi {items}"


def sector_sets(
    positions: PositionMatrix, n_eigenvectors: int = 3, top_fraction: float = 0.1
) -> dict[str, np.ndarray]:
    """Position sets to test for 3-D clustering: the IC groups stored by ``seqvae sca``
    (``ic_group``) and the top ``top_fraction`` of positions of each of the top eigenvectors."""
    sets: dict[str, np.ndarray] = {}
    groups = positions.extra.get("ic_group")
    if groups is not None and groups.shape == (positions.length,):
        for g in sorted(set(groups.tolist()) - {0}):
            sets[f"IC{g}"] = np.flatnonzero(groups == g)

    _, vectors = eigen_decomposition(positions.matrix)
    size = max(3, round(top_fraction * positions.length))
    for k in range(min(n_eigenvectors, positions.length)):
        sets[f"eigenvector{k + 1}_top{size}"] = np.argsort(-vectors[:, k], kind="stable")[:size]
    return sets


def structure_clusters(
    positions: PositionMatrix,
    structure: Structure,
    structure_map: StructureMap,
    sets: dict[str, np.ndarray],
    distance_mode: str = "cb",
    n_random: int = 2000,
    seed: int = 0,
) -> tuple[list[ClusterTest], list[str]]:
    """3-D clustering test of each position set plus a PyMOL selection for it."""
    distances = residue_distances(structure, distance_mode)
    pool = structure_map.residue_index[structure_map.residue_index >= 0]
    tests, selections = [], []
    for name, members in sets.items():
        residues = structure_map.residue_index[members]
        residues = residues[residues >= 0]
        tests.append(cluster_test(name, residues, pool, distances, n_random, seed))
        labels = [structure.labels[r] for r in sorted(set(residues.tolist()))]
        if labels:
            selections.append(pymol_selection(name, labels, structure.chain))
    return tests, selections


# -- `seqvae contacts` as one call ----------------------------------------------------------------
# the files of a contacts folder (the contact map: seqvae.plots.matrices.CONTACT_MAP_PNG)
CONTACTS_FILE = "contacts.json"  # the summary; `seqvae report` reads it
SECTORS_PML_FILE = "sectors.pml"  # PyMOL selections of the clustering tests' position sets


@dataclass
class ContactAnalysis:
    """A position matrix on a structure: contact precision and, optionally, 3-D clustering of its
    sectors (what ``seqvae contacts`` computes; :meth:`save` writes its files, the contact map is
    drawn by :func:`seqvae.plots.matrices.plot_contacts`).

    Attributes
    ----------
    positions
        The matrix (average-product corrected when ``settings["apc"]``).
    structure, structure_map, distances
        The chain, where each matrix position sits in it, and its residue distances (Å).
    result
        Contact precision of the strongest pairs.
    clusters
        The 3-D clustering tests (``None``: not run); ``selections`` their PyMOL selections.
    settings
        The matrix and structure files and the settings, as written to ``contacts.json``.
    """

    positions: PositionMatrix
    structure: Structure
    structure_map: StructureMap
    distances: np.ndarray
    result: ContactResult
    clusters: list[ClusterTest] | None
    selections: list[str]
    settings: dict

    @property
    def warning(self) -> str | None:
        """A warning when under 60% of the mapped positions carry the structure's residue, else ``None``."""
        identity = self.structure_map.identity
        if identity is None or identity >= 0.6:
            return None
        return (
            f"only {identity:.0%} of mapped positions carry the structure's residue: check --offset / --chain"
        )

    def to_dict(self) -> dict:
        """The summary written to ``contacts.json`` (plain JSON types)."""
        s = self.settings
        summary = {
            "matrix": s["matrix"],
            "structure": s["structure"],
            "chain": s["chain"],
            "mapping": self.structure_map.method,
            "mapped_positions": self.structure_map.n_mapped,
            "mapped_identity": self.structure_map.identity,
            "distance": s["distance"],
            "threshold": s["threshold"],
            "min_separation": s["min_separation"],
            "apc": s["apc"],
            "precision": self.result.precision,
            "n_pairs": self.result.n_pairs,
            "contact_fraction_among_candidates": self.result.contact_fraction,
        }
        if self.clusters is not None:
            summary["clusters"] = [t.__dict__ for t in self.clusters]
        return json.loads(json.dumps(summary, default=float))

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``contacts.json`` and, with clustering tests, ``sectors.pml`` into ``out``.

        Returns
        -------
        dict
            ``summary`` and, when written, ``pymol``: the paths.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        if self.clusters is not None:
            with atomic_open(out / SECTORS_PML_FILE, "w", encoding="utf-8") as handle:
                handle.write("\n".join(self.selections) + "\n")
            paths["pymol"] = out / SECTORS_PML_FILE
        write_json(out / CONTACTS_FILE, self.to_dict())
        paths["summary"] = out / CONTACTS_FILE
        return paths

    def describe(self) -> str:
        """One line per clustering test and the precision line, as ``seqvae contacts`` prints them."""
        s = self.settings
        lines = [
            f"  {t.name}: {t.size} residues, mean distance {t.mean_distance:.1f} Å vs random "
            f"{t.random_mean:.1f} ± {t.random_std:.1f} Å, p = {t.p_value:.3g}"
            for t in self.clusters or []
        ]
        precision = ", ".join(f"{k}: {v:.3f}" for k, v in self.result.precision.items())
        lines.append(
            f"{self.structure_map.n_mapped} positions on {Path(s['structure']).name} chain {s['chain']} "
            f"(by {self.structure_map.method}); precision at {s['threshold']:g} Å, |i-j| >= "
            f"{s['min_separation']}: {precision} (background contact rate {self.result.contact_fraction:.3f})"
        )
        return "\n".join(lines)


def analyse_contacts(
    matrix: str | Path | PositionMatrix,
    structure: str | Path,
    chain: str | None = None,
    offset: int | None = None,
    mapping: str = "auto",
    distance: str = "heavy",
    apc: bool = False,
    threshold: float = 8.0,
    min_separation: int = 6,
    clusters: bool = True,
    random_sets: int = 2000,
) -> ContactAnalysis:
    """A position matrix on a structure, as ``seqvae contacts`` computes it.

    Parameters
    ----------
    matrix
        A position-matrix NPZ (key ``matrix``, see :mod:`seqvae.io.matrix_file`) or a loaded one.
    structure, chain
        The structure file (PDB or mmCIF, plain or gzip) and its chain (``None``: the first).
    offset, mapping
        How positions reach residues (see :func:`map_positions`).
    distance
        ``heavy`` (minimum heavy-atom distance) or ``cb``.
    apc
        Average-product-correct the matrix before ranking pairs.
    threshold, min_separation
        Contact distance in Å; the smallest ``|i - j|`` in reference numbering.
    clusters, random_sets
        Test the 3-D clustering of the IC groups / top-eigenvector positions against this many
        random sets each.

    Returns
    -------
    ContactAnalysis
    """
    positions = matrix if isinstance(matrix, PositionMatrix) else load_matrix_npz(matrix)
    if apc:
        positions = replace(positions, matrix=average_product_correction(positions.matrix))
    chain_residues = read_structure(structure, chain)
    structure_map = map_positions(positions, chain_residues, offset=offset, method=mapping)
    distances = residue_distances(chain_residues, distance)
    result = contact_precision(positions, structure_map, distances, min_separation, threshold)
    tests = None
    selections: list[str] = []
    if clusters:
        tests, selections = structure_clusters(
            positions, chain_residues, structure_map, sector_sets(positions), n_random=random_sets
        )
    settings = {
        "matrix": str(matrix.source if isinstance(matrix, PositionMatrix) else matrix),
        "structure": str(structure),
        "chain": chain_residues.chain,
        "distance": distance,
        "threshold": threshold,
        "min_separation": min_separation,
        "apc": apc,
    }
    return ContactAnalysis(
        positions, chain_residues, structure_map, distances, result, tests, selections, settings
    )
