"""Where the benchmarks find the shared data (``../shared/data`` beside the project root): one place
for the paths several benchmarks read. See ``../shared/data/MANIFEST.md`` for what each file is."""

from __future__ import annotations

from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BLAT_ALIGNMENT = SHARED_DATA / "blat" / "BLAT_ECOLX_hmmerbit_plmc_n5_m30_f50_t0.2_r24-286_id100_b105.a2m"
BLAT_DMS = SHARED_DATA / "blat" / "BLAT_ECOLX_Ranganathan2015.csv"
