"""``xsoilmoist demo``: the bundled model on a simulated scene and on the real sample pair.

The simulated part runs offline; the real Sentinel-1/Sentinel-2 pair is fetched
through :mod:`xsoilmoist.datasets` and is skipped, with one line saying how to
get it, when it cannot be fetched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from xsoilmoist import datasets
from xsoilmoist.bands import standardize
from xsoilmoist.errors import SampleDataError
from xsoilmoist.report import check

__all__ = ["run_demo"]


def _inputs_quicklook(std: xr.Dataset, title: str, path: Path) -> None:
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


def _save_map(ssm: xr.DataArray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xsoilmoist.plot import moisture_map

    fig = moisture_map(ssm, title=title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _load_default(model):
    from xsoilmoist.weights import ModelNotAvailableError, load_model

    try:
        return load_model(model)
    except ModelNotAvailableError as err:
        print(f"no trained model to run ({err})\nshowing the inputs only.\n")
        return None


def _simulated(output: Path, model) -> list[Path]:
    from xsoilmoist.inference import predict
    from xsoilmoist.io import write_result
    from xsoilmoist.metrics import summary
    from xsoilmoist.synthetic import simulate_scene

    scene = simulate_scene("farmland", shape=(256, 256), times=4, seed=2024)
    print(f"SIMULATED farmland scene, {dict(scene.sizes)} (xsoilmoist.synthetic, seed 2024)")
    ssm = predict(scene, model)
    scores = summary(ssm, scene["ssm_true"])
    print(
        "  against the simulated truth: "
        + ", ".join(
            f"{name} {float(scores[name]):.3f}" for name in ("r2", "rmse", "ubrmse", "bias")
        )
        + " (m3/m3; one farmland scene, whose R2 is lower than the card's pooled R2 over"
        " three regions: the spread between regions adds to the variance explained)"
    )
    tif = write_result(ssm, output / "simulated_farmland_ssm.tif", overwrite=True)
    png = output / "simulated_farmland_ssm.png"
    _save_map(ssm, f"simulated farmland: {ssm.attrs['model']} prediction", png)
    truth_png = output / "simulated_farmland_truth.png"
    _save_map(scene["ssm_true"], "simulated farmland: truth", truth_png)
    return [tif, png, truth_png]


def run_demo(
    output: str | Path = "xsoilmoist-demo", site: int | str = 0, model: str = "default"
) -> list[Path]:
    """Predict soil moisture for a simulated scene and a real Sentinel-1/2 pair; write maps.

    Prints the input report and metrics against the simulated truth, and says
    where each file went. Without a trained model it shows the standardized
    inputs only, and says so. When the real pair cannot be fetched (offline,
    upstream gone) it runs the simulated part only and says in one line what
    it skipped and how to get the pair (``XSOILMOIST_DATA_URL``, or the URLs
    to download by hand).

    Parameters
    ----------
    output
        Folder for the outputs (created if needed).
    site
        BigEarthNet site index or name (see
        :func:`xsoilmoist.datasets.bigearthnet_sites`).
    model
        Model name or path (default: the bundled model).

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
    loaded = _load_default(model)
    written = _simulated(output, loaded) if loaded is not None else []
    written += _real_pair(output, site, loaded)
    print()
    for path in written:
        print(f"wrote {path}")
    return written


def _real_pair(output: Path, site: int | str, loaded) -> list[Path]:
    """Report, quicklook and (with a model) prediction of the real pair; skipped if unfetchable."""
    try:
        raw = datasets.load_bigearthnet_pair(site, standardize=False)
    except SampleDataError as err:
        print(f"\nskipped the real Sentinel-1/Sentinel-2 pair: {err}")
        return []
    name = raw.attrs.get("s2_patch", f"site-{site}")
    print(f"\nReal Sentinel-1/Sentinel-2 pair {name} ({raw.sizes['y']} x {raw.sizes['x']} px):")
    print(check(raw))
    std = standardize(raw)
    png = output / f"{name}_inputs.png"
    _inputs_quicklook(std, f"{name}: standardized inputs", png)
    written = [png]
    if loaded is not None:
        from xsoilmoist.inference import predict
        from xsoilmoist.io import write_result

        ssm = predict(raw, loaded)
        written.append(write_result(ssm, output / f"{name}_ssm.tif", overwrite=True))
        map_png = output / f"{name}_ssm.png"
        _save_map(ssm, f"{name}\n{ssm.attrs['model']} model (no ground truth here)", map_png)
        written.append(map_png)
    return written
