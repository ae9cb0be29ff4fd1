"""A fractal DEM by spectral synthesis, and its derivatives from :mod:`xsoilmoist.terrain`.

Spectral synthesis of fractional Brownian surfaces (Voss 1988, "Fractals in
nature: from characterization to simulation", in Peitgen & Saupe (eds.), *The
Science of Fractal Images*, Springer, section 1.6): white Gaussian noise is
filtered in the Fourier domain by the amplitude spectrum
``(k^2 + k_0^2)^(-(H + 1)/2)`` (power ``k^-(2H+2)`` above the outer scale
``1/k_0``) and transformed back. The field is generated on a grid 1.25 times
larger than the scene and cropped, so the periodicity of the FFT does not
show, then scaled so that its *expected* root-mean-square elevation difference
at a 100 m lag equals ``rms_difference_100m`` (scenes smaller than 400 m set
it at a quarter of their size, scaled by the fBm law ``rms(h) ~ h^H``). The
expected variogram follows
from the filter exactly (Wiener-Khinchin): for unit white noise on ``N``
cells, ``gamma(h) = (2/N) sum_k |F(k)|^2 (1 - cos(2 pi k_x h))``. A planar
regional tilt and the base elevation are added last.

Slope, aspect and the topographic wetness index come from the package's
terrain kernels (:func:`xsoilmoist.terrain.slope`, :func:`~xsoilmoist.terrain.aspect`,
:func:`~xsoilmoist.terrain.twi`), never from a copy of them.
"""

from __future__ import annotations

import zlib

import numpy as np
import xarray as xr

from xsoilmoist import terrain as terrain_kernels
from xsoilmoist.synthetic.regions import TerrainShape

__all__ = ["REFERENCE_LAG", "fractal_dem", "terrain_derivatives"]

#: Lag at which the DEM's roughness is set, m.
REFERENCE_LAG = 100.0
_PADDING = 1.25


def _padded_size(n: int) -> int:
    return int(np.ceil(n * _PADDING / 2.0)) * 2


def fractal_dem(shape: tuple[int, int], resolution: float, terrain: TerrainShape, seed: int):
    """Elevations (m, float64) of a fractal surface of ``shape`` pixels of ``resolution`` m.

    Rows run north to south (north-up), columns west to east.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> dem = fractal_dem((64, 64), 10.0, REGIONS["alpine_grassland"].terrain, seed=0)
    >>> dem.shape, 4000 < float(dem.mean()) < 5000
    ((64, 64), True)
    """
    ny, nx = shape
    ny_pad, nx_pad = _padded_size(ny), _padded_size(nx)
    rng = np.random.default_rng([seed, zlib.crc32(b"dem")])
    white = rng.standard_normal((ny_pad, nx_pad))
    ky = np.fft.fftfreq(ny_pad, d=resolution)[:, None]
    kx_half = np.fft.rfftfreq(nx_pad, d=resolution)[None, :]
    k0 = 1.0 / terrain.outer_scale
    exponent = -(terrain.hurst + 1.0) / 2.0
    amplitude = (ky**2 + kx_half**2 + k0**2) ** exponent
    amplitude[0, 0] = 0.0  # no mean
    surface = np.fft.irfft2(np.fft.rfft2(white) * amplitude, s=(ny_pad, nx_pad))

    # small scenes: set the roughness at a lag of a quarter of the scene, by the fBm power law
    lag = max(min(REFERENCE_LAG, min(shape) * resolution / 4.0), resolution)
    target_rms = terrain.rms_difference_100m * (lag / REFERENCE_LAG) ** terrain.hurst
    kx_full = np.fft.fftfreq(nx_pad, d=resolution)[None, :]
    power = (ky**2 + kx_full**2 + k0**2) ** (2.0 * exponent)
    power[0, 0] = 0.0
    lag_term = 1.0 - np.cos(2.0 * np.pi * kx_full * lag)
    expected_variogram = 2.0 * float(np.sum(power * lag_term)) / (ny_pad * nx_pad)
    surface *= target_rms / np.sqrt(expected_variogram)

    top, left = (ny_pad - ny) // 2, (nx_pad - nx) // 2
    surface = surface[top : top + ny, left : left + nx]
    rows = (np.arange(ny) - (ny - 1) / 2.0) * resolution  # metres to the south
    columns = (np.arange(nx) - (nx - 1) / 2.0) * resolution  # metres to the east
    azimuth = np.radians(terrain.gradient_azimuth)
    downhill = columns[None, :] * np.sin(azimuth) - rows[:, None] * np.cos(azimuth)
    return terrain.base_elevation + surface - terrain.regional_gradient * downhill


def terrain_derivatives(dem: xr.DataArray) -> dict[str, xr.DataArray]:
    """Slope (degree), aspect (degree) and wetness index of a north-up DEM with a CRS.

    Aspect is NaN on perfectly flat cells; it is only used to tilt the radar
    geometry, where a flat cell has no tilt, so NaN aspects become 0.
    """
    slope = terrain_kernels.slope(dem)
    aspect = terrain_kernels.aspect(dem).fillna(0.0)
    wetness = terrain_kernels.twi(dem)
    return {"slope": slope, "aspect": aspect, "twi": wetness}
