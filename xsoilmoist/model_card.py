"""The model card: a typed, validated description that travels with a model's weights.

A :class:`ModelCard` says how to use a set of weights: the network
configuration (band order, normalisation, output bound), the modalities it
needs, its tiling defaults, what it was trained on (input ranges, months,
regions) and how well it did. Every card is checked against a schema when it
is built or read: types are exact (``trained`` is a JSON ``true``/``false``,
not ``"no"``), numbers lie within physical or practical bounds
(``out_max <= 1`` m3/m3, tiles of at most :data:`MAX_TILE` px, network widths
and depths bounded so a card cannot ask for gigabytes), all before anything
is allocated. A card that breaks a rule raises :class:`ModelCardError` naming
the field and the allowed values.

Every network owns a card (``SSMNet(config, card=...)``); a network built in
memory without one gets :func:`default_card`, the one place where the
defaults of a cardless model are decided. torch is never imported here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xsoilmoist.catalogue import MODALITY_BANDS
from xsoilmoist.errors import ModelCardError

__all__ = [
    "CARD_SCHEMA",
    "DEFAULT_HALO",
    "DEFAULT_TILE",
    "MAX_CARD_BYTES",
    "MAX_OUT_MAX",
    "MAX_PARAMETERS",
    "MAX_TILE",
    "ModelCard",
    "ModelCardError",
    "default_card",
    "read_card",
]

#: Tiled-inference defaults of a card that does not state them (and of cardless models).
DEFAULT_TILE, DEFAULT_HALO = 256, 32
#: Largest tile (px) a card may ask for: activations grow with its square.
MAX_TILE = 2048
#: Physical bound of the output (m3/m3): a volume fraction cannot exceed 1.
MAX_OUT_MAX = 1.0
#: Largest network (parameters) a card may describe: 256 MB of float32 weights.
MAX_PARAMETERS = 64_000_000
#: Largest card file (bytes) read.
MAX_CARD_BYTES = 1 << 20
#: Version of the card format written by this xsoilmoist (older ones are read too).
CARD_SCHEMA = 2

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_ITEMS = 64  # bands, modalities, metadata, regions
_MAX_TEXT = 20_000


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(
        value
    )


def _int_in(low: int, high: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not _is_int(value) or not low <= value <= high:
            return f"a whole number from {low} to {high}"
        return ""

    return check


def _ints_in(count: int, low: int, high: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        ok = isinstance(value, (list, tuple)) and len(value) == count
        if not ok or any(_int_in(low, high)(v) for v in value):
            return f"{count} whole numbers from {low} to {high}"
        return ""

    return check


def _names(limit: int = _MAX_ITEMS) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        ok = isinstance(value, (list, tuple)) and len(value) <= limit
        if not ok or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value):
            return f"a list of at most {limit} names"
        return ""

    return check


def _numbers_or_none(value: Any) -> str:
    if value is None:
        return ""
    ok = isinstance(value, (list, tuple)) and len(value) <= _MAX_ITEMS
    if not ok or not all(_is_number(v) for v in value):
        return f"null or a list of at most {_MAX_ITEMS} finite numbers"
    return ""


def _modalities(value: Any) -> str:
    rule = f"an object of at most {_MAX_ITEMS} modality names, each with a list of band names"
    if not isinstance(value, Mapping) or not 0 < len(value) <= _MAX_ITEMS:
        return rule
    if _names()(list(value)) or any(_names()(bands) or not bands for bands in value.values()):
        return rule
    if sum(len(bands) for bands in value.values()) > _MAX_ITEMS:
        return f"at most {_MAX_ITEMS} bands in all"
    return ""


def _out_max(value: Any) -> str:
    if not _is_number(value) or not 0 < value <= MAX_OUT_MAX:
        return f"a number of m3/m3 above 0 and at most {MAX_OUT_MAX} (a volume fraction)"
    return ""


def _window(value: Any) -> str:
    if value is None or not _int_in(1, 4096)(value):
        return ""
    return "null (tile-wide statistics) or a whole number of pixels from 1 to 4096"


def _text(value: Any) -> str:
    return (
        "" if isinstance(value, str) and len(value) <= 200 else "a text of at most 200 characters"
    )


#: The configuration fields a card may hold (those of ``SSMNetConfig``) and their rules.
CONFIG_RULES: dict[str, Callable[[Any], str]] = {
    "name": _text,
    "depths": _ints_in(4, 1, 64),
    "dims": _ints_in(4, 1, 2048),
    "modalities": _modalities,
    "metadata": _names(),
    "band_mean": _numbers_or_none,
    "band_std": _numbers_or_none,
    "out_max": _out_max,
    "decoder_dims": lambda v: "" if v is None else _ints_in(3, 1, 2048)(v),
    "decoder_depths": _ints_in(3, 0, 16),
    "full_res_dim": _int_in(1, 512),
    "full_res_kernel": _int_in(1, 15),
    "fusion_reduction": _int_in(1, 1024),
    "metadata_hidden": _int_in(1, 2048),
    "statistics_window": _window,
}


def _config_problems(config: Any) -> list[str]:
    if not isinstance(config, Mapping):
        return [f"config must be an object, got {type(config).__name__}"]
    unknown = sorted(set(config) - set(CONFIG_RULES))
    problems = [f"config has unknown fields {unknown}"] if unknown else []
    for key, rule in CONFIG_RULES.items():
        if key in config and (expected := rule(config[key])):
            problems.append(f"config.{key} must be {expected}, got {_show(config[key])}")
    return problems


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def config_bands(config: Mapping[str, Any]) -> list[str]:
    """Input bands in model order, from a configuration's ``modalities`` (or the catalogue's)."""
    return [band for group in config.get("modalities", MODALITY_BANDS).values() for band in group]


def config_modalities(config: Mapping[str, Any]) -> list[str]:
    """Modality groups of a configuration (the catalogue's, as ``SSMNetConfig``, if absent)."""
    return list(config.get("modalities", MODALITY_BANDS))


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to use a set of weights correctly, travelling with them as JSON.

    Checked when built and when read (see the module documentation); a rule
    broken raises :class:`ModelCardError`.

    Attributes
    ----------
    name
        Model name (also the registry name).
    config
        The network configuration (``SSMNetConfig.to_dict()``): sizes, band
        order, metadata order, per-band normalisation mean and std, output
        bound. Empty in a card not yet saved (:func:`save_model` fills it).
    trained
        Whether the weights were trained (a bool). Untrained weights load with a
        warning and are never presented as a trained model.
    description
        One paragraph: what the model is for and what it was trained on.
    required_modalities, optional_modalities
        Modalities the model needs, and those it can do without. By default the
        configuration's first modality group is required, the others optional.
    tile, halo
        Tile size (32 to :data:`MAX_TILE` px) and halo (0 to a quarter of the
        tile) for tiled inference.
    input_ranges
        ``{band: [low, high]}``: the range of each (standardized) band in the
        training data, or None if not recorded. Inputs outside it are outside
        what the model has seen.
    trained_months
        Months (1-12) of the training scenes, or None.
    trained_regions
        Regions (names or short descriptions) of the training scenes, or None.
    training
        Training data and procedure (free-form, JSON-able).
    metrics
        Evaluation metrics (JSON-able), with what they were measured on.
    license, version
        Licence and version of the weights.
    xsoilmoist_version, created
        Version of xsoilmoist that wrote the card, and the ISO date.
    sha256
        sha256 of the ``.safetensors`` file (filled in by :func:`save_model`).
    schema
        Version of the card format.

    Examples
    --------
    >>> card = ModelCard(name="scratch", config={"modalities": {"sar_c": ["vv", "vh"]}},
    ...                  trained=False)
    >>> card.required_modalities, (card.tile, card.halo)
    (['sar_c'], (256, 32))
    >>> ModelCard(name="x", config={}, trained="no")
    Traceback (most recent call last):
    ...
    xsoilmoist.errors.ModelCardError: model card: trained must be true or false, got 'no'
    """

    name: str
    config: dict[str, Any]
    trained: bool
    description: str = ""
    required_modalities: list[str] | None = None
    optional_modalities: list[str] | None = None
    tile: int = DEFAULT_TILE
    halo: int = DEFAULT_HALO
    input_ranges: dict[str, list[float]] | None = None
    trained_months: list[int] | None = None
    trained_regions: list[str] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    license: str = "Apache-2.0"
    version: str = "0"
    xsoilmoist_version: str = ""
    created: str = ""
    sha256: str = ""
    schema: int = CARD_SCHEMA

    def __post_init__(self) -> None:
        problems = _card_problems(self)
        if problems:
            raise ModelCardError("model card: " + "; ".join(problems))
        if self.config:
            modalities = config_modalities(self.config)
            required = self.required_modalities or modalities[:1]
            optional = self.optional_modalities
            if optional is None:
                optional = [m for m in modalities if m not in required]
            object.__setattr__(self, "required_modalities", list(required))
            object.__setattr__(self, "optional_modalities", list(optional))

    @property
    def bands(self) -> list[str]:
        """Input bands in model order (from the configuration)."""
        return config_bands(self.config)

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-able dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The card as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    def digest(self) -> str:
        """sha256 of the card's content without its ``sha256`` field (canonical JSON).

        This is the hash :func:`save_model` writes into the weights file's
        metadata (``card_sha256``): the card names the weights' hash, the weights
        name the card's, so neither can be changed alone.
        """
        content = {k: v for k, v in self.to_dict().items() if k != "sha256"}
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> ModelCard:
        """Parse and check a card; :class:`ModelCardError` names ``source`` and the rule broken."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelCardError(
                f"{source} is not valid JSON ({err}); it is corrupt or not a model card: use the "
                "card saved with the weights"
            ) from None
        if not isinstance(data, dict):
            raise ModelCardError(f"{source} is not a JSON object; is it a model card?")
        missing = sorted({"name", "config", "trained"} - set(data))
        if missing:
            raise ModelCardError(f"{source} lacks the fields {missing}; is it a model card?")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ModelCardError(
                f"{source} has unknown fields {unknown}; it may come from a newer xsoilmoist "
                "(upgrade xsoilmoist)"
            )
        try:
            return cls(**data)
        except ModelCardError as err:
            raise ModelCardError(f"{source}: {str(err).removeprefix('model card: ')}") from None


def _card_problems(card: ModelCard) -> list[str]:
    """Every broken rule of ``card`` (types and bounds), in field order."""
    problems = [
        f"{name} must be {expected}, got {_show(getattr(card, name))}"
        for name, rule in _FIELD_RULES.items()
        if (expected := rule(getattr(card, name)))
    ]
    if type(card.trained) is not bool:
        problems.insert(0, f"trained must be true or false, got {_show(card.trained)}")
    if not problems:
        problems += _config_problems(card.config)
    if not problems:
        problems += _consistency_problems(card)
    return problems


def _json_object(value: Any) -> str:
    return "" if isinstance(value, dict) else "an object"


def _long_text(value: Any) -> str:
    ok = isinstance(value, str) and len(value) <= _MAX_TEXT
    return "" if ok else f"a text of at most {_MAX_TEXT} characters"


def _names_or_none(value: Any) -> str:
    return "" if value is None else _names()(value)


def _months(value: Any) -> str:
    if value is None:
        return ""
    ok = isinstance(value, (list, tuple)) and len(set(value)) == len(value)
    if not ok or not all(_is_int(m) and 1 <= m <= 12 for m in value):
        return "null or a list of distinct months from 1 to 12"
    return ""


def _ranges(value: Any) -> str:
    if value is None:
        return ""
    rule = f"null or an object of at most {_MAX_ITEMS} bands, each [low, high] with low <= high"
    if not isinstance(value, Mapping) or len(value) > _MAX_ITEMS:
        return rule
    for pair in value.values():
        ok = isinstance(pair, (list, tuple)) and len(pair) == 2 and all(map(_is_number, pair))
        if not ok or pair[0] > pair[1]:
            return rule
    return ""


def _sha(value: Any) -> str:
    ok = isinstance(value, str) and (value == "" or _SHA256.fullmatch(value))
    return "" if ok else "64 lowercase hex digits (or empty before saving)"


def _created(value: Any) -> str:
    ok = isinstance(value, str) and (value == "" or _DATE.fullmatch(value))
    return "" if ok else "an ISO date YYYY-MM-DD (or empty)"


def _schema(value: Any) -> str:
    if _int_in(1, CARD_SCHEMA)(value):
        return f"a card format from 1 to {CARD_SCHEMA} (a newer card: upgrade xsoilmoist)"
    return ""


_FIELD_RULES: dict[str, Callable[[Any], str]] = {
    "name": lambda v: "" if isinstance(v, str) and 0 < len(v) <= 200 else "a name (1-200 chars)",
    "config": _json_object,
    "description": _long_text,
    "required_modalities": _names_or_none,
    "optional_modalities": _names_or_none,
    "tile": _int_in(32, MAX_TILE),
    "halo": _int_in(0, MAX_TILE // 4),
    "input_ranges": _ranges,
    "trained_months": _months,
    "trained_regions": _names_or_none,
    "training": _json_object,
    "metrics": _json_object,
    "license": _text,
    "version": _text,
    "xsoilmoist_version": _text,
    "created": _created,
    "sha256": _sha,
    "schema": _schema,
}


def _consistency_problems(card: ModelCard) -> list[str]:
    """Rules between fields: halo within the tile, modalities and bands of the configuration."""
    problems = []
    if card.halo > card.tile // 4:
        problems.append(
            f"halo {card.halo} must be at most a quarter of the tile ({card.tile // 4} px)"
        )
    if not card.config:
        return problems
    modalities = config_modalities(card.config)
    required, optional = card.required_modalities or [], card.optional_modalities or []
    strangers = sorted(set(required + optional) - set(modalities))
    if strangers:
        problems.append(f"modalities {strangers} are not in the configuration's {modalities}")
    if set(required) & set(optional):
        problems.append(
            f"modalities {sorted(set(required) & set(optional))} are both required and optional"
        )
    if card.required_modalities is not None and not required:
        problems.append("required_modalities must name at least one modality")
    bands = set(config_bands(card.config))
    if card.input_ranges and set(card.input_ranges) - bands:
        problems.append(
            f"input_ranges names bands {sorted(set(card.input_ranges) - bands)} that the model "
            "does not take"
        )
    return problems


def default_card(config: Mapping[str, Any], *, trained: bool = False) -> ModelCard:
    """The card of a network built in memory without one: the one place these defaults live.

    Named ``"in-memory"``, no hash, the configuration's first modality group
    required, tiling :data:`DEFAULT_TILE` and :data:`DEFAULT_HALO`.

    Examples
    --------
    >>> card = default_card({"modalities": {"sar_c": ["vv"], "optical": ["red"]}})
    >>> card.name, card.required_modalities, card.optional_modalities, card.trained
    ('in-memory', ['sar_c'], ['optical'], False)
    """
    return ModelCard(
        name="in-memory",
        config=dict(config),
        trained=trained,
        description="a network built in memory (not loaded from a model file)",
    )


def read_card(path: str | Path) -> ModelCard:
    """Read and check the card file ``path``: at most :data:`MAX_CARD_BYTES`, UTF-8 JSON.

    Raises
    ------
    ModelCardError
        A card too large, not UTF-8, not JSON, or breaking a rule of the schema.

    Examples
    --------
    >>> read_card("path/to/model.json").tile  # doctest: +SKIP
    256
    """
    path = Path(path)
    with open(path, "rb") as stream:
        raw = stream.read(MAX_CARD_BYTES + 1)
    if len(raw) > MAX_CARD_BYTES:
        raise ModelCardError(
            f"model card {path} is larger than {MAX_CARD_BYTES} bytes; it is not a model card "
            "(cards are a few kB): use the card saved with the weights"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelCardError(
            f"model card {path} is not UTF-8 text ({err.reason} at byte {err.start}); it is "
            "corrupt or not a model card: use the card saved with the weights"
        ) from None
    return ModelCard.from_json(text, source=f"model card {path}")
