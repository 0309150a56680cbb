"""Workflows: many runs and analyses chained into one job (sweeps, the DMS benchmark, the demo).

They sit above the analysis, plots and report layers and below the CLI.
"""
