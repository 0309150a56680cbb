"""Self-contained HTML reports: one page per run, every figure embedded, no network requests."""

from seqvae.report.builder import build_report

__all__ = ["build_report"]
