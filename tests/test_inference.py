import pickle
import warnings

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from helpers import raise_if_dask_computes

torch = pytest.importorskip("torch")

import xsoilmoist  # noqa: E402
from xsoilmoist import inference  # noqa: E402
from xsoilmoist.errors import InputError  # noqa: E402
from xsoilmoist.inference import predict  # noqa: E402
from xsoilmoist.model import SSMNet, SSMNetConfig  # noqa: E402
from xsoilmoist.weights import ModelCard, save_model  # noqa: E402

TILE, OVERLAP = 64, 24


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    config = SSMNetConfig(name="tiny-test", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
    torch.manual_seed(0)
    card = ModelCard(
        name="tiny-test",
        config={},
        trained=False,
        description="random weights for tests",
        tile=TILE,
        halo=8,
        required_modalities=["sar_c"],
    )
    weights_path, _ = save_model(SSMNet(config), tmp_path_factory.mktemp("m") / "tiny", card)
    return weights_path


def scene(ny=70, nx=90, nt=2, seed=0, descending=True):
    """A canonical-band scene on a UTM grid with smooth fields plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")

    def field(mean, amp, noise, t):
        base = mean + amp * np.sin(yy / 13.0 + t) * np.cos(xx / 17.0 - t)
        return (base + noise * rng.standard_normal((ny, nx))).astype("float32")

    def stack(mean, amp, noise):
        return (("time", "y", "x"), np.stack([field(mean, amp, noise, t) for t in range(nt)]))

    y = 5_000_000.0 - 10.0 * np.arange(ny) if descending else 4_999_000.0 + 10.0 * np.arange(ny)
    ds = xr.Dataset(
        {
            "vv": stack(-12, 3, 1.0),
            "vh": stack(-19, 2, 1.0),
            "blue": stack(0.05, 0.01, 0.003),
            "green": stack(0.08, 0.02, 0.003),
            "red": stack(0.07, 0.03, 0.003),
            "nir": stack(0.3, 0.1, 0.01),
            "swir1": stack(0.2, 0.05, 0.01),
            "swir2": stack(0.12, 0.04, 0.01),
            "elevation": (("y", "x"), field(300, 20, 0.5, 0)),
            "t2m": stack(18, 2, 0.1),
            "tp": stack(2, 1, 0.1),
        },
        coords={
            "time": pd.date_range("2022-05-01", periods=nt, freq="12D"),
            "y": y,
            "x": 600_000.0 + 10.0 * np.arange(nx),
            "site": "test",
        },
        attrs={"title": "test scene"},
    )
    units = {"vv": "dB", "vh": "dB", "elevation": "m", "t2m": "degC", "tp": "mm"}
    for name in ds.data_vars:
        ds[name].attrs["units"] = units.get(name, "1")
    ds["tp"] = ds["tp"].clip(min=0)
    ds["tp"].attrs["units"] = "mm"
    return ds.rio.write_crs("EPSG:32633")


@pytest.fixture(autouse=True)
def _no_untrained_warning_noise():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*untrained weights")
        yield


def test_output_is_labelled_georeferenced_float32(model_path):
    ds = scene()
    ssm = predict(ds, model_path)
    assert isinstance(ssm.data, np.ndarray)  # numpy in, computed out
    assert ssm.name == "ssm" and ssm.dims == ("time", "y", "x") and ssm.dtype == np.float32
    for name in ("time", "y", "x", "site"):
        xr.testing.assert_identical(ssm[name], ds[name])
    assert ssm.rio.crs.to_epsg() == 32633
    assert ssm.attrs["units"] == "m3 m-3"
    assert ssm.attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert ssm.attrs["model"] == "tiny-test" and len(ssm.attrs["model_sha256"]) == 64
    assert ssm.attrs["model_trained"] == "False"
    values = ssm.values
    assert np.isfinite(values).all()
    assert values.min() >= 0 and values.max() <= 0.6


def test_accessor_and_function_agree(model_path):
    ds = scene(ny=40, nx=40, nt=1)
    np.testing.assert_array_equal(
        ds.ssm.predict(model_path).values, xsoilmoist.predict(ds, model=model_path).values
    )


def test_input_is_not_mutated(model_path):
    ds = scene(ny=40, nx=40, nt=1)
    before = ds.copy(deep=True)
    predict(ds, model_path)
    xr.testing.assert_identical(ds, before)


def test_predict_is_lazy_on_dask(model_path):
    ds = scene().chunk({"y": 30, "x": 40})
    with raise_if_dask_computes():
        ssm = predict(ds, model_path)
    assert ssm.chunks is not None
    eager = predict(scene(), model_path)
    np.testing.assert_allclose(ssm.compute().values, eager.values, atol=1e-6)


@pytest.mark.parametrize(
    "chunks",
    [{"y": 7, "x": 11}, {"y": 33, "x": 90}, {"time": 1, "y": 64, "x": 17}],
)
def test_result_does_not_depend_on_chunking(model_path, chunks):
    ds = scene(seed=3)
    reference = predict(ds, model_path).values
    chunked = predict(ds.chunk(chunks), model_path).compute().values
    np.testing.assert_allclose(chunked, reference, atol=1e-6, rtol=0)


def test_block_size_does_not_change_the_result(model_path, monkeypatch):
    ds = scene(ny=130, nx=150, nt=1, seed=4)
    reference = predict(ds, model_path).values
    monkeypatch.setattr(inference, "TARGET_BLOCK", 50)  # one tile core per block
    np.testing.assert_allclose(predict(ds, model_path).values, reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(9, 13), (1, 1), (65, 41), (41, 130)])
def test_small_and_odd_shapes(model_path, shape):
    ds = scene(ny=shape[0], nx=shape[1], nt=1)
    ds = ds.drop_vars("elevation")  # slope needs at least 2 x 2 pixels
    ssm = predict(ds, model_path)
    assert ssm.shape == (1, *shape)
    assert np.isfinite(ssm.values).all()


def test_scene_without_time_needs_a_date(model_path):
    ds = scene(ny=40, nx=40, nt=1).isel(time=0, drop=True)
    with pytest.raises(ValueError, match="date="):
        predict(ds, model_path)
    ssm = predict(ds, model_path, date="2022-05-01")
    assert ssm.dims == ("y", "x")
    with_time = predict(scene(ny=40, nx=40, nt=1), model_path)
    np.testing.assert_allclose(ssm.values, with_time.values[0], atol=1e-6)


def test_ascending_y_works_and_keeps_its_coordinates(model_path):
    ds = scene(ny=50, nx=40, nt=1, descending=False)
    ssm = predict(ds, model_path)
    np.testing.assert_array_equal(ssm["y"].values, ds["y"].values)
    assert np.isfinite(ssm.values).all()


def test_nan_holes_give_nan_only_where_nothing_is_valid(model_path):
    ds = scene(ny=80, nx=80, nt=1)
    hole = np.zeros((80, 80), dtype=bool)
    hole[10:60, 20:70] = True
    for name in ds.data_vars:
        ds[name] = ds[name].where(~xr.DataArray(hole, dims=("y", "x")))
    ssm = predict(ds, model_path).values[0]
    assert np.isnan(ssm[hole]).all()
    assert np.isfinite(ssm[~hole]).all()


def test_optical_gap_still_predicts(model_path):
    ds = scene(ny=40, nx=40, nt=1)
    clear = predict(ds, model_path).values
    for name in ("blue", "green", "red", "nir", "swir1", "swir2"):
        ds[name][:, :20] = np.nan  # clouds over the top half
    ssm = predict(ds, model_path).values
    assert np.isfinite(ssm).all()
    assert np.abs(ssm - clear)[:, :20].mean() > 1e-4  # the model did use the optical bands


def test_missing_required_modality_lists_accepted_names(model_path):
    ds = scene(ny=20, nx=20, nt=1).drop_vars(["vv", "vh"])
    with raise_if_dask_computes(), pytest.raises(InputError) as info:
        predict(ds.chunk(), model_path)
    message = str(info.value)
    assert "needs modality 'sar_c', which is missing: add ['vv', 'vh', 'vh_vv']" in message
    assert "sigma0_vv" in message and "rename=" in message


def test_an_absent_optional_modality_is_an_all_invalid_one(model_path):
    ds = scene(ny=20, nx=20, nt=1)
    sar_only = predict(ds[["vv", "vh"]], model_path).values
    assert np.isfinite(sar_only).all()
    blanked = ds.copy()
    for name in ds.data_vars:
        if name not in ("vv", "vh"):
            blanked[name] = ds[name].where(False)
    with pytest.raises(InputError, match="'blue' has no valid pixel"):  # absent is fine,
        predict(blanked, model_path)  # all-NaN is not
    assert not np.allclose(sar_only, predict(ds, model_path).values)


def test_bad_tiling_arguments(model_path):
    ds = scene(ny=20, nx=20, nt=1)
    with pytest.raises(ValueError, match="at least 2 \\* halo \\+ 2 = 18"):
        predict(ds, model_path, overlap=10)
    with pytest.raises(ValueError, match="tile 32 is too small"):
        predict(ds, model_path, tile=32, overlap=24)
    with pytest.raises(ValueError, match="batch_size"):
        predict(ds, model_path, batch_size=0)
    with pytest.raises(InputError, match=r"tile must be from 32 to 2048 pixels, got 100000"):
        predict(ds, model_path, tile=100_000)


def test_no_spatial_dims(model_path):
    ds = xr.Dataset({"vv": (("a", "b"), np.zeros((3, 3)), {"units": "dB"})})
    with pytest.raises(ValueError, match="no spatial dimensions"):
        predict(ds, model_path)


class _RefusingPickler(cloudpickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, torch.nn.Module):
            raise AssertionError("a torch module was pickled into the task graph")
        return NotImplemented


def test_tasks_carry_a_model_reference_not_the_model(model_path):
    import io

    ssm = predict(scene(ny=40, nx=40, nt=1).chunk(), model_path)
    graph = dict(ssm.data.__dask_graph__())
    buffer = io.BytesIO()
    _RefusingPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(graph)
    from safetensors.numpy import load_file

    tensors = load_file(model_path)
    largest = max(tensors.values(), key=lambda t: t.nbytes)
    assert largest.nbytes > 1000
    assert largest.tobytes()[:256] not in buffer.getvalue()  # no weights inside the graph


def test_the_model_is_loaded_once_per_process(model_path, tmp_path):
    from xsoilmoist.weights import load_model, save_model

    model = load_model(model_path)
    fresh, _ = save_model(model, tmp_path / "fresh", model.card)  # not cached yet
    before = inference.model_load_count()
    for _ in range(3):
        predict(scene(ny=20, nx=20, nt=1).chunk(), fresh).compute()
    assert inference.model_load_count() - before == 1


def test_in_memory_model_works_locally(model_path):
    from xsoilmoist.weights import load_model

    model = load_model(model_path)
    ds = scene(ny=30, nx=30, nt=1)
    np.testing.assert_array_equal(predict(ds, model).values, predict(ds, model_path).values)


def test_progress_bar(model_path, capsys):
    predict(scene(ny=30, nx=30, nt=1).chunk(), model_path, progress=True)
    assert "Completed" in capsys.readouterr().out


def _seam_ratio(values, stride, margin):
    """Mean |difference| across the worst tile-core border line over that across the worst
    other line, along both axes, away from the scene edges (1.0: borders are no worse)."""
    ratios = []
    for axis in (0, 1):
        diffs = np.abs(np.diff(values, axis=axis))
        diffs = diffs[:, margin:-margin] if axis == 0 else diffs[margin:-margin]
        profile = diffs.mean(axis=1 - axis)
        n = profile.size
        border = [i - 1 for i in range(stride, n, stride) if margin <= i - 1 < n - margin]
        other = [i for i in range(margin, n - margin) if i not in border]
        ratios.append(profile[border].max() / profile[other].max())
    return max(ratios)


def test_no_seams_on_smooth_input(model_path):
    n = 512
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    wave = np.sin(xx / 90.0 + yy / 110.0).astype("float32")
    ds = xr.Dataset(
        {
            "vv": (("y", "x"), -12 + 2 * wave, {"units": "dB"}),
            "vh": (("y", "x"), -19 + 1.5 * wave, {"units": "dB"}),
        },
        coords={
            "y": 5e6 - 10.0 * np.arange(n),
            "x": 6e5 + 10.0 * np.arange(n),
            "time": pd.Timestamp("2022-06-01"),
        },
    ).rio.write_crs("EPSG:32633")
    blended = _seam_ratio(predict(ds, model_path, tile=128, overlap=64).values, 64, 128)
    # the same stride with (almost) no blending: tiles cropped to their cores
    cropped = _seam_ratio(predict(ds, model_path, tile=82, overlap=18).values, 64, 128)
    print(f"seam ratio: blended {blended:.3f}, cropped to cores {cropped:.3f}")
    assert blended <= 1.0
    assert cropped > 1.5  # the measure does see seams where they exist


def test_a_model_without_card_tiles_like_a_saved_one_with_the_default_card(tmp_path):
    from xsoilmoist.weights import DEFAULT_HALO, DEFAULT_TILE, load_model

    torch.manual_seed(1)
    net = SSMNet(SSMNetConfig(name="bare", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))
    card = ModelCard(name="bare", config={}, trained=False, description="test")
    assert (card.tile, card.halo) == (DEFAULT_TILE, DEFAULT_HALO)
    path, _ = save_model(net, tmp_path / "bare", card)
    ds = scene(ny=300, nx=280, nt=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # untrained weights
        saved = predict(ds, load_model(path))
    in_memory = predict(ds, net)
    assert in_memory.attrs["tiling"] == saved.attrs["tiling"]
    np.testing.assert_array_equal(in_memory.values, saved.values)


def test_dask_scene_mixing_in_memory_chunks_and_tasks_equals_numpy(model_path):
    """A lazily simulated scene: chunks in memory next to tasks that build Datasets from them."""
    from xsoilmoist.synthetic import simulate_scene

    kwargs = dict(shape=(96, 80), times=2, seed=3, n_stations=2)
    eager = predict(simulate_scene("farmland", **kwargs), model_path).values
    lazy = predict(simulate_scene("farmland", chunks=48, **kwargs), model_path)
    assert lazy.chunks is not None
    np.testing.assert_allclose(lazy.values, eager, atol=1e-6)


def _tile_of(ssm: xr.DataArray) -> int:
    return int(ssm.attrs["tiling"].split(",")[0].removeprefix("tile "))


def test_default_tile_adapts_to_the_scene_with_less_model_work(model_path, monkeypatch):
    computed = []
    forward = SSMNet.forward

    def counting_forward(self, x, meta):
        computed.append(x.shape[0] * x.shape[2] * x.shape[3])
        return forward(self, x, meta)

    monkeypatch.setattr(SSMNet, "forward", counting_forward)
    ds = scene(ny=300, nx=300, nt=1)
    auto = predict(ds, model_path)
    auto_pixels = sum(computed)
    computed.clear()
    fixed = predict(ds, model_path, tile=TILE)
    assert TILE < _tile_of(auto) <= 2 * TILE and _tile_of(fixed) == TILE
    assert auto_pixels < 0.8 * sum(computed)
    # The same map, up to the tiles' different context near their borders.
    assert np.array_equal(np.isnan(auto.values), np.isnan(fixed.values))
    assert float(np.nanmean(np.abs(auto.values - fixed.values))) < 0.01


def test_tile_wide_statistics_keep_the_card_tile(tmp_path):
    config = SSMNetConfig(
        name="tiny-tile-wide", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), statistics_window=None
    )
    card = ModelCard(name="tiny-tile-wide", config={}, trained=False, tile=TILE, halo=8)
    path, _ = save_model(SSMNet(config), tmp_path / "tile-wide", card)
    ssm = predict(scene(ny=300, nx=300, nt=1).chunk({"y": 150}), path)
    assert _tile_of(ssm) == TILE  # its statistics span the tile: other tiles, other values
