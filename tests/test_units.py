import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_dask_computes

from xsoilmoist.units import UnitError, convert, parse_units, same_units


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("m3 m-3", "1"),
        ("m2 m-2", "dimensionless"),
        ("degC", "degrees_Celsius"),
        ("degree_C", "celsius"),
        ("K", "kelvin"),
        ("%", "percent"),
        ("dB", "decibel"),
        ("kg m-2 s-1", "kg/m**2/s"),
        ("m", "metre"),
    ],
)
def test_cf_spellings_parse_to_the_same_unit(a, b):
    assert same_units(a, b)


def test_unknown_units_raise_with_the_string():
    with pytest.raises(UnitError, match="'parsecs of wet'"):
        parse_units("parsecs of wet")


@pytest.mark.parametrize(
    ("values", "source", "target", "expected"),
    [
        ([273.15, 300.0], "K", "degC", [0.0, 26.85]),
        ([0.001, 0.0123], "m", "mm", [1.0, 12.3]),
        ([1.0, 0.1, 0.01], "1", "dB", [0.0, -10.0, -20.0]),
        ([1.0, 0.001], "linear", "dB", [0.0, -30.0]),
        ([-10.0, 0.0], "dB", "1", [0.1, 1.0]),
        ([50.0], "%", "1", [0.5]),
        ([20.0], "degC", "K", [293.15]),
    ],
)
def test_conversions_match_hand_values(values, source, target, expected):
    da = xr.DataArray(np.array(values), dims="x", attrs={"units": source, "note": "kept"})
    out = convert(da, source, target)
    np.testing.assert_allclose(out.values, expected, rtol=1e-6, atol=1e-5)
    assert out.dtype == np.float32
    assert out.attrs == {"units": target, "note": "kept"}
    assert da.attrs["units"] == source  # input untouched


def test_zero_linear_power_gives_minus_infinity_not_an_error():
    out = convert(xr.DataArray([0.0], dims="x"), "1", "dB")
    assert np.isneginf(out.values[0])


def test_incompatible_units_raise():
    with pytest.raises(UnitError, match="cannot convert 'K' to 'mm'"):
        convert(xr.DataArray([1.0], dims="x"), "K", "mm")


def test_conversion_is_lazy_and_equals_numpy():
    rng = np.random.default_rng(0)
    da = xr.DataArray(rng.uniform(250, 320, (20, 30)), dims=("y", "x"))
    with raise_if_dask_computes():
        lazy = convert(da.chunk({"y": 7, "x": 11}), "K", "degC")
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.compute().values, convert(da, "K", "degC").values)
