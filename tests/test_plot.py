"""Plots rendered to PNG and inspected."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xsoilmoist import plot


def ssm(nt=2, ny=30, nx=40, descending=True):
    rng = np.random.default_rng(0)
    values = rng.uniform(0.05, 0.45, (nt, ny, nx)).astype("float32")
    values[:, :5, :5] = np.nan
    y = 100.0 - 10 * np.arange(ny) if descending else 10.0 * np.arange(ny)
    return xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={
            "time": pd.date_range("2022-05-01", periods=nt),
            "y": y,
            "x": 500_000 + 10.0 * np.arange(nx),
        },
        name="ssm",
        attrs={"units": "m3 m-3", "long_name": "surface soil moisture", "model": "m"},
    )


def test_map_has_units_on_the_colorbar_and_a_non_empty_image(tmp_path):
    fig = plot.map(ssm())
    path = tmp_path / "map.png"
    fig.savefig(path)
    colorbar_axes = fig.axes[-1]
    assert colorbar_axes.get_ylabel() == "surface soil moisture [m3 m-3]"
    assert len(fig.axes) == 3  # two maps and the colorbar
    image = plt.imread(path)
    assert image.shape[0] > 100 and image[..., :3].std() > 0.05  # not blank
    images = fig.axes[0].get_images()
    assert images[0].get_clim() == (0.0, 0.5)
    assert images[0].get_array().mask[:5, :5].all()  # NaN stays masked, shown as hatching
    plt.close(fig)


def test_map_orients_north_up_for_both_y_orders():
    for descending in (True, False):
        fig = plot.map(ssm(nt=1, descending=descending).isel(time=0))
        image = fig.axes[0].get_images()[0]
        _, _, bottom, top = image.get_extent()
        assert top > bottom
        # the NaN corner (first rows) is at the top when y descends, at the bottom otherwise
        assert image.origin == ("upper" if descending else "lower")
        plt.close(fig)


def test_map_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"\(y, x\) or \(time, y, x\)"):
        plot.map(xr.DataArray(np.zeros(3), dims="x"))
