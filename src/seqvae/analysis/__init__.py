"""Analyses of trained runs and alignments (latent space, scoring, couplings, SCA, generation).

Modules here read arrays and runs and never train.
"""
