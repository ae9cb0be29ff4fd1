"""Sphinx configuration for the xsoilmoist documentation."""

from __future__ import annotations

from pathlib import Path

import xsoilmoist
from xsoilmoist.catalogue import BANDS, MODALITY_BANDS, aliases_of

project = "xsoilmoist"
author = "xsoilmoist developers"
release = xsoilmoist.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False


def _write_band_table(app) -> None:
    """Generate the inputs table from the band catalogue, so the docs follow the code."""
    rows = []
    for name, band in BANDS.items():
        in_model = any(name in names for names in MODALITY_BANDS.values())
        aliases = ", ".join(f"``{a}``" for a in aliases_of(name) if a != name) or "-"
        low, high = band.valid_range
        rows.append(
            f"   * - ``{name}``\n     - {band.modality}\n     - {band.units}\n"
            f"     - {low:g} to {high:g}\n     - {'yes' if in_model else 'kept'}\n"
            f"     - {aliases}\n     - {band.long_name}"
        )
    table = (
        ".. list-table::\n   :header-rows: 1\n   :widths: 10 10 8 12 6 30 24\n\n"
        "   * - band\n     - modality\n     - units\n     - valid range\n     - model input\n"
        "     - recognised names (any case)\n     - meaning\n" + "\n".join(rows) + "\n"
    )
    out = Path(app.srcdir) / "_generated" / "bands_table.rst"
    out.parent.mkdir(exist_ok=True)
    if not out.exists() or out.read_text() != table:
        out.write_text(table)


def setup(app):
    app.connect("builder-inited", _write_band_table)
