"""Model weights: safetensors files with JSON model cards, a pooch registry, the bundled default.

A model is two files: ``NAME.safetensors`` (the state dict; safetensors never
runs code when loaded, unlike a pickle) and ``NAME.json``, its
:class:`ModelCard`: configuration, band order, normalisation statistics (in
the configuration), modalities, tile and halo, training data, metrics,
licence, version and the weights' sha256. Loading checks the hash and loads
the state dict strictly, so a model is either exactly what its card says or
refused.

Named models come from a registry (``xsoilmoist/registry/models.json``, or
the file named by ``XSOILMOIST_MODEL_REGISTRY``) through pooch: every file
with its sha256, downloaded from ``XSOILMOIST_MODELS_URL`` (default
:data:`DEFAULT_MODELS_URL`; a ``file://`` folder works) into
``pooch.os_cache("xsoilmoist")/models`` (or ``XSOILMOIST_MODELS_DIR``), under
cache names that carry the model name and hash. The default model ships
inside the package (``xsoilmoist/pretrained/``) so it loads offline.

torch is imported only when a model is loaded or saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pooch

from xsoilmoist.downloads import downloader_for
from xsoilmoist.errors import (
    ModelError,
    ModelIntegrityError,
    ModelNotAvailableError,
    ModelWarning,
)

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_MODELS_URL",
    "MODELS_URL_ENV",
    "REGISTRY_ENV",
    "ModelCard",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotAvailableError",
    "RegisteredModel",
    "available_models",
    "describe_models",
    "file_sha256",
    "is_cached",
    "load_card",
    "load_model",
    "model_registry",
    "save_model",
]

#: Environment variable overriding the base URL the registry downloads from.
MODELS_URL_ENV = "XSOILMOIST_MODELS_URL"
#: Environment variable overriding the model cache folder.
CACHE_DIR_ENV = "XSOILMOIST_MODELS_DIR"
#: Environment variable naming another registry file (JSON, same format).
REGISTRY_ENV = "XSOILMOIST_MODEL_REGISTRY"
#: Where published models are downloaded from.
DEFAULT_MODELS_URL = "https://github.com/xsoilmoist/xsoilmoist-models/releases/download/v1/"
#: Name of the model bundled with the package.
DEFAULT_MODEL = "default"
#: Tiled-inference defaults of a model card, and of models without one.
DEFAULT_TILE, DEFAULT_HALO = 256, 32

_PACKAGED_REGISTRY = Path(__file__).parent / "registry" / "models.json"
_CARD_SCHEMA = 1


@dataclass
class ModelCard:
    """Everything needed to use a set of weights correctly, travelling with them as JSON.

    Attributes
    ----------
    name
        Model name (also the registry name).
    config
        The network configuration (:meth:`SSMNetConfig.to_dict`): sizes, band
        order, metadata order, per-band normalisation mean and std, output bound.
    trained
        Whether the weights were trained. Untrained weights load with a warning
        and are never presented as a trained model.
    description
        One paragraph: what the model is for and what it was trained on.
    required_modalities, optional_modalities
        Modalities the model needs, and those it can do without.
    tile, halo
        Tile size and halo (pixels) for tiled inference.
    training
        Training data and procedure (free-form, JSON-able).
    metrics
        Evaluation metrics (JSON-able), with what they were measured on.
    license
        Licence of the weights.
    version
        Version of these weights.
    xsoilmoist_version
        Version of xsoilmoist that wrote the card.
    created
        ISO date the card was written.
    sha256
        sha256 of the ``.safetensors`` file (filled in by :func:`save_model`).
    """

    name: str
    config: dict[str, Any]
    trained: bool
    description: str = ""
    required_modalities: list[str] = field(default_factory=lambda: ["sar_c"])
    optional_modalities: list[str] = field(default_factory=list)
    tile: int = DEFAULT_TILE
    halo: int = DEFAULT_HALO
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    license: str = "Apache-2.0"
    version: str = "0"
    xsoilmoist_version: str = ""
    created: str = ""
    sha256: str = ""
    schema: int = _CARD_SCHEMA

    @property
    def bands(self) -> list[str]:
        """Input bands in model order (from the configuration)."""
        return [band for group in self.config["modalities"].values() for band in group]

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> ModelCard:
        """Parse a card, with a clear error for malformed or foreign JSON."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelIntegrityError(f"{source} is not valid JSON: {err}") from None
        known = {f.name for f in dataclasses.fields(cls)}
        missing = {"name", "config", "trained"} - set(data)
        if missing or not isinstance(data, dict):
            raise ModelError(f"{source} lacks the fields {sorted(missing)}; is it a model card?")
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(
                f"{source} has unknown fields {unknown}; it may come from a newer xsoilmoist "
                "(upgrade xsoilmoist)"
            )
        return cls(**data)


@dataclass(frozen=True)
class RegisteredModel:
    """A registry entry: the files of one named model and a summary for listings."""

    name: str
    weights: str
    weights_sha256: str
    card: str
    card_sha256: str
    size: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_stem(self) -> str:
        """Cache file stem: the name and hash, so two models can never be confused."""
        return f"{self.name}-{self.weights_sha256[:16]}"


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file, read in blocks.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     file_sha256(f.name)[:12]
    'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: SSMNet, path: str | Path, card: ModelCard) -> tuple[Path, Path]:
    """Write ``model`` as ``PATH.safetensors`` plus its card ``PATH.json``.

    The card's ``config`` is replaced by the model's own configuration, and
    ``sha256``, ``xsoilmoist_version`` and ``created`` are filled in.

    Parameters
    ----------
    model
        The network.
    path
        Output path without suffix (a ``.safetensors`` or ``.json`` suffix is
        dropped); folders are created.
    card
        The model card (``trained`` must be stated truthfully).

    Returns
    -------
    (weights_path, card_path)

    Examples
    --------
    >>> from xsoilmoist.model import build_model
    >>> model = build_model("atto")
    >>> card = ModelCard(name="scratch", config={}, trained=False)
    >>> save_model(model, "/tmp/scratch", card)  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    from xsoilmoist import __version__

    path = Path(path)
    if path.suffix in {".safetensors", ".json"}:
        path = path.with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    weights_path, card_path = path.with_suffix(".safetensors"), path.with_suffix(".json")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, weights_path, metadata={"format": "pt", "model": card.name})
    card = dataclasses.replace(
        card,
        config=model.config.to_dict(),
        sha256=file_sha256(weights_path),
        xsoilmoist_version=__version__,
        created=card.created or date.today().isoformat(),
    )
    card_path.write_text(card.to_json())
    return weights_path, card_path


def _read_state_dict(weights_path: Path):
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelIntegrityError(
            f"{weights_path} is not a readable safetensors file ({err}); the file is corrupt or "
            "not a model: download it again or re-save it with xsoilmoist.weights.save_model"
        ) from None


def _build_from_files(weights_path: Path, card_path: Path) -> SSMNet:
    """Verify the hash, build the network from the card and load the weights strictly."""
    from xsoilmoist.model import SSMNet, SSMNetConfig

    card = ModelCard.from_json(card_path.read_text(), source=str(card_path))
    found = file_sha256(weights_path)
    if card.sha256 and found != card.sha256:
        raise ModelIntegrityError(
            f"{weights_path} has sha256 {found}, but its card {card_path} expects {card.sha256}; "
            "the file was modified or truncated: download it again (delete the cached copy)"
        )
    try:
        config = SSMNetConfig.from_dict(card.config)
    except (TypeError, ValueError) as err:
        raise ModelError(f"model card {card_path} has an invalid configuration: {err}") from None
    model = SSMNet(config)
    state = _read_state_dict(weights_path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: file {tuple(state[k].shape)}, card {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        details = "; ".join(
            part
            for part in (
                f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "",
                f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
                if unexpected
                else "",
                f"shape mismatches {shapes[:3]}" if shapes else "",
            )
            if part
        )
        raise ModelError(
            f"the weights in {weights_path} do not match the configuration of {card_path} "
            f"({config.name!r}): {details}. Nothing was loaded; use the card that was saved with "
            "these weights"
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    model.card = card
    if not card.trained:
        warnings.warn(
            f"model {card.name!r} has untrained weights (card says trained=false): its "
            "predictions are not soil moisture estimates",
            ModelWarning,
            stacklevel=3,
        )
    return model


def _local_files(path: Path) -> tuple[Path, Path]:
    stem = path.with_suffix("") if path.suffix in {".safetensors", ".json"} else path
    weights_path, card_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for needed in (weights_path, card_path):
        if not needed.is_file():
            raise ModelNotAvailableError(
                f"{needed} not found: a model is a .safetensors file with its .json card beside it"
            )
    return weights_path, card_path


def _bundled_files(name: str) -> tuple[Path, Path] | None:
    folder = resources.files("xsoilmoist") / "pretrained"
    weights, card = folder / f"{name}.safetensors", folder / f"{name}.json"
    if weights.is_file() and card.is_file():
        return Path(str(weights)), Path(str(card))
    return None


def _registry_path() -> Path:
    return Path(os.environ.get(REGISTRY_ENV, _PACKAGED_REGISTRY))


def model_registry() -> dict[str, RegisteredModel]:
    """The registered models, read from the registry file.

    Examples
    --------
    >>> isinstance(model_registry(), dict)
    True
    """
    path = _registry_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"model registry {path} not found (check ${REGISTRY_ENV})") from None
    except json.JSONDecodeError as err:
        raise ModelError(f"model registry {path} is not valid JSON: {err}") from None
    return {name: RegisteredModel(name=name, **entry) for name, entry in data["models"].items()}


def _models_pooch(entry: RegisteredModel) -> pooch.Pooch:
    base_url = os.environ.get(MODELS_URL_ENV, DEFAULT_MODELS_URL)
    if not base_url.endswith("/"):
        base_url += "/"
    names = {
        f"{entry.cache_stem}.safetensors": (entry.weights, entry.weights_sha256),
        f"{entry.cache_stem}.json": (entry.card, entry.card_sha256),
    }
    registry = pooch.create(
        path=pooch.os_cache("xsoilmoist") / "models",
        base_url=base_url,
        env=CACHE_DIR_ENV,
        registry={key: f"sha256:{sha}" for key, (_, sha) in names.items()},
        urls={key: base_url + remote for key, (remote, _) in names.items()},
        retry_if_failed=0 if base_url.startswith("file://") else 2,
    )
    return registry


def _fetch_registered(entry: RegisteredModel) -> tuple[Path, Path]:
    registry = _models_pooch(entry)
    paths = []
    for suffix in (".safetensors", ".json"):
        key = f"{entry.cache_stem}{suffix}"
        url = registry.get_url(key)
        try:
            paths.append(Path(registry.fetch(key, downloader=downloader_for(url))))
        except ValueError as err:  # pooch: hash mismatch; the download is not kept
            raise ModelIntegrityError(
                f"download of model {entry.name!r} from {url} was refused: {err}. The file on "
                "the server is not the registered one; nothing was cached"
            ) from None
        except OSError as err:  # requests' connection errors, missing file:// files
            raise ModelNotAvailableError(
                f"could not download model {entry.name!r} from {url} ({type(err).__name__}: "
                f"{err}). Set ${MODELS_URL_ENV} to a reachable mirror (a file:// folder works), "
                "or load a local copy with load_model('path/to/model.safetensors'); cached "
                f"models live in {registry.abspath}"
            ) from None
    return paths[0], paths[1]


def is_cached(entry: RegisteredModel) -> bool:
    """Whether both files of a registered model are in the cache with the right hashes."""
    registry = _models_pooch(entry)
    for suffix, sha in ((".safetensors", entry.weights_sha256), (".json", entry.card_sha256)):
        path = Path(registry.abspath) / f"{entry.cache_stem}{suffix}"
        if not path.is_file() or file_sha256(path) != sha:
            return False
    return True


def available_models() -> list[str]:
    """Names accepted by :func:`load_model`: the bundled model(s) and the registry's.

    Examples
    --------
    >>> names = available_models()
    """
    bundled = resources.files("xsoilmoist") / "pretrained"
    names = {
        Path(str(item)).stem
        for item in (bundled.iterdir() if bundled.is_dir() else [])
        if str(item).endswith(".safetensors")
    }
    return sorted(names | set(model_registry()))


def describe_models() -> list[dict[str, Any]]:
    """One summary per available model: name, size, config, modalities, metrics, cached.

    ``cached`` is ``"bundled"`` for models inside the package, else ``"yes"`` or
    ``"no"`` (both files in the cache with the right hashes).

    Examples
    --------
    >>> rows = describe_models()
    """
    registry = model_registry()
    rows = []
    for name in available_models():
        bundled = _bundled_files(name)
        if bundled is not None:
            card = ModelCard.from_json(bundled[1].read_text(), source=str(bundled[1]))
            summary = {
                "config": card.config.get("name", ""),
                "modalities": card.required_modalities + card.optional_modalities,
                "metrics": card.metrics,
            }
            size, cached = bundled[0].stat().st_size, "bundled"
        else:
            entry = registry[name]
            summary, size = entry.summary, entry.size
            cached = "yes" if is_cached(entry) else "no"
        rows.append(
            {
                "name": name,
                "size": size,
                "config": summary.get("config", ""),
                "modalities": list(summary.get("modalities", [])),
                "metrics": dict(summary.get("metrics", {})),
                "cached": cached,
            }
        )
    return rows


def _model_files(name_or_path: str | Path) -> tuple[Path, Path]:
    """The (weights, card) files of a bundled, registered or local model (fetched if needed)."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix in {".safetensors", ".json"} or path.parent != Path(".") or path.exists():
        return _local_files(path)
    bundled = _bundled_files(text)
    if bundled is not None:
        return bundled
    registry = model_registry()
    if text in registry:
        return _fetch_registered(registry[text])
    hint = (
        " No trained default model ships with this version yet: train one with "
        "xsoilmoist.training, or load a model file by path."
        if text == DEFAULT_MODEL
        else ""
    )
    raise ModelNotAvailableError(
        f"no model named {text!r}; available: {available_models()} (or pass the path of a "
        f".safetensors file).{hint}"
    )


def load_card(name_or_path: str | Path = DEFAULT_MODEL) -> ModelCard:
    """The :class:`ModelCard` of a model, without loading its weights (or torch).

    Examples
    --------
    >>> load_card("path/to/mymodel.safetensors").sha256  # doctest: +SKIP
    '53e77f80...'
    """
    card_path = _model_files(name_or_path)[1]
    return ModelCard.from_json(card_path.read_text(), source=str(card_path))


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> SSMNet:
    """Load a model by name (bundled or registered) or from a local ``.safetensors`` file.

    The weights' sha256 is checked against the card, the network is built
    from the card's configuration, and the state dict is loaded strictly. The
    model is returned in eval mode with its :class:`ModelCard` as ``model.card``.

    Parameters
    ----------
    name_or_path
        ``"default"`` (bundled), a name from :func:`available_models`, or the
        path of a ``.safetensors`` file (or its ``.json`` card, or the common
        stem) written by :func:`save_model`.

    Raises
    ------
    ModelNotAvailableError
        Unknown name, missing files, or a download that failed (the message
        names the URL and how to point the registry elsewhere).
    ModelIntegrityError
        A hash mismatch or a corrupt file; nothing is loaded.
    ModelError
        A card whose configuration does not match the weights.

    Examples
    --------
    >>> model = load_model("path/to/mymodel.safetensors")  # doctest: +SKIP
    >>> model.card.bands[:2]  # doctest: +SKIP
    ['vv', 'vh']
    """
    return _build_from_files(*_model_files(name_or_path))
