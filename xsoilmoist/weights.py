"""Model weights: safetensors files with JSON model cards, a pooch registry, the bundled default.

A model is two files: ``NAME.safetensors`` (the state dict; safetensors never
runs code when loaded, unlike a pickle) and ``NAME.json``, its
:class:`ModelCard` (:mod:`xsoilmoist.model_card`): configuration, band
order, normalisation statistics (in the configuration), modalities, tile and
halo, training data and ranges, metrics, licence, version and the weights'
sha256. The two files vouch for each other: the card holds the weights'
sha256, the weights' metadata the card's (``card_sha256``, over the card
without its own ``sha256`` field). Loading reads the card within a size limit,
checks it against its schema, checks both hashes and every tensor's shape
before anything is allocated, and loads the state dict strictly: a model is
either exactly what its card says or refused.

Named models come from a registry (``xsoilmoist/registry/models.json``, or
the file named by ``XSOILMOIST_MODEL_REGISTRY``) through pooch: every file
with its sha256, downloaded from ``XSOILMOIST_MODELS_URL`` (a ``file://``
folder works; there is no public download location yet, so it has no
default) into ``pooch.os_cache("xsoilmoist")/models`` (or
``XSOILMOIST_MODELS_DIR``), under cache names made of the model name and
hash only, so a registry cannot write outside the cache. The default model
ships inside the package (``xsoilmoist/pretrained/``) so it loads offline.

torch is imported only when a model is loaded or saved.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pooch

from xsoilmoist.downloads import downloader_for
from xsoilmoist.errors import (
    ModelCardError,
    ModelError,
    ModelIntegrityError,
    ModelNotAvailableError,
    ModelWarning,
)
from xsoilmoist.model_card import (
    DEFAULT_HALO,
    DEFAULT_TILE,
    MAX_PARAMETERS,
    ModelCard,
    read_card,
)

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_HALO",
    "DEFAULT_TILE",
    "MODELS_URL_ENV",
    "REGISTRY_ENV",
    "ModelCard",
    "ModelCardError",
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

#: Environment variable naming the base URL (or ``file://`` folder) registered models
#: are downloaded from. It has no default: no public location hosts models yet.
MODELS_URL_ENV = "XSOILMOIST_MODELS_URL"
#: Environment variable overriding the model cache folder.
CACHE_DIR_ENV = "XSOILMOIST_MODELS_DIR"
#: Environment variable naming another registry file (JSON, same format).
REGISTRY_ENV = "XSOILMOIST_MODEL_REGISTRY"
#: Name of the model bundled with the package.
DEFAULT_MODEL = "default"
#: Key of the card's hash (:meth:`ModelCard.digest`) in the weights file's metadata.
CARD_DIGEST_KEY = "card_sha256"

_PACKAGED_REGISTRY = Path(__file__).parent / "registry" / "models.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")


@dataclass(frozen=True)
class RegisteredModel:
    """A registry entry: the files of one named model and a summary for listings.

    Checked when built: ``name`` is a plain file name (letters, digits, ``.``,
    ``_``, ``-``), ``weights`` and ``card`` are relative paths under the base
    URL without ``..``, and the hashes are 64 hex digits, so a registry can
    neither escape the cache folder nor the download location.
    """

    name: str
    weights: str
    weights_sha256: str
    card: str
    card_sha256: str
    size: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = _entry_problems(self)
        if problems:
            raise ModelError(
                f"registry entry {self.name!r} is refused: " + "; ".join(problems) + ". Fix the "
                f"registry file ({_registry_path()})"
            )

    @property
    def cache_stem(self) -> str:
        """Cache file stem: the name and hash, so two models can never be confused."""
        return f"{self.name}-{self.weights_sha256[:16]}"


def _entry_problems(entry: RegisteredModel) -> list[str]:
    problems = []
    if not isinstance(entry.name, str) or not _SAFE_NAME.fullmatch(entry.name):
        problems.append(
            "its name must be a plain file name (letters, digits, '.', '_', '-'; at most 100 "
            "characters, not starting with '.')"
        )
    for key in ("weights_sha256", "card_sha256"):
        value = getattr(entry, key)
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            problems.append(f"{key} must be 64 lowercase hex digits, got {str(value)[:80]!r}")
    for key in ("weights", "card"):
        value = getattr(entry, key)
        segments = value.split("/") if isinstance(value, str) else [""]
        if not all(_SAFE_SEGMENT.fullmatch(part) for part in segments):
            problems.append(
                f"{key} must be a relative path under the base URL (no '..', no leading '/' or "
                f"'.'), got {str(value)[:80]!r}"
            )
    if not isinstance(entry.size, int) or isinstance(entry.size, bool) or entry.size < 0:
        problems.append(f"size must be a number of bytes, got {entry.size!r}")
    if not isinstance(entry.summary, dict):
        problems.append("summary must be an object")
    return problems


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
    ``sha256``, ``xsoilmoist_version`` and ``created`` are filled in. The
    weights file's metadata holds the card's hash (``card_sha256``), the card
    the weights' sha256: neither file can be changed without the other.

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
    card = dataclasses.replace(
        card,
        config=model.config.to_dict(),
        sha256="",
        xsoilmoist_version=__version__,
        created=card.created or date.today().isoformat(),
    )
    metadata = {"format": "pt", "model": card.name, CARD_DIGEST_KEY: card.digest()}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, weights_path, metadata=metadata)
    card = dataclasses.replace(card, sha256=file_sha256(weights_path))
    card_path.write_text(card.to_json(), encoding="utf-8")
    return weights_path, card_path


def _read_header(weights_path: Path) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """The metadata and tensor shapes of a safetensors file, without reading its tensors."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(weights_path, framework="pt") as stream:
            shapes = {key: tuple(stream.get_slice(key).get_shape()) for key in stream.keys()}
            return dict(stream.metadata() or {}), shapes
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelIntegrityError(
            f"{weights_path} is not a readable safetensors file ({err}); the file is corrupt or "
            "not a model: download it again or re-save it with xsoilmoist.weights.save_model"
        ) from None


def _check_hashes(weights_path: Path, card_path: Path, card: ModelCard) -> dict[str, tuple]:
    """The weights' sha256 against the card, the card's against the weights' metadata.

    Returns the tensor shapes of the weights file (read from its header only).
    """
    if not card.sha256:
        raise ModelIntegrityError(
            f"model card {card_path} has no sha256 of its weights, so they cannot be checked; "
            "write models with xsoilmoist.weights.save_model"
        )
    found = file_sha256(weights_path)
    if found != card.sha256:
        raise ModelIntegrityError(
            f"{weights_path} has sha256 {found}, but its card {card_path} expects {card.sha256}; "
            "the file was modified or truncated: download it again (delete the cached copy)"
        )
    metadata, shapes = _read_header(weights_path)
    recorded = metadata.get(CARD_DIGEST_KEY)
    if recorded is None:
        warnings.warn(
            f"{weights_path} was written before model cards were hashed, so its card "
            f"{card_path} is not covered by the integrity check; re-save the model with "
            "xsoilmoist.weights.save_model",
            ModelWarning,
            stacklevel=4,
        )
    elif recorded != card.digest():
        raise ModelIntegrityError(
            f"model card {card_path} was modified: its hash {card.digest()} is not the "
            f"{recorded} recorded in {weights_path}. Nothing was loaded; use the card that was "
            "saved with these weights (download both again)"
        )
    return shapes


def _expected_shapes(config, card_path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes of the network ``config`` describes, built without memory (meta device)."""
    import torch

    from xsoilmoist.model import SSMNet

    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in SSMNet(config).state_dict().items()}
    n_parameters = sum(int(torch.Size(shape).numel()) for shape in shapes.values())
    if n_parameters > MAX_PARAMETERS:
        raise ModelCardError(
            f"model card {card_path} describes a network of {n_parameters:,} parameters, more "
            f"than the {MAX_PARAMETERS:,} xsoilmoist loads; nothing was allocated. The card is "
            "not the one saved with these weights, or the model is not meant for xsoilmoist"
        )
    return shapes


def _shape_problems(expected: dict[str, tuple], found: dict[str, tuple]) -> str:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [
        f"{k}: file {found[k]}, card {shape}"
        for k, shape in expected.items()
        if k in found and found[k] != shape
    ]
    parts = (
        f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "",
        f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "",
        f"shape mismatches {shapes[:3]}" if shapes else "",
    )
    return "; ".join(part for part in parts if part)


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
    """Check the card, both hashes and every shape, then build the network and load strictly."""
    from xsoilmoist.errors import InputError
    from xsoilmoist.model import SSMNet, SSMNetConfig

    card = read_card(card_path)
    found = _check_hashes(weights_path, card_path, card)
    try:
        config = SSMNetConfig.from_dict(card.config)
    except (InputError, TypeError, ValueError) as err:
        raise ModelCardError(
            f"model card {card_path} has an invalid configuration: {err}"
        ) from None
    problems = _shape_problems(_expected_shapes(config, card_path), found)
    if problems:
        raise ModelError(
            f"the weights in {weights_path} do not match the configuration of {card_path} "
            f"({config.name!r}): {problems}. Nothing was loaded; use the card that was saved "
            "with these weights"
        )
    model = SSMNet(config, card=card)
    model.load_state_dict(_read_state_dict(weights_path), strict=True)
    model.eval()
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


def _read_registry(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model registry {path} not found (check ${REGISTRY_ENV})") from None
    except UnicodeDecodeError as err:
        raise ModelError(f"model registry {path} is not UTF-8 text ({err.reason})") from None
    except json.JSONDecodeError as err:
        raise ModelError(f"model registry {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ModelError(
            f'model registry {path} has no "models" object; a registry is '
            '{"models": {NAME: {"weights": ..., "weights_sha256": ..., "card": ..., '
            '"card_sha256": ...}}} (check $' + REGISTRY_ENV + ")"
        )
    return data["models"]


def model_registry() -> dict[str, RegisteredModel]:
    """The registered models, read from the registry file and checked.

    Raises
    ------
    ModelError
        A registry that is missing, not UTF-8 JSON, without a ``"models"``
        object, or with an entry whose name, paths or hashes are not safe.

    Examples
    --------
    >>> isinstance(model_registry(), dict)
    True
    """
    path = _registry_path()
    registry = {}
    for name, entry in _read_registry(path).items():
        fields = {f.name for f in dataclasses.fields(RegisteredModel)} - {"name"}
        if not isinstance(entry, dict) or set(entry) - fields or "weights" not in entry:
            raise ModelError(
                f"model registry {path}: entry {name!r} must be an object with the fields "
                f"{sorted(fields)}"
            )
        try:
            registry[name] = RegisteredModel(name=name, **entry)
        except TypeError as err:
            raise ModelError(f"model registry {path}: entry {name!r}: {err}") from None
    return registry


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or pooch.os_cache("xsoilmoist") / "models")


def _cached_file(entry: RegisteredModel, suffix: str) -> Path:
    """The cache file of ``entry`` (a plain name inside the cache folder, checked)."""
    folder = _cache_dir().resolve()
    path = (folder / f"{entry.cache_stem}{suffix}").resolve()
    if path.parent != folder:  # unreachable for a checked entry; a last guard
        raise ModelError(f"model {entry.name!r} would be cached outside {folder}; refused")
    return path


def _models_url(entry: RegisteredModel) -> str:
    base_url = os.environ.get(MODELS_URL_ENV, "")
    if not base_url:
        raise ModelNotAvailableError(
            f"model {entry.name!r} is in the registry ({_registry_path()}) but not in the cache "
            f"({_cache_dir()}), and no download location is set: xsoilmoist has no public "
            f"model server yet. Set ${MODELS_URL_ENV} to the URL or file:// folder holding "
            f"{entry.weights!r} and {entry.card!r}, or load a local copy with "
            "load_model('path/to/model.safetensors')"
        )
    return base_url if base_url.endswith("/") else base_url + "/"


def _fetch(entry: RegisteredModel, suffix: str, remote: str, sha256: str) -> Path:
    """One file of ``entry`` in the cache, downloaded and verified by pooch if needed."""
    cached = _cached_file(entry, suffix)
    if cached.is_file() and file_sha256(cached) == sha256:
        return cached
    url = _models_url(entry) + remote
    try:
        return Path(
            pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}",
                fname=cached.name,
                path=cached.parent,
                downloader=downloader_for(url),
                progressbar=False,
            )
        )
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
            f"models live in {cached.parent}"
        ) from None


def _fetch_registered(entry: RegisteredModel) -> tuple[Path, Path]:
    """The cached (weights, card) of ``entry``; the card first, checked, before the weights."""
    card_path = _fetch(entry, ".json", entry.card, entry.card_sha256)
    read_card(card_path)
    weights_path = _fetch(entry, ".safetensors", entry.weights, entry.weights_sha256)
    return weights_path, card_path


def is_cached(entry: RegisteredModel) -> bool:
    """Whether both files of a registered model are in the cache with the right hashes."""
    for suffix, sha in ((".safetensors", entry.weights_sha256), (".json", entry.card_sha256)):
        path = _cached_file(entry, suffix)
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
            card = read_card(bundled[1])
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
    return read_card(_model_files(name_or_path)[1])


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
