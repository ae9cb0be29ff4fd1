import numpy as np
import xarray as xr
from helpers import raise_if_dask_computes
from test_bands import raw_scene

from xsoilmoist.catalogue import MODALITY_BANDS
from xsoilmoist.report import check


def test_report_lists_found_derived_and_missing_modalities():
    report = check(raw_scene())
    assert report.ok
    assert report.modalities == {
        "sar_c": "found",
        "sar_l": "missing",
        "optical": "found",
        "topography": "found",
        "vegetation": "found",
        "meteorology": "found",
    }
    text = repr(report)
    assert "OK" in text.splitlines()[0]
    assert "slope     derived  Horn's slope of elevation in degree" in text
    assert "vv        found    VV from 1 -> dB" in text
    assert "t2m       found    2t from K -> degC" in text
    assert "sentinel-2 DN: (DN -1000) x 0.0001" in text
    assert "kept as they are (not bands): scl" in text
    assert "hh        missing" in text


def test_report_shows_problems_instead_of_raising():
    ds = raw_scene()
    ds.attrs = {}
    report = ds.ssm.check()
    assert not report.ok
    assert "PROBLEMS FOUND" in repr(report)
    assert "processing_baseline='04.00'" in repr(report)
    assert "<b style='color:#b00'>problems found</b>" in report._repr_html_()


def test_report_html_has_one_row_per_model_band():
    html = check(raw_scene())._repr_html_()
    bands = sum(len(names) for names in MODALITY_BANDS.values())
    assert html.count("<tr>") == 1 + bands  # header + one row per band of every modality


def test_report_is_lazy_unless_valid_fraction_is_asked():
    ds = raw_scene().chunk({"y": 4})
    with raise_if_dask_computes():
        report = check(ds)
    assert report.valid_fraction == {}


def test_valid_fraction_counts_nan_and_fill():
    ds = raw_scene()
    ds["B04"][:] = 0  # all Sentinel-2 no-data
    ds["VV"][0] = np.nan
    report = check(ds, valid_fraction=True)
    assert report.valid_fraction["red"] == 0.0
    assert report.valid_fraction["ndvi"] == 0.0
    assert report.valid_fraction["vv"] == 0.5
    assert report.valid_fraction["t2m"] == 1.0
    assert "50.0%" in repr(report)


def test_report_on_a_dataset_without_bands():
    ds = xr.Dataset({"foo": (("y", "x"), np.zeros((2, 2)))}, coords={"y": [0, 1], "x": [0, 1]})
    report = check(ds)
    assert not report.ok  # predict would refuse it: radar is required
    assert set(report.modalities.values()) == {"missing"}
    assert any("needs modality 'sar_c', which is missing" in p for p in report.problems)
