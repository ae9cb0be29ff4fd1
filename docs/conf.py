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


def _draw_tiling_window(app) -> None:
    """Plot the blending windows of three neighbouring tiles, from the code that uses them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from xsoilmoist.tiling import TilingPlan

    plan = TilingPlan(tile=256, overlap=96, halo=32)
    window = plan.window_1d()
    fig, ax = plt.subplots(figsize=(8, 2.6), constrained_layout=True)
    total = np.zeros(4 * plan.stride + plan.tile)
    for k in range(4):
        start = k * plan.stride
        positions = np.arange(start, start + plan.tile) - plan.half
        ax.plot(positions, window, label=f"tile {k}")
        total[start : start + plan.tile] += window
    positions = np.arange(total.size) - plan.half
    inside = (positions >= 0) & (positions < 3 * plan.stride + plan.stride)
    ax.plot(positions[inside], total[inside], "k--", label="sum")
    for k in range(1, 4):
        ax.axvline(k * plan.stride, color="0.7", lw=0.8)
    ax.set_xlabel("pixel (tile 256, overlap 96, halo 32; grey: core boundaries)")
    ax.set_ylabel("weight")
    ax.legend(loc="lower center", ncol=5, fontsize=8)
    out = Path(app.srcdir) / "_generated" / "tiling_window.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _write_default_card(app) -> None:
    """Show the bundled default model's card: summary tables and the full JSON, from the file."""
    from xsoilmoist.weights import available_models, load_card

    out = Path(app.srcdir) / "_generated" / "default_card.rst"
    out.parent.mkdir(exist_ok=True)
    if "default" not in available_models():
        out.write_text("No default model is bundled in this build.\n")
        return
    card = load_card("default")
    config, data = card.config, card.training["data"]
    modalities = ", ".join(
        f"{m} ({'required' if m in card.required_modalities else 'optional'})"
        for m in config["modalities"]
    )
    facts = [
        ("network", f"depths {config['depths']}, widths {config['dims']}"),
        ("modalities", modalities),
        ("output", f"0 to {config['out_max']} m3/m3"),
        ("tile, halo", f"{card.tile}, {card.halo} px"),
        ("training data", f"{data['source']}: {', '.join(data['regions'])}"),
        ("training time", f"{card.training['minutes']} min on {card.training['threads']} thread"),
        ("licence, version", f"{card.license}, {card.version}"),
        ("sha256", f"``{card.sha256}``"),
    ]
    lines = [".. list-table::", "   :widths: 20 80", ""]
    for key, value in facts:
        lines += [f"   * - {key}", f"     - {value}"]
    lines += ["", ".. list-table:: held-out simulated scenes (m3/m3; R2 unitless)"]
    lines += ["   :header-rows: 1", ""]
    lines += ["   * - scored against", "     - R2", "     - RMSE", "     - ubRMSE"]
    lines += ["     - bias", "     - n"]
    rows = [("truth, all regions", card.metrics["truth"])]
    rows += [(f"truth, {r}", s) for r, s in card.metrics["truth_by_region"].items()]
    rows.append(("stations, all regions", card.metrics["stations"]))
    for name, s in rows:
        lines += [f"   * - {name}", f"     - {s['r2']:.3f}", f"     - {s['rmse']:.4f}"]
        lines += [f"     - {s['ubrmse']:.4f}", f"     - {s['bias']:+.4f}", f"     - {s['n']:.0f}"]
    lines += ["", card.description, "", "The whole card:", "", ".. code-block:: json", ""]
    lines += ["   " + line for line in card.to_json().splitlines()]
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


def _draw_validation_example(app) -> None:
    """Validate the default model on a held-out simulated scene: scatter and station series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xsoilmoist import plot, predict, validate
    from xsoilmoist.synthetic import simulate_scene
    from xsoilmoist.weights import available_models

    if "default" not in available_models():
        return
    scene = simulate_scene("arid_basin", shape=(128, 128), times=6, seed=100, n_stations=8)
    result = validate(predict(scene), scene)
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    for name, fig in (
        ("validation_scatter.png", plot.scatter(result.predicted, result.observed)),
        ("validation_timeseries.png", plot.timeseries(result.isel(station=slice(0, 3)))),
    ):
        fig.savefig(out / name, dpi=80)
        plt.close(fig)


def setup(app):
    app.connect("builder-inited", _draw_validation_example)
    app.connect("builder-inited", _write_band_table)
    app.connect("builder-inited", _write_default_card)
    app.connect("builder-inited", _draw_tiling_window)
