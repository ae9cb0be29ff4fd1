"""``xsoilmoist demo``: what the package does today, on real sample data, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xsoilmoist import datasets
from xsoilmoist.bands import standardize
from xsoilmoist.report import check

__all__ = ["run_demo"]


def _quicklook(std: xr.Dataset, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scene = std.isel(time=0) if "time" in std.dims else std
    rgb = np.stack([scene[b].values for b in ("red", "green", "blue")], axis=-1)
    rgb = np.clip(rgb / 0.25, 0, 1)  # simple stretch: 0.25 reflectance is white
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), constrained_layout=True)
    axes[0].imshow(np.nan_to_num(rgb))
    axes[0].set_title("Sentinel-2 true colour")
    for ax, name, cmap, vmin, vmax in (
        (axes[1], "vv", "gray", -25, 0),
        (axes[2], "ndvi", "YlGn", 0, 1),
    ):
        image = ax.imshow(scene[name].values, cmap=cmap, vmin=vmin, vmax=vmax)
        label = f"{scene[name].attrs['long_name']} [{scene[name].attrs['units']}]"
        fig.colorbar(image, ax=ax, label=label, shrink=0.85)
        ax.set_title(name)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(output: str | Path = "xsoilmoist-demo", site: int | str = 0) -> list[Path]:
    """Standardize a real Sentinel-1/Sentinel-2 pair and write a GeoTIFF and a PNG.

    Prints the input report and says where each file went. Soil-moisture
    prediction joins the demo when the model lands.

    Parameters
    ----------
    output
        Folder for the outputs (created if needed).
    site
        BigEarthNet site index or name (see
        :func:`xsoilmoist.datasets.bigearthnet_sites`).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> run_demo("demo-out")  # doctest: +SKIP
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    raw = datasets.load_bigearthnet_pair(site, standardize=False)
    name = raw.attrs.get("s2_patch", f"site-{site}")
    print(f"Real Sentinel-1/Sentinel-2 pair {name} ({raw.sizes['y']} x {raw.sizes['x']} px):")
    print(check(raw))
    std = standardize(raw)
    bands = [b for b in std.data_vars if std[b].dtype == np.float32]
    tif = output / f"{name}_standardized.tif"
    to_write = std[bands].isel(time=0) if "time" in std.dims else std[bands]
    to_write.rio.to_raster(tif)
    png = output / f"{name}_inputs.png"
    _quicklook(std, f"{name}: standardized inputs", png)
    print(f"\nwrote {tif} ({len(bands)} standardized bands, {std.rio.crs})")
    print(f"wrote {png} (true colour, VV backscatter, NDVI)")
    return [tif, png]
