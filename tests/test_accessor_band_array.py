"""``da.ssm`` on band-dimension arrays (stackstac, rioxarray): check, standardize, predict."""

import numpy as np
import pytest
import xarray as xr
from test_input_checks import july_scene

import xsoilmoist
from xsoilmoist.errors import InputError

BANDS = ["vv", "vh", "blue", "green", "red", "nir", "swir1", "swir2", "t2m", "tp"]


@pytest.fixture
def scene():
    return july_scene()


def band_stack(ds):
    """A stackstac-like (time, band, y, x) array with per-band units on a band coordinate."""
    da = ds[BANDS].to_array("band").transpose("time", "band", "y", "x")
    units = [ds[b].attrs["units"] for b in BANDS]
    return da.assign_coords(units=("band", units)).rio.write_crs(ds.rio.crs)


def test_band_array_predicts_as_its_dataset(scene):
    stack = band_stack(scene)
    from_array = stack.ssm.predict()
    from_dataset = xsoilmoist.predict(scene[BANDS], "default")
    xr.testing.assert_allclose(from_array, from_dataset)
    assert from_array.rio.crs == scene.rio.crs
    assert from_array.dims == ("time", "y", "x")


def test_band_array_check_and_standardize(scene):
    stack = band_stack(scene)
    report = stack.ssm.check()
    assert report.ok and report.modalities["sar_c"] == "found"
    std = stack.ssm.standardize()
    assert std["t2m"].attrs["units"] == "degC" and "ndvi" in std
    assert "band" in stack.dims and "units" in stack.coords  # the input is not modified


def test_band_array_without_units_is_reported_not_ok(scene):
    stack = band_stack(scene).drop_vars("units")
    report = stack.ssm.check()
    assert not report.ok and any("'vv'" in p and "units" in p for p in report.problems)


def test_a_wrapped_array_without_bands_is_not_ok(scene):
    """The old advice, ``to_dataset(name=...)``, gave OK with every band missing."""
    wrapped = band_stack(scene).to_dataset(name="stack")
    report = xsoilmoist.check(wrapped)
    assert not report.ok
    assert any("needs modality 'sar_c', which is missing" in p for p in report.problems)


def test_array_without_band_dim_names_the_fix(scene):
    with pytest.raises(InputError, match=r"no 'band' dimension and is not named after a band"):
        scene["vv"].rename("something").ssm.predict()
    std = scene["vv"].rename("VV").ssm.standardize()
    assert list(std.data_vars) == ["vv"]
    np.testing.assert_allclose(std["vv"].values, scene["vv"].values)
