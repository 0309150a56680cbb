"""The roof every benchmark reports against: the peak float32 matmul rate of this machine,
measured in the same process (so a busy or slow machine scales both numbers alike)."""

from __future__ import annotations

import platform
import time

import torch


def peak_matmul_gflops(size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """Best-of-``repeats`` GFLOP/s of a square ``size`` matmul with torch's current threads."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def machine_description() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


if __name__ == "__main__":
    print(f"peak float32 matmul: {peak_matmul_gflops():.1f} GFLOP/s ({machine_description()})")
