"""Analyses of trained models: mutation scoring, evaluation, latent space, couplings. Never trains."""
