"""Plots rendered to PNG and inspected."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import LogNorm

from xsoilmoist import metrics, plot


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
    fig = plot.moisture_map(ssm())
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
        fig = plot.moisture_map(ssm(nt=1, descending=descending).isel(time=0))
        image = fig.axes[0].get_images()[0]
        _, _, bottom, top = image.get_extent()
        assert top > bottom
        # the NaN corner (first rows) is at the top when y descends, at the bottom otherwise
        assert image.origin == ("upper" if descending else "lower")
        plt.close(fig)


def test_map_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"\(y, x\) or \(time, y, x\)"):
        plot.moisture_map(xr.DataArray(np.zeros(3), dims="x"))


def test_the_former_name_map_warns_and_draws_the_same():
    with pytest.warns(FutureWarning, match=r"plot.map is deprecated; use .*plot.moisture_map"):
        former = plot.map
    assert former is plot.moisture_map
    assert "map" not in plot.__all__ and "map" not in vars(plot)  # the builtin is not shadowed
    with pytest.warns(FutureWarning, match="moisture_map"):
        from xsoilmoist.plot import map as imported
    assert imported is plot.moisture_map
    with pytest.raises(AttributeError, match="no attribute 'maps'"):
        plot.maps  # noqa: B018


# --- predicted against observed, and station time series ---------------------------------

METRIC = re.compile(r"(?<!\w)(R²|RMSE|ubRMSE|bias|n) = ([-+]?[\d.]+|nan)")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def stations(n_stations=3, n_times=20, seed=1):
    """A matched ``(station, time)`` table, as ``xsoilmoist.validate`` returns, with gaps."""
    rng = np.random.default_rng(seed)
    observed = rng.uniform(0.1, 0.4, (n_stations, n_times))
    predicted = observed + rng.normal(0.01, 0.03, observed.shape)
    observed[0, 3] = np.nan
    predicted[-1, 5] = np.nan
    attrs = {"units": "m3 m-3"}
    return xr.Dataset(
        {
            "predicted": (("station", "time"), predicted, {**attrs, "model": "default"}),
            "observed": (("station", "time"), observed, attrs),
        },
        coords={
            "station": [f"S{i + 1:03d}" for i in range(n_stations)],
            "time": pd.date_range("2022-05-01", periods=n_times),
        },
    )


def not_blank(fig, path):
    fig.savefig(path)
    image = plt.imread(path)
    return image[..., :3].std() > 0.05


def expected_metrics(stats):
    return {
        "R²": f"{float(stats['r2']):.3f}",
        "RMSE": f"{float(stats['rmse']):.4f}",
        "ubRMSE": f"{float(stats['ubrmse']):.4f}",
        "bias": f"{float(stats['bias']):+.4f}",
        "n": str(int(stats["n"])),
    }


def test_scatter_draws_pairs_on_equal_axes_with_the_one_to_one_line_and_metrics(tmp_path):
    ds = stations()
    before = ds.copy(deep=True)
    fig = plot.scatter(ds.predicted, ds.observed)
    axis = fig.axes[0]
    assert axis.get_xlabel() == "observed soil moisture [m3 m-3]"
    assert axis.get_ylabel() == "predicted soil moisture [m3 m-3]"
    assert axis.get_xlim() == axis.get_ylim() == (0.0, 0.5)
    assert axis.get_aspect() == 1.0
    (one_to_one,) = [line for line in axis.get_lines() if line.get_label() == "1:1"]
    assert list(one_to_one.get_xdata()) == list(one_to_one.get_ydata()) == [0.0, 0.5]
    valid = np.isfinite(ds.predicted) & np.isfinite(ds.observed)
    points = axis.collections[0].get_offsets()
    assert points.shape == (int(valid.sum()), 2)  # the two NaN pairs are left out
    np.testing.assert_allclose(points[:, 1], ds.predicted.values[valid.values])  # y: predicted
    text = axis.texts[0].get_text()
    assert dict(METRIC.findall(text)) == expected_metrics(
        metrics.summary(ds.predicted, ds.observed)
    )
    for name in ("RMSE", "ubRMSE", "bias"):
        assert re.search(rf"(?<!\w){name} = \S+ m3 m-3", text)
    assert axis.get_title() == "default"  # the model name
    assert not_blank(fig, tmp_path / "scatter.png")
    xr.testing.assert_identical(ds, before)


def test_scatter_switches_to_a_log_scaled_2d_histogram_for_dense_data():
    rng = np.random.default_rng(2)
    obs = xr.DataArray(rng.uniform(0.05, 0.45, (80, 80)), dims=("y", "x"))
    pred = (obs + rng.normal(0, 0.03, obs.shape)).where(obs > 0.06)
    pred[0, 0] = 0.7  # above the axes
    fig = plot.scatter(pred, obs)
    axis, colorbar = fig.axes
    (counts,) = axis.collections
    assert isinstance(counts, PolyCollection) and not isinstance(counts, PathCollection)
    assert isinstance(counts.norm, LogNorm)
    assert colorbar.get_ylabel() == "count"
    valid = np.isfinite(pred.values) & np.isfinite(obs.values)
    inside = valid & (pred.values <= 0.5) & (pred.values >= 0)
    assert valid.sum() > plot.DENSE_POINTS
    assert counts.get_array().sum() == inside.sum()
    assert "1 outside the axes" in axis.texts[0].get_text()
    assert f"n = {valid.sum()}" in axis.texts[0].get_text()

    fig = plot.scatter(pred, obs, max_points=10_000)  # the threshold is a keyword
    assert isinstance(fig.axes[0].collections[0], PathCollection)
    assert len(fig.axes) == 1  # points need no colorbar


def test_scatter_makes_one_panel_per_label_of_the_dim_left_over():
    ds = stations(n_stations=4)
    fig = plot.scatter(ds.predicted, ds.observed.transpose("time", "station"), dim="time")
    per_station = metrics.summary(ds.predicted, ds.observed, dim="time")
    assert len(fig.axes) == 4
    for i, axis in enumerate(fig.axes):
        assert axis.get_title() == f"station = S{i + 1:03d}"
        text = axis.texts[0].get_text()
        assert dict(METRIC.findall(text)) == expected_metrics(per_station.isel(station=i))
    assert fig._suptitle.get_text() == "default"


def test_scatter_gives_the_same_numbers_for_dask_inputs():
    ds = stations()
    numpy_text = plot.scatter(ds.predicted, ds.observed).axes[0].texts[0].get_text()
    lazy = ds.chunk({"station": 1})
    assert plot.scatter(lazy.predicted, lazy.observed).axes[0].texts[0].get_text() == numpy_text


def test_scatter_labels_default_units_and_uses_a_custom_range():
    obs = xr.DataArray(np.linspace(0.1, 0.5, 30), dims="time")
    fig = plot.scatter(obs * 1.1, obs, vmax=0.6, title="run 3")
    axis = fig.axes[0]
    assert axis.get_xlabel() == "observed soil moisture [m3 m-3]"
    assert axis.get_xlim() == axis.get_ylim() == (0.0, 0.6)
    (one_to_one,) = [line for line in axis.get_lines() if line.get_label() == "1:1"]
    assert list(one_to_one.get_xdata()) == [0.0, 0.6]
    assert axis.get_title() == "run 3"


def test_scatter_rejects_pairs_that_do_not_match():
    ds = stations()
    pred, obs = ds.predicted, ds.observed
    with pytest.raises(ValueError, match=r"pred dims \('station', 'time'\) and obs dims"):
        plot.scatter(pred, obs.isel(station=0))
    with pytest.raises(ValueError, match=r"pred sizes .* and obs sizes .* differ"):
        plot.scatter(pred, obs.isel(time=slice(0, 10)))
    with pytest.raises(ValueError, match="different coordinate labels"):
        plot.scatter(pred, obs.assign_coords(time=obs.time + pd.Timedelta("1D")))
    with pytest.raises(ValueError, match=r"pred is in 'm3 m-3' but obs in '%'.*convert"):
        plot.scatter(pred, (obs * 100).assign_attrs(units="%"))
    with pytest.raises(ValueError, match=r"dim \['depth'\] not in the data's dims"):
        plot.scatter(pred, obs, dim="depth")
    with pytest.raises(ValueError, match="add the others to dim"):
        plot.scatter(pred.expand_dims(depth=2), obs.expand_dims(depth=2), dim="time")
    with pytest.raises(
        ValueError, match="ax= draws one panel but there are 3; select one station first"
    ):
        _, ax = plt.subplots()
        plot.scatter(pred, obs, dim="time", ax=ax)
    with pytest.raises(TypeError, match=r"obs must be an xarray\.DataArray"):
        plot.scatter(pred, obs.values)


def test_timeseries_draws_one_panel_per_station_with_its_metrics(tmp_path):
    ds = stations(n_stations=8)
    before = ds.copy(deep=True)
    fig = plot.timeseries(ds)
    per_station = metrics.summary(ds.predicted, ds.observed, dim="time")
    assert len(fig.axes) == 6
    assert fig._suptitle.get_text() == "default (first 6 of 8 stations)"
    for i, axis in enumerate(fig.axes):
        title = axis.get_title(loc="left")
        assert title.startswith(f"S{i + 1:03d}: ")
        assert dict(METRIC.findall(title)) == expected_metrics(per_station.isel(station=i))
        assert "RMSE = " in title and title.count("m3 m-3") == 3
        assert axis.get_ylabel() == "soil moisture [m3 m-3]"
        assert axis.get_ylim() == (0.0, 0.5)
        observed, predicted = axis.get_lines()
        assert (observed.get_linestyle(), observed.get_marker()) == ("-", "o")
        assert (predicted.get_linestyle(), predicted.get_marker()) == ("None", "s")
        np.testing.assert_array_equal(observed.get_ydata(), ds.observed.values[i])  # NaN: a gap
        np.testing.assert_array_equal(predicted.get_xdata(), ds.time.values)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        "observed",
        "predicted",
    ]
    assert not_blank(fig, tmp_path / "timeseries.png")
    xr.testing.assert_identical(ds, before)


def test_timeseries_selects_stations_and_takes_two_dataarrays():
    ds = stations(n_stations=4)
    titles = [a.get_title(loc="left") for a in plot.timeseries(ds).axes]
    pair = plot.timeseries(ds.predicted, ds.observed.transpose("time", "station"))
    assert [a.get_title(loc="left") for a in pair.axes] == titles
    one = plot.timeseries(ds, station="S003")
    assert [a.get_title(loc="left") for a in one.axes] == [titles[2]]
    two = plot.timeseries(ds, station=["S004", "S001"])
    assert [a.get_title(loc="left") for a in two.axes] == [titles[3], titles[0]]
    series = plot.timeseries(ds.predicted.sel(station="S002"), ds.observed.sel(station="S002"))
    assert [a.get_title(loc="left") for a in series.axes] == [titles[1]]
    _, ax = plt.subplots()
    assert plot.timeseries(ds, station="S002", ax=ax).axes == [ax]


def test_timeseries_rejects_bad_input():
    ds = stations()
    with pytest.raises(ValueError, match=r"station \['S999'\] not found; available: S001, S002"):
        plot.timeseries(ds, station="S999")
    with pytest.raises(ValueError, match="needs variables 'predicted' and 'observed'"):
        plot.timeseries(ds[["predicted"]])
    with pytest.raises(TypeError, match="either a Dataset"):
        plot.timeseries(ds, ds.observed)
    with pytest.raises(TypeError, match="obs is missing"):
        plot.timeseries(ds.predicted)
    with pytest.raises(ValueError, match=r"needs \(station, time\) data, got dims \('y', 'x'\)"):
        maps = ssm(nt=1).isel(time=0)
        plot.timeseries(maps, maps)
    with pytest.raises(ValueError, match="ax= draws one panel but there are 3; select one station"):
        _, ax = plt.subplots()
        plot.timeseries(ds, ax=ax)


def test_scatter_titles_panels_by_label_and_notes_panels_left_out():
    ds = stations(n_stations=8)
    fig = plot.scatter(ds.predicted, ds.observed, dim="time")
    assert len(fig.axes) == 6
    assert fig._suptitle.get_text() == "default (first 6 of 8 along station)"
    one = ds.isel(station=[1])
    _, ax = plt.subplots()
    fig = plot.scatter(one.predicted, one.observed, dim="time", ax=ax)
    assert ax.get_title() == "default, station = S002" and fig._suptitle is None
