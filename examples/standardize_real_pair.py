"""Standardize a real Sentinel-1/Sentinel-2 pair and derive terrain from a real DEM.

Run: ``XSOILMOIST_DATA_URL=file://$PWD/../shared/data/ python examples/standardize_real_pair.py``
(the sample files are fetched through the package's registry and checked).
"""

from __future__ import annotations

import rioxarray

import xsoilmoist  # noqa: F401  (registers ds.ssm)
from xsoilmoist import datasets, terrain

# 1. A real BigEarthNet pair: Sentinel-2 L2A digital numbers and Sentinel-1 dB on one grid.
raw = datasets.load_bigearthnet_pair(0, standardize=False)
print(raw.ssm.check(valid_fraction=True))  # what is found, derived, converted; valid pixels
std = raw.ssm.standardize()  # reflectance 0-1, dB, NDVI and VH-VV derived; CRS kept
print(
    f"\nred reflectance {float(std.red.min()):.3f}..{float(std.red.max()):.3f}, "
    f"VV {float(std.vv.median()):.1f} dB median, CRS {std.rio.crs}"
)

# 2. A real DEM in geographic coordinates: slope in degrees with metres per degree by row.
dem = rioxarray.open_rasterio(datasets.fetch("dem/Rome-30m-DEM.tif")).squeeze("band", drop=True)
slope = terrain.slope(dem)
wetness = terrain.twi(dem)
print(
    f"Rome DEM {dem.shape}: median slope {float(slope.median()):.2f} deg, "
    f"wetness index {float(wetness.quantile(0.05)):.1f}..{float(wetness.quantile(0.95)):.1f}"
)
