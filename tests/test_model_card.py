"""The model card's schema: types, physical ranges and sizes checked before anything is built."""

import dataclasses
import json
import time

import pytest

from xsoilmoist.errors import ModelCardError, ModelError
from xsoilmoist.model_card import (
    CARD_SCHEMA,
    CONFIG_RULES,
    DEFAULT_HALO,
    DEFAULT_TILE,
    MAX_CARD_BYTES,
    MAX_PARAMETERS,
    MAX_TILE,
    ModelCard,
    default_card,
    read_card,
)

CONFIG = {"name": "tiny-test", "depths": [1, 1, 1, 1], "dims": [8, 16, 32, 64]}


def card(**changes):
    return ModelCard(**{"name": "tiny", "config": dict(CONFIG), "trained": True, **changes})


# ------------------------------------------------------------------ without torch


def test_defaults_are_filled_once_from_the_configuration():
    plain = card()
    assert (plain.tile, plain.halo) == (DEFAULT_TILE, DEFAULT_HALO)
    assert plain.required_modalities == ["sar_c"]
    assert plain.optional_modalities == [
        "sar_l", "optical", "topography", "vegetation", "meteorology"
    ]  # fmt: skip
    own = card(config={**CONFIG, "modalities": {"optical": ["red", "nir"], "sar_c": ["vv"]}})
    assert own.required_modalities == ["optical"] and own.optional_modalities == ["sar_c"]
    assert own.bands == ["red", "nir", "vv"]
    assert plain.schema == CARD_SCHEMA and plain.input_ranges is None


def test_a_card_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        card().tile = 10**12


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trained": "no"}, "trained must be true or false, got 'no'"),
        ({"trained": 1}, "trained must be true or false"),
        ({"tile": 10**12}, f"tile must be a whole number from 32 to {MAX_TILE}"),
        ({"tile": 256.0}, "tile must be a whole number"),
        ({"tile": 64, "halo": 32}, "halo 32 must be at most a quarter of the tile"),
        ({"halo": -1}, "halo must be a whole number from 0"),
        ({"sha256": "/../../x/y/z/aaaa"}, "sha256 must be 64 lowercase hex digits"),
        ({"created": "yesterday"}, "created must be an ISO date"),
        ({"schema": CARD_SCHEMA + 1}, "upgrade xsoilmoist"),
        ({"name": ""}, "name must be a name"),
        ({"description": "x" * 30_000}, "description must be a text of at most"),
        ({"required_modalities": ["radar"]}, r"modalities \['radar'\] are not in"),
        ({"required_modalities": []}, "must name at least one modality"),
        (
            {"required_modalities": ["sar_c"], "optional_modalities": ["sar_c"]},
            "both required and optional",
        ),
        ({"trained_months": [6, 13]}, "distinct months from 1 to 12"),
        ({"trained_months": [6, 6]}, "distinct months"),
        ({"trained_regions": "farmland"}, "trained_regions must be a list"),
        ({"input_ranges": {"vv": [5, -5]}}, "each \\[low, high\\] with low <= high"),
        ({"input_ranges": {"vv": [-30, "high"]}}, "input_ranges must be"),
        ({"input_ranges": {"vv": [float("nan"), 1]}}, "input_ranges must be"),
        ({"input_ranges": {"soil": [0, 1]}}, r"names bands \['soil'\] that the model does not"),
        ({"metrics": []}, "metrics must be an object"),
    ],
)
def test_a_card_breaking_a_rule_names_it(changes, message):
    with pytest.raises(ModelCardError, match=message):
        card(**changes)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"out_max": 6.0}, r"config.out_max must be a number of m3/m3 above 0 and at most 1.0"),
        ({"out_max": True}, "config.out_max must be"),
        ({"dims": [8, 16, 32, 10**9]}, "config.dims must be 4 whole numbers from 1 to 2048"),
        ({"dims": [8, 16, 32]}, "config.dims must be 4 whole numbers"),
        ({"depths": [1, 1, 10**6, 1]}, "config.depths must be 4 whole numbers from 1 to 64"),
        ({"decoder_dims": [10**6, 16, 8]}, "config.decoder_dims must be"),
        ({"full_res_dim": 10**6}, "config.full_res_dim must be"),
        ({"metadata_hidden": "64"}, "config.metadata_hidden must be"),
        ({"statistics_window": 0}, "config.statistics_window must be null"),
        ({"band_mean": ["0"]}, "config.band_mean must be null or a list"),
        ({"modalities": {"sar_c": []}}, "config.modalities must be an object"),
        ({"modalities": {f"m{i}": ["b"] for i in range(65)}}, "config.modalities must be"),
        ({"layers": 3}, r"config has unknown fields \['layers'\]"),
    ],
)
def test_a_configuration_outside_its_bounds_is_refused(config, message):
    with pytest.raises(ModelCardError, match=message):
        card(config={**CONFIG, **config})


def test_the_schema_covers_every_network_field():
    pytest.importorskip("torch")
    from xsoilmoist.model import SSMNetConfig

    assert set(CONFIG_RULES) == {f.name for f in dataclasses.fields(SSMNetConfig)}


def test_json_round_trip_keeps_the_card_and_its_digest():
    original = card(input_ranges={"vv": [-30.0, 5.0]}, trained_months=[6, 7], sha256="a" * 64)
    again = ModelCard.from_json(original.to_json())
    assert again == original and again.digest() == original.digest()
    assert dataclasses.replace(original, sha256="b" * 64).digest() == original.digest()
    assert dataclasses.replace(original, tile=512).digest() != original.digest()


def test_reading_a_card_file(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(card().to_json().encode())
    assert read_card(path) == card()
    path.write_bytes(b'{"name": "caf\xe9", "config": {}, "trained": true}')  # latin-1
    with pytest.raises(ModelCardError, match=r"model.json is not UTF-8 text.*byte 13"):
        read_card(path)
    path.write_bytes(b" " * (MAX_CARD_BYTES + 1))
    with pytest.raises(ModelCardError, match="larger than"):
        read_card(path)
    path.write_text(json.dumps({**json.loads(card().to_json()), "trained": "no"}))
    with pytest.raises(ModelCardError, match=r"model.json: trained must be true or false"):
        read_card(path)
    path.write_text(json.dumps({**json.loads(card().to_json()), "colour": "red"}))
    with pytest.raises(ModelCardError, match=r"unknown fields \['colour'\]"):
        read_card(path)
    assert issubclass(ModelCardError, ModelError)


def test_default_card_of_a_cardless_network():
    made = default_card({"modalities": {"sar_c": ["vv", "vh"], "optical": ["red"]}})
    assert made.name == "in-memory" and made.sha256 == "" and made.trained is False
    assert made.required_modalities == ["sar_c"] and made.optional_modalities == ["optical"]
    assert (made.tile, made.halo) == (DEFAULT_TILE, DEFAULT_HALO)
    assert default_card({}, trained=True).trained is True


# ------------------------------------------------------------------ with torch


def test_every_network_owns_a_card():
    pytest.importorskip("torch")
    from xsoilmoist.model import SSMNet, SSMNetConfig

    config = SSMNetConfig(**{**CONFIG, "depths": (1, 1, 1, 1), "dims": (8, 16, 32, 64)})
    bare = SSMNet(config)
    assert bare.card == default_card(config.to_dict())
    given = card(config=config.to_dict(), tile=512, halo=64)
    assert SSMNet(config, card=given).card is given
    other = card(config={**config.to_dict(), "dims": [8, 16, 32, 48]})
    with pytest.raises(ModelCardError, match="is not the network's"):
        SSMNet(config, card=other)


@pytest.fixture
def saved(tmp_path):
    torch = pytest.importorskip("torch")
    from xsoilmoist.model import SSMNet, SSMNetConfig
    from xsoilmoist.weights import save_model

    torch.manual_seed(0)
    net = SSMNet(SSMNetConfig(name="tiny-test", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))
    return save_model(net, tmp_path / "tiny", card(config={}))


def _edit_card(card_path, **changes):
    data = json.loads(card_path.read_text())
    for key, value in changes.items():
        if key.startswith("config_"):
            data["config"][key.removeprefix("config_")] = value
        else:
            data[key] = value
    card_path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"config_out_max": 6.0}, "config.out_max must be a number of m3/m3"),  # was ssm 2.7
        ({"tile": 10**12}, "tile must be a whole number from 32"),  # hung predict
        ({"config_dims": [8, 16, 32, 10**6]}, "config.dims must be 4 whole numbers"),  # 5 GB
        ({"trained": "no"}, "trained must be true or false"),  # counted as trained
    ],
)
def test_hostile_cards_are_refused_by_load_model(saved, changes, message, monkeypatch):
    from xsoilmoist import weights

    weights_path, card_path = saved
    _edit_card(card_path, **changes)
    monkeypatch.setattr(weights, "file_sha256", lambda path: pytest.fail("hashed a bad card"))
    with pytest.raises(ModelCardError, match=message):
        weights.load_model(weights_path)


def test_a_network_too_big_is_refused_before_any_allocation(saved, monkeypatch):
    from xsoilmoist import weights

    weights_path, card_path = saved
    huge = {"config_dims": [2048, 2048, 2048, 2048], "config_depths": [64, 64, 64, 64]}
    _edit_card(card_path, **huge)
    # as if the pair were consistent (the card hash recorded in the weights) but huge
    from safetensors import safe_open

    with safe_open(weights_path, framework="pt") as stream:
        recorded = stream.metadata()[weights.CARD_DIGEST_KEY]
    monkeypatch.setattr(ModelCard, "digest", lambda self: recorded)
    monkeypatch.setattr(weights, "_read_state_dict", lambda path: pytest.fail("allocated"))
    start = time.perf_counter()
    with pytest.raises(ModelCardError, match=f"more than the {MAX_PARAMETERS:,}"):
        weights.load_model(weights_path)
    assert time.perf_counter() - start < 30


def test_the_bundled_default_card_records_its_training_ranges():
    from xsoilmoist.weights import available_models, load_card

    if "default" not in available_models():
        pytest.skip("no default model bundled")
    default = load_card("default")
    assert set(default.input_ranges) == set(default.bands)
    assert default.input_ranges["vv"][0] < -20 < 0 < default.input_ranges["vv"][1] < 10
    assert -1 <= default.input_ranges["ndvi"][0] < 0.2 < default.input_ranges["ndvi"][1] <= 1
    assert default.trained_months == [4, 5, 6, 7, 8, 9, 10]  # mid-April to mid-October
    assert default.trained_regions == default.training["data"]["regions"]
