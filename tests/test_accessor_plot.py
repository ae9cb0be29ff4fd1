"""The ``da.ssm`` accessor: plots on a DataArray, beside the Dataset accessor ``ds.ssm``."""

import inspect
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xsoilmoist import bands, inference, plot, report
from xsoilmoist.accessor import SSMAccessor, SSMDataArrayAccessor


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def ssm(seed=0):
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.05, 0.45, (2, 12, 16))
    values[:, :3, :3] = np.nan
    return xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={
            "time": pd.date_range("2022-05-01", periods=2),
            "y": 1000.0 - 10 * np.arange(12),
            "x": 500_000 + 10.0 * np.arange(16),
        },
        name="ssm",
        attrs={"units": "m3 m-3", "long_name": "surface soil moisture", "model": "default"},
    )


def test_dataset_and_dataarray_accessors_are_separate():
    da = ssm()
    assert isinstance(da.ssm, SSMDataArrayAccessor)
    assert isinstance(da.to_dataset().ssm, SSMAccessor)
    assert hasattr(da.to_dataset().ssm, "predict") and hasattr(da.ssm, "predict")
    assert not hasattr(da.to_dataset().ssm, "scatter") and hasattr(da.ssm, "scatter")


def test_plot_is_moisture_map_with_its_keywords(tmp_path):
    da = ssm()
    before = da.copy(deep=True)
    fig = da.ssm.plot(vmax=0.6, title="scene 7")
    reference = plot.moisture_map(da, vmax=0.6, title="scene 7")
    assert len(fig.axes) == len(reference.axes) == 3  # two maps and the colorbar
    assert fig.axes[-1].get_ylabel() == "surface soil moisture [m3 m-3]"
    assert fig.axes[0].get_images()[0].get_clim() == (0.0, 0.6)
    assert fig._suptitle.get_text() == "scene 7"
    path = tmp_path / "map.png"
    fig.savefig(path)
    assert plt.imread(path)[..., :3].std() > 0.05
    xr.testing.assert_identical(da, before)


def test_scatter_compares_the_predictions_with_obs():
    pred, obs = ssm(0), ssm(1)
    fig = pred.ssm.scatter(obs, dim=("y", "x"))
    reference = plot.scatter(pred, obs, dim=("y", "x"))
    assert [a.get_title() for a in fig.axes] == ["time = 2022-05-01", "time = 2022-05-02"]
    assert [a.texts[0].get_text() for a in fig.axes] == [
        a.texts[0].get_text() for a in reference.axes
    ]


@pytest.mark.parametrize(
    ("method", "function", "documented_as"),
    [
        (SSMAccessor.standardize, bands.standardize, "xsoilmoist.standardize"),
        (SSMAccessor.check, report.check, "xsoilmoist.report.check"),
        (SSMAccessor.predict, inference.predict, "xsoilmoist.predict"),
        (SSMDataArrayAccessor.standardize, bands.standardize, "xsoilmoist.standardize"),
        (SSMDataArrayAccessor.check, report.check, "xsoilmoist.report.check"),
        (SSMDataArrayAccessor.predict, inference.predict, "xsoilmoist.predict"),
        (SSMDataArrayAccessor.plot, plot.moisture_map, "xsoilmoist.plot.moisture_map"),
        (SSMDataArrayAccessor.scatter, plot.scatter, "xsoilmoist.plot.scatter"),
    ],
)
def test_accessor_methods_show_the_signature_of_the_function_they_call(
    method, function, documented_as
):
    (_, *shown), (_, *expected) = (
        list(inspect.signature(f).parameters.values()) for f in (method, function)
    )
    assert next(iter(inspect.signature(method).parameters)) == "self"
    assert shown == expected
    assert (
        inspect.signature(method).return_annotation == inspect.signature(function).return_annotation
    )
    assert f":func:`{documented_as}`" in method.__doc__


def test_accessor_keywords_reach_the_function():
    da = ssm()
    fig = da.ssm.plot(cmap="viridis", vmin=0.1)
    assert fig.axes[0].get_images()[0].get_clim() == (0.1, 0.5)
    assert fig.axes[0].get_images()[0].get_cmap().name.startswith("viridis")
    with pytest.raises(TypeError, match="vmaxx"):
        da.ssm.plot(vmaxx=0.6)


def test_import_loads_neither_matplotlib_nor_torch():
    code = "import sys, xsoilmoist; print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
