from __future__ import annotations

import json

import numpy as np
import pytest

import seqvae
from builders import hairpin_pdb as _hairpin_pdb
from builders import toy_fasta as _toy_fasta
from seqvae.cli.main import main


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    fasta = _toy_fasta(root / "toy.fasta")
    pdb = _hairpin_pdb(root / "toy.pdb")
    return root, fasta, pdb


def test_sca_pca_compare_contacts_commands(workspace, capsys):
    root, fasta, pdb = workspace
    sca_dir = root / "sca"
    # a published sector in structure numbering: the two co-varying pairs and a residue the chain lacks
    np.savez(root / "published.npz", pairs=np.array(["1", "14", "3", "12", "99"]))
    code = main([
        "sca", str(fasta), "--out", str(sca_dir), "--pdb", str(pdb), "--chain", "A", "--randomisations", "2",
        "--stability-seeds", "2", "--ica-iterations", "300", "--min-identity", "0", "--max-identity", "1",
        "--published", str(root / "published.npz"),
    ])  # fmt: skip
    assert code == 0
    summary = json.loads((sca_dir / "summary.json").read_text())
    assert summary["n_positions"] == 14 and len(summary["n_significant_by_seed"]) == 2
    [sector] = json.loads((sca_dir / "published_sector_overlaps.json").read_text())
    assert sector["sector"] == "pairs" and sector["size"] == 5 and sector["retained"] == 4
    assert (
        sector["overlap"]
        == max(sector["overlaps_per_ic"])
        == sector["overlaps_per_ic"][sector["best_ic"] - 1]
    )
    line = f"  pairs: {sector['overlap']}/4 retained residues in IC{sector['best_ic']} (size {sector['ic_size']};"
    err = capsys.readouterr().err  # the console reports on stderr
    assert line in err
    assert f"wrote {sca_dir}/sca.npz, positions.csv, summary.json, published_sector_overlaps.json" in err
    for name in ("sca.npz", "positions.csv", "sca_matrix.png", "sca_spectrum.png", "sca_ics.png"):
        assert (sca_dir / name).exists()
    npz = np.load(sca_dir / "sca.npz")
    assert list(npz["labels"]) == [str(i) for i in range(1, 15)]
    # the designed co-varying pairs are the strongest off-diagonal SCA entries
    m = npz["matrix"].copy()
    np.fill_diagonal(m, 0)
    top = {tuple(sorted(np.unravel_index(k, m.shape))) for k in np.argsort(-m, axis=None)[:4]}
    assert {(0, 13), (2, 11)} <= top
    assert (
        main(
            [
                "pca-matrix",
                str(fasta),
                "--out",
                str(root / "pca.npz"),
                "--components",
                "4",
                "--no-sca-filters",
            ]
        )
        == 0
    )
    assert main(["compare", str(sca_dir / "sca.npz"), str(root / "pca.npz"), "--out", str(root / "cmp"),
                 "--permutations", "10", "--no-figures"]) == 0  # fmt: skip
    comparison = json.loads((root / "cmp" / "comparison.json").read_text())
    assert comparison["length"] == 14 and comparison["matched_by"] == "numbering"
    assert main(["contacts", str(sca_dir / "sca.npz"), "--pdb", str(pdb), "--chain", "A", "--out",
                 str(root / "contacts"), "--random-sets", "50"]) == 0  # fmt: skip
    contacts = json.loads((root / "contacts" / "contacts.json").read_text())
    assert contacts["mapping"] == "labels" and contacts["mapped_positions"] == 14
    assert contacts["precision"]["L/5"] == 1.0  # (1,14) and (3,12) face each other in the hairpin
    assert (root / "contacts" / "sectors.pml").read_text().startswith("select ")
    assert (root / "contacts" / "contact_map.png").exists()


def test_couplings_command(workspace, tmp_path):
    _, fasta, _ = workspace
    cfg = seqvae.preset_config("explore").updated(
        {"model.encoder_hidden": [16], "model.decoder_hidden": [16], "training.max_steps": 5,
         "training.eval_every": 5, "training.batch_size": 16}
    )  # fmt: skip
    seqvae.train(fasta, cfg, out=tmp_path / "run", progress=False)
    out = tmp_path / "couplings"
    assert main(["couplings", str(tmp_path / "run"), "--out", str(out), "--n-ref", "4", "--full"]) == 0
    data = np.load(out / "couplings.npz")
    assert data["matrix"].shape == (14, 14) and str(data["kind"]) == "vae"
    assert list(data["numbering"]) == list(range(1, 15))
    assert (out / "couplings_full.npz").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_references"] == 4 and summary["n_neighbours"] == 4 * 14 * 19
    # an explicit alignment of references (here the training file itself)
    assert main(["couplings", str(tmp_path / "run"), str(fasta), "--out", str(tmp_path / "c2"), "--n-ref", "2",
                 "--no-figures"]) == 0  # fmt: skip
    assert main(["couplings", str(tmp_path / "run"), "--out", str(out), "--n-ref", "0"]) == 2
    assert main(["couplings", str(tmp_path / "run"), "--out", str(out), "--method", "slow"]) == 2
    assert (
        main(["couplings", str(tmp_path / "run"), "--out", str(out), "--decoder-precision", "float16"]) == 2
    )
    assert main(["couplings", str(tmp_path / "run"), "--out", str(out), "--method", "naive",
                 "--decoder-precision", "bfloat16"]) == 2  # fmt: skip
    assert main(["couplings", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_bad_inputs_exit_2(workspace, tmp_path, capsys):
    _, fasta, pdb = workspace
    assert main(["sca", str(tmp_path / "missing.fasta"), "--out", str(tmp_path / "x")]) == 2
    assert main(["sca", str(fasta), "--out", str(tmp_path / "x"), "--min-identity", "2"]) == 2
    assert (
        main(["sca", str(fasta), "--out", str(tmp_path / "x"), "--published", str(tmp_path / "none.npz")])
        == 2
    )
    assert main(["sca", str(fasta), "--out", str(tmp_path / "x"), "--pdb", str(pdb), "--chain", "Q"]) == 2
    not_npz = tmp_path / "bad.npz"
    not_npz.write_text("hello")
    assert main(["compare", str(not_npz), str(not_npz), "--out", str(tmp_path / "c")]) == 2
    good = tmp_path / "good.npz"
    np.savez(good, matrix=np.eye(4))
    assert main(["compare", str(good), str(good), "--out", str(tmp_path / "c"), "--names", "only-one"]) == 2
    assert main(["compare", str(good), str(good), "--out", str(tmp_path / "c"), "--permutations", "-1"]) == 2
    assert main(["contacts", str(good), "--pdb", str(pdb), "--chain", "Z", "--out", str(tmp_path / "k")]) == 2
    assert (
        main(["contacts", str(good), "--pdb", str(pdb), "--out", str(tmp_path / "k"), "--distance", "ca"])
        == 2
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err
