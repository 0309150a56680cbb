"""Shared fixtures. Tests that need ../shared/data fail (not skip) under CI=true when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"

# `make test` runs two pytest workers (pytest-xdist) on two cores: one torch thread each
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))


def shared_file(relative: str) -> Path:
    """Path to a file in ../shared/data; skips locally and fails under CI when absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"shared data file missing: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def blat_small() -> Path:
    return shared_file("blat/BLAT_ECOLX_test.a2m")


@pytest.fixture
def blat_full() -> Path:
    return shared_file("blat/BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m")


@pytest.fixture
def sh3_fasta() -> Path:
    return shared_file("sh3/sh3_59.fasta")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One tiny trained run directory per session (see ``tests/builders.py``); copy it before
    changing anything in it."""
    from builders import train_tiny_run

    return train_tiny_run(tmp_path_factory.mktemp("tiny_run"))
