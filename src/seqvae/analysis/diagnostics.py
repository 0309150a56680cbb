"""Which latent dimensions a model uses (re-exported from :mod:`seqvae.models.latent_usage`,
where the computation lives so that training and the run layer can record it too)."""

from seqvae.models.latent_usage import (
    DEFAULT_ACTIVE_THRESHOLD,
    LatentDiagnostics,
    latent_diagnostics,
    participation_ratio,
)

__all__ = ["DEFAULT_ACTIVE_THRESHOLD", "LatentDiagnostics", "latent_diagnostics", "participation_ratio"]
