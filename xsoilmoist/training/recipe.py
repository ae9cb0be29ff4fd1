"""Training recipes: reading the TOML file of ``xsoilmoist train RECIPE.toml``.

The file names the network, the scenes (files on disk or simulated ones),
the settings of each stage and where to write the model::

    seed = 0                         # default seed of both stages

    [model]
    config = "atto"                  # a named configuration ...
    depths = [1, 1, 1, 1]            # ... with any SSMNetConfig field overridden
    dims = [8, 16, 32, 64]
    # start_from = "base.safetensors"  # or continue from a saved model

    [[data]]                         # one table per group of scenes
    split = "train"                  # "train", "validation" or "test"
    region = "farmland"              # simulated scenes (xsoilmoist.synthetic) ...
    seeds = [0, 1, 2]
    shape = [128, 128]
    times = 8
    coarse_resolution = 320.0

    [[data]]
    split = "test"
    files = ["scenes/*.zarr"]        # ... or files, with ssm_coarse/footprint_id/station_ssm

    [pretrain]                       # stage 1 (omit to skip); PretrainSettings fields
    steps = 2000

    [finetune]                       # stage 2 (omit to skip); FinetuneSettings fields
    freeze_encoder = true

    [output]
    path = "models/mymodel"          # writes mymodel.safetensors + mymodel.json

Relative paths are relative to the TOML file's folder. Every key is checked:
an unknown key, a wrong type or a missing required value is a
:class:`TrainingConfigError` naming the file, the table and the key.
"""

from __future__ import annotations

import dataclasses
import glob
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xsoilmoist.errors import InputTypeError, TrainingConfigError
from xsoilmoist.training.settings import FinetuneSettings, PretrainSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DataSource",
    "OutputSettings",
    "TrainingConfigError",
    "TrainingRecipe",
    "load_training_recipe",
]

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DataSource:
    """A group of scenes: files on disk, or simulated scenes of one region.

    Attributes
    ----------
    split
        ``"train"``, ``"validation"`` (early stopping) or ``"test"`` (the
        metrics written into the model card).
    files
        Paths or glob patterns of netCDF files or Zarr stores; give either
        ``files`` or ``region``.
    region, seeds, shape, times, coarse_resolution, n_stations, l_band
        Arguments of :func:`xsoilmoist.synthetic.simulate_scene`, one scene
        per seed (``times``: a number of overpasses or a list of dates).
    """

    split: str
    files: tuple[str, ...] = ()
    region: str = ""
    seeds: tuple[int, ...] = (0,)
    shape: tuple[int, ...] = (256, 256)
    times: int | tuple[str, ...] = 8
    coarse_resolution: float = 1000.0
    n_stations: int = 12
    l_band: bool = False

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (for the model card)."""
        if self.files:
            return {"split": self.split, "files": list(self.files)}
        out = dataclasses.asdict(self)
        out.pop("files")
        out["source"] = "simulated scenes (xsoilmoist.synthetic)"
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def datasets(self, base: Path) -> list[Any]:
        """Open (or simulate) the scenes; relative file paths are taken from ``base``."""
        import xarray as xr

        if self.region:
            from xsoilmoist.synthetic import simulate_scene

            times = list(self.times) if isinstance(self.times, tuple) else self.times
            return [
                simulate_scene(
                    self.region,
                    shape=tuple(self.shape),
                    times=times,
                    seed=seed,
                    coarse_resolution=self.coarse_resolution,
                    n_stations=self.n_stations,
                    l_band=self.l_band,
                )
                for seed in self.seeds
            ]
        out = []
        for pattern in self.files:
            full = pattern if Path(pattern).is_absolute() else str(base / pattern)
            matches = sorted(glob.glob(full)) if glob.has_magic(full) else [full]
            if not matches or not all(Path(m).exists() for m in matches):
                raise TrainingConfigError(
                    f"[[data]] files: {pattern!r} matches no file (looked for {full})"
                )
            for path in matches:
                is_zarr = path.rstrip("/").endswith(".zarr")
                out.append(xr.open_zarr(path) if is_zarr else xr.open_dataset(path))
        return out


@dataclass(frozen=True)
class OutputSettings:
    """Where and how the trained model is written.

    Attributes
    ----------
    path
        Output path without suffix (``.safetensors`` and ``.json`` are added).
    name
        Model name in the card (default: the path's file name).
    description
        Text of the card (a default one says what was trained on what).
    license, version
        Licence and version of the weights.
    tile, halo
        Tiled-inference defaults written into the card.
    checkpoints
        Write ``PATH-pretrain`` and ``PATH-finetune`` checkpoints while training.
    """

    path: str
    name: str = ""
    description: str = ""
    license: str = "Apache-2.0"
    version: str = "1"
    tile: int = 256
    halo: int = 32
    checkpoints: bool = False


@dataclass(frozen=True)
class TrainingRecipe:
    """A parsed training recipe, the TOML file (see the module documentation for the format).

    Attributes
    ----------
    model
        ``config`` (a named configuration), ``start_from`` (a saved model) and
        :class:`~xsoilmoist.model.SSMNetConfig` field overrides.
    data
        The scene groups.
    pretrain, finetune
        Stage settings, ``None`` to skip a stage.
    output
        Where to write the model.
    base
        Folder relative paths are taken from.
    source
        Name of the file, for messages.
    """

    model: dict[str, Any]
    data: tuple[DataSource, ...]
    pretrain: PretrainSettings | None
    finetune: FinetuneSettings | None
    output: OutputSettings
    base: Path = field(default_factory=Path.cwd)
    source: str = "training recipe"

    def network_config(self):
        """The :class:`~xsoilmoist.model.SSMNetConfig` named and overridden in ``[model]``."""
        from xsoilmoist.model import DEFAULT_CONFIG, get_config

        overrides = {k: v for k, v in self.model.items() if k not in ("config", "start_from")}
        name = self.model.get("config", DEFAULT_CONFIG)
        try:
            base = get_config(name)
            return dataclasses.replace(base, **overrides)
        except (TypeError, ValueError) as err:
            raise TrainingConfigError(f"{self.source}: [model] {err}") from None

    def output_path(self) -> Path:
        """The output path, relative paths taken from :attr:`base`."""
        path = Path(self.output.path).expanduser()
        return path if path.is_absolute() else self.base / path

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, base: Path | None = None, source: str = "configuration"
    ) -> TrainingRecipe:
        """Check and convert parsed TOML (a nested dict)."""
        _check_keys(data, {"seed", "model", "data", "pretrain", "finetune", "output"}, "", source)
        seed = _convert(data.get("seed", 0), int, "seed", source)
        model = _model_table(data.get("model", {}), source)
        sources = _data_tables(data.get("data"), source)
        stages = {}
        for name, settings_cls in (("pretrain", PretrainSettings), ("finetune", FinetuneSettings)):
            table = data.get(name)
            stages[name] = (
                None if table is None else _settings(table, settings_cls, name, seed, source)
            )
        if stages["pretrain"] is None and stages["finetune"] is None:
            raise TrainingConfigError(
                f"{source}: nothing to train; add a [pretrain] table (coarse labels), a "
                "[finetune] table (stations), or both"
            )
        if "output" not in data:
            raise TrainingConfigError(
                f'{source}: an [output] table with path = "..." is required (where to write '
                "the model)"
            )
        output = _table(data["output"], OutputSettings, "output", source)
        recipe = cls(
            model=model,
            data=sources,
            pretrain=stages["pretrain"],
            finetune=stages["finetune"],
            output=output,
            base=base or Path.cwd(),
            source=source,
        )
        if "start_from" not in model:
            recipe.network_config()  # check the network's configuration now, not after hours
        return recipe


def load_training_recipe(path: str | Path) -> TrainingRecipe:
    """Read and check a training TOML file.

    Raises
    ------
    TrainingConfigError
        If the file is missing, is not valid TOML (with the line), or has an
        unknown key, a value of the wrong type or a missing required value
        (naming the table and key).

    Examples
    --------
    >>> recipe = load_training_recipe("train.toml")  # doctest: +SKIP
    >>> recipe.pretrain.steps  # doctest: +SKIP
    2000
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise TrainingConfigError(f"cannot read training configuration {path}: {err}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TrainingConfigError(f"{path} is not valid TOML: {err}") from None
    return TrainingRecipe.from_dict(data, base=path.resolve().parent, source=str(path))


# --- checking and converting values -------------------------------------------------------


def _where(table: str, key: str) -> str:
    return f"[{table}] {key}" if table else key


def _check_keys(data: Any, known: set[str], table: str, source: str) -> None:
    if not isinstance(data, Mapping):
        raise TrainingConfigError(
            f"{source}: [{table}] must be a table, got {type(data).__name__} {data!r}"
        )
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"[{table}]" if table else "the top level"
        raise TrainingConfigError(
            f"{source}: unknown key(s) {unknown} in {where}; known keys: {sorted(known)}"
        )


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table of lists of strings"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    """``value`` as ``hint`` (bool, int, float, str, unions, tuples, dicts), or a clear error."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)

    def fail() -> TrainingConfigError:
        return TrainingConfigError(f"{source}: {key} must be {_describe(hint)}, got {value!r}")

    if origin in (typing.Union, types.UnionType):
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, key, source)
            except TrainingConfigError:
                continue
        raise fail()
    if origin is tuple:
        if not isinstance(value, list):
            raise fail()
        return tuple(_convert(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail()
        return {str(k): _convert(v, args[1], f"{key}.{k}", source) for k, v in value.items()}
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - a field type this parser does not know
        raise InputTypeError(f"unsupported field type {hint!r} for {key}")
    if not ok:
        raise fail()
    return value


def _table(data: Any, cls: type, table: str, source: str, defaults: dict | None = None):
    """Build dataclass ``cls`` from a TOML table, checking keys and types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    _check_keys(data, names, table, source)
    values = dict(defaults or {})
    for key, value in data.items():
        values[key] = _convert(value, hints[key], _where(table, key), source)
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if required:
        raise TrainingConfigError(f"{source}: [{table}] needs {', '.join(required)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise TrainingConfigError(f"{source}: [{table}] {err}") from None


def _settings(data: Any, cls: type, table: str, seed: int, source: str):
    defaults: dict[str, Any] = {"seed": seed}
    if isinstance(data, Mapping) and data.get("patience") == 0:  # TOML has no null
        data = {k: v for k, v in data.items() if k != "patience"}
        defaults["patience"] = None  # 0 disables early stopping
    return _table(data, cls, table, source, defaults=defaults)


def _model_table(data: Any, source: str) -> dict[str, Any]:
    from xsoilmoist.model import SSMNetConfig

    hints = typing.get_type_hints(SSMNetConfig)
    hints.pop("name")
    hints.update(config=str, start_from=str, name=str)
    _check_keys(data, set(hints), "model", source)
    model = {k: _convert(v, hints[k], _where("model", k), source) for k, v in data.items()}
    if "start_from" in model and set(model) - {"start_from"}:
        raise TrainingConfigError(
            f"{source}: [model] start_from continues a saved model with its own configuration; "
            f"remove {sorted(set(model) - {'start_from'})}"
        )
    return model


def _data_tables(data: Any, source: str) -> tuple[DataSource, ...]:
    if not data:
        raise TrainingConfigError(
            f'{source}: no scenes; add [[data]] tables with split = "train" and files = [...] '
            'or region = "farmland" (simulated)'
        )
    if not isinstance(data, list):
        raise TrainingConfigError(
            f"{source}: data must be an array of tables, written [[data]] (double brackets)"
        )
    out = []
    for i, table in enumerate(data):
        name = f"data #{i + 1}"
        entry = _table(table, DataSource, name, source)
        if entry.split not in SPLITS:
            raise TrainingConfigError(
                f"{source}: [{name}] split must be one of {list(SPLITS)}, got {entry.split!r}"
            )
        if bool(entry.files) == bool(entry.region):
            raise TrainingConfigError(
                f"{source}: [{name}] give either files = [...] (scenes on disk) or region = "
                '"..." (simulated scenes), not both or neither'
            )
        out.append(entry)
    if not any(d.split == "train" for d in out):
        raise TrainingConfigError(f'{source}: no [[data]] table has split = "train"')
    return tuple(out)
