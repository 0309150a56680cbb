"""Figures. Every figure goes through :mod:`seqvae.plots.style`."""
