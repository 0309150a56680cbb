"""Assemble a run's report from the section providers and write it atomically."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from seqvae.analysis.phenotypes import read_phenotype_table
from seqvae.errors import InputError
from seqvae.io.atomic import atomic_open
from seqvae.report.document import Section, Text, render_page
from seqvae.report.sections import PROVIDERS, ReportContext, latent_section
from seqvae.run import load


def build_report(
    run_dir: str | Path,
    out: str | Path,
    include: Sequence[str | Path] | None = None,
    phenotypes: str | Path | None = None,
    id_column: str = "id",
    color: list[str] | None = None,
    group: list[str] | None = None,
) -> Path:
    """Write one self-contained HTML report for a run.

    Parameters
    ----------
    run_dir
        The run directory.
    out
        The HTML file to write.
    include
        Analysis output folders whose results get their own sections.
    phenotypes
        A CSV joined by sequence id to colour latent maps.
    id_column, color
        The phenotype table's id column and the columns to colour by (default: all).
    group
        Grouping columns (e.g. a taxon) for the within-group Simpson's-paradox check.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    run = load(run_dir)
    table = None
    if phenotypes is not None:
        table = read_phenotype_table(phenotypes, id_column)
        for column in [*(color or []), *(group or [])]:
            if column not in table.columns:
                raise InputError(f"no column {column!r} in the phenotype table", phenotypes)
    elif (cells := run.cell_metadata()) is not None:  # a run on counts: its cells' metadata (obs)
        table, id_column = cells, "id"
        for column in [*(color or []), *(group or [])]:
            if column not in table.columns:
                raise InputError(
                    f"no column {column!r} in the cell metadata (columns: "
                    f"{', '.join(map(str, table.columns[1:13]))})",
                    run.path / "data" / "obs.csv",
                )
    elif color or group:
        raise InputError("colour and group columns need a phenotype table (phenotypes)")
    include_paths = [Path(p) for p in include or []]
    for folder in include_paths:
        if not folder.is_dir():
            raise InputError("included analysis folder not found", folder)
    context = ReportContext(
        run=run,
        include=include_paths,
        phenotypes=table,
        phenotype_id_column=id_column,
        color_columns=list(color or []),
        group_columns=list(group or []),
    )
    # the run's latent figures are most of a report's time: drawn last, so that a damaged file
    # in an included folder is refused before that work; the page keeps PROVIDERS' order
    made = {provider: provider(context) for provider in sorted(PROVIDERS, key=lambda p: p is latent_section)}
    sections: list[Section] = []
    for provider in PROVIDERS:
        produced = made[provider]
        if isinstance(produced, list):
            sections.extend(produced)
        elif produced is not None:
            sections.append(produced)
    if not sections:
        sections.append(Section("empty", "Nothing to show", blocks=[Text("The run has no results yet.")]))
    subtitle = f"run {run.path.name} · written {time.strftime('%Y-%m-%d %H:%M')} · seqvae"
    page = render_page(f"seqvae report: {run.path.name}", subtitle, sections)
    out = Path(out)
    with atomic_open(out, "w", encoding="utf-8") as handle:
        handle.write(page)
    return out
