import functools
import http.server
import json
import threading
import warnings

import pytest

torch = pytest.importorskip("torch")

from xsoilmoist import weights  # noqa: E402
from xsoilmoist.model import SSMNet, SSMNetConfig  # noqa: E402
from xsoilmoist.weights import (  # noqa: E402
    ModelCard,
    ModelCardError,
    ModelError,
    ModelIntegrityError,
    ModelNotAvailableError,
    file_sha256,
    load_model,
    save_model,
)

TINY = SSMNetConfig(name="tiny-test", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))


def tiny_model(seed=0, config=TINY):
    torch.manual_seed(seed)
    return SSMNet(config).eval()


def card_for(name="tiny", trained=True):
    return ModelCard(
        name=name,
        config={},
        trained=trained,
        description="test model, random weights",
        metrics={"note": "none: test fixture"},
    )


def forward(model, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, model.config.n_bands, 40, 36, generator=gen)
    meta = torch.randn(1, model.config.n_metadata, generator=gen)
    with torch.inference_mode():
        return model(x, meta)


@pytest.fixture
def saved(tmp_path):
    model = tiny_model()
    weights_path, card_path = save_model(model, tmp_path / "tiny", card_for())
    return model, weights_path, card_path


def test_round_trip_gives_identical_outputs_and_card(saved):
    model, weights_path, card_path = saved
    loaded = load_model(weights_path)
    assert not loaded.training
    torch.testing.assert_close(forward(loaded), forward(model), rtol=0, atol=0)
    card = loaded.card
    assert card.sha256 == file_sha256(weights_path)
    assert card.config == model.config.to_dict()
    assert card.bands == list(model.config.bands)
    assert json.loads(card_path.read_text())["name"] == "tiny"
    # the card or the stem load the same model
    for other in (card_path, weights_path.with_suffix("")):
        torch.testing.assert_close(forward(load_model(other)), forward(model), rtol=0, atol=0)


def test_loading_never_unpickles(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load must never be used on model files")

    monkeypatch.setattr(torch, "load", refuse)
    load_model(saved[1])


def test_untrained_weights_warn(tmp_path):
    path, _ = save_model(tiny_model(), tmp_path / "raw", card_for(trained=False))
    with pytest.warns(UserWarning, match="untrained weights"):
        load_model(path)


def test_local_hash_mismatch_is_refused(saved):
    _, weights_path, _ = saved
    data = bytearray(weights_path.read_bytes())
    data[-1] ^= 0xFF
    weights_path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"expects [0-9a-f]{64}"):
        load_model(weights_path)


def test_a_tampered_card_is_refused_before_anything_is_built(saved):
    _, weights_path, card_path = saved
    card = json.loads(card_path.read_text())
    card["config"]["dims"] = [8, 16, 32, 48]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match=r"model card .*tiny.json was modified"):
        load_model(weights_path)


def test_the_weights_metadata_holds_the_card_hash(saved):
    from safetensors import safe_open

    _, weights_path, card_path = saved
    with safe_open(weights_path, framework="pt") as stream:
        recorded = stream.metadata()[weights.CARD_DIGEST_KEY]
    assert recorded == ModelCard.from_json(card_path.read_text()).digest()
    assert len(recorded) == 64 and recorded != file_sha256(card_path)  # without its sha256


def _legacy_files(model, path, card):
    """A model written before cards were hashed: no card hash in the weights' metadata."""
    from safetensors.torch import save_file

    weights_path, card_path = save_model(model, path, card)
    save_file(dict(model.state_dict()), weights_path, metadata={"format": "pt"})
    data = json.loads(card_path.read_text())
    data["sha256"] = file_sha256(weights_path)
    return weights_path, card_path, data


def test_card_configuration_must_match_the_weights(tmp_path):
    weights_path, card_path, card = _legacy_files(tiny_model(), tmp_path / "old", card_for())
    card["config"]["dims"] = [8, 16, 32, 48]
    card_path.write_text(json.dumps(card))
    with (
        pytest.warns(UserWarning, match="not covered by the integrity check"),
        pytest.raises(ModelError, match=r"do not match the configuration.*shape mismatches"),
    ):
        load_model(weights_path)


def test_a_card_without_weights_hash_is_refused(saved):
    _, weights_path, card_path = saved
    card = json.loads(card_path.read_text())
    card["sha256"] = ""
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="has no sha256 of its weights"):
        load_model(weights_path)


def test_corrupted_safetensors_header(saved):
    _, weights_path, card_path = saved
    weights_path.write_bytes(b"\xff" * 8 + b"{not json" + weights_path.read_bytes()[17:])
    card = json.loads(card_path.read_text())
    card["sha256"] = file_sha256(weights_path)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="not a readable safetensors file"):
        load_model(weights_path)


def test_card_that_is_not_a_card(saved):
    _, weights_path, card_path = saved
    card_path.write_text('{"hello": 1}')
    with pytest.raises(ModelCardError, match="lacks the fields"):
        load_model(weights_path)
    card_path.write_text("{oops")
    with pytest.raises(ModelCardError, match="not valid JSON"):
        load_model(weights_path)
    card_path.write_text("[1, 2]")
    with pytest.raises(ModelCardError, match="not a JSON object"):
        load_model(weights_path)


def test_missing_files(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="not found"):
        load_model(tmp_path / "nothing.safetensors")


def test_default_without_bundled_model_says_so(monkeypatch):
    monkeypatch.setattr(weights, "_bundled_files", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="No trained default model ships"):
        load_model("default")


def test_unknown_name_lists_available():
    with pytest.raises(ModelNotAvailableError, match="no model named 'nope'; available"):
        load_model("nope")


# --------------------------------------------------------------- registry over HTTP


class _Server:
    """A static HTTP server on 127.0.0.1 serving one folder, stoppable."""

    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A tiny model published on a local HTTP server, with a registry naming it."""
    folder = tmp_path / "server"
    model = tiny_model()
    weights_path, card_path = save_model(model, folder / "tiny-v1", card_for("tiny"))
    registry = {
        "models": {
            "tiny": {
                "weights": weights_path.name,
                "weights_sha256": file_sha256(weights_path),
                "card": card_path.name,
                "card_sha256": file_sha256(card_path),
                "size": weights_path.stat().st_size,
                "summary": {"config": "tiny-test", "modalities": ["sar_c"]},
            }
        }
    }
    registry_path = tmp_path / "registry.json"
    registry_path.write_text(json.dumps(registry))
    server = _Server(folder)
    cache = tmp_path / "cache"
    monkeypatch.setenv(weights.REGISTRY_ENV, str(registry_path))
    monkeypatch.setenv(weights.MODELS_URL_ENV, server.url)
    monkeypatch.setenv(weights.CACHE_DIR_ENV, str(cache))
    yield model, server, cache, weights_path
    server.stop()


def test_download_verifies_then_works_offline_from_cache(published):
    model, server, cache, weights_path = published
    assert "tiny" in weights.available_models()
    entry = weights.model_registry()["tiny"]
    assert not weights.is_cached(entry)
    first = load_model("tiny")
    torch.testing.assert_close(forward(first), forward(model), rtol=0, atol=0)
    sha = file_sha256(weights_path)
    assert (cache / f"tiny-{sha[:16]}.safetensors").is_file()  # name and hash in the cache name
    assert weights.is_cached(entry)
    server.stop()
    second = load_model("tiny")
    torch.testing.assert_close(forward(second), forward(model), rtol=0, atol=0)


def test_tampered_file_on_the_server_is_refused_and_not_cached(published):
    _, _, cache, weights_path = published
    good_sha = file_sha256(weights_path)
    data = bytearray(weights_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights_path.write_bytes(bytes(data))
    bad_sha = file_sha256(weights_path)
    with pytest.raises(ModelIntegrityError) as info:
        load_model("tiny")
    message = str(info.value)
    assert good_sha in message and bad_sha in message
    assert not list(cache.glob("*.safetensors"))


def test_truncated_cache_is_not_valid_and_server_down_names_the_url(published):
    _, server, cache, _ = published
    load_model("tiny")
    cached = next(cache.glob("*.safetensors"))
    cached.write_bytes(cached.read_bytes()[:100])
    entry = weights.model_registry()["tiny"]
    assert not weights.is_cached(entry)
    server.stop()
    with pytest.raises(ModelNotAvailableError) as info:
        load_model("tiny")
    assert server.url in str(info.value)
    assert weights.MODELS_URL_ENV in str(info.value)


def test_unreachable_server_with_empty_cache(published, monkeypatch):
    _, server, _, _ = published
    server.stop()
    with pytest.raises(ModelNotAvailableError, match=r"could not download model 'tiny' from http"):
        load_model("tiny")


def test_file_url_mirror(published, monkeypatch, tmp_path):
    model, server, _, weights_path = published
    server.stop()
    monkeypatch.setenv(weights.MODELS_URL_ENV, weights_path.parent.as_uri() + "/")
    monkeypatch.setenv(weights.CACHE_DIR_ENV, str(tmp_path / "cache2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model("tiny")
    expected = forward(model)
    assert float(expected.min()) >= 0 and float(expected.max()) <= TINY.out_max
    torch.testing.assert_close(forward(loaded), expected, rtol=0, atol=0)


def test_cli_models_lists_registry_and_cache_state(published, capsys):
    from xsoilmoist.cli import main

    assert main(["models"]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("tiny"))
    assert "tiny-test" in line and "no" in line.split() and "sar_c" in line
    load_model("tiny")
    main(["models"])
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("tiny"))
    assert "yes" in line.split()


# --------------------------------------------------------------- registry checks


def _write_registry(tmp_path, monkeypatch, data, raw=None):
    path = tmp_path / "registry.json"
    path.write_bytes(raw if raw is not None else json.dumps(data).encode())
    monkeypatch.setenv(weights.REGISTRY_ENV, str(path))
    return path


def _entry(**changes):
    return {
        "weights": "tiny-v1.safetensors",
        "weights_sha256": "a" * 64,
        "card": "tiny-v1.json",
        "card_sha256": "b" * 64,
        **changes,
    }


def test_a_registry_without_models_says_so(tmp_path, monkeypatch):
    _write_registry(tmp_path, monkeypatch, {"tiny": _entry()})
    with pytest.raises(ModelError, match='has no "models" object; a registry is'):
        weights.model_registry()
    _write_registry(tmp_path, monkeypatch, None, raw=b'{"models": {"caf\xe9": 1}}')
    with pytest.raises(ModelError, match="is not UTF-8 text"):
        weights.available_models()
    _write_registry(tmp_path, monkeypatch, {"models": {"tiny": {**_entry(), "extra": 1}}})
    with pytest.raises(ModelError, match="entry 'tiny' must be an object with the fields"):
        weights.model_registry()


@pytest.mark.parametrize(
    ("name", "changes", "message"),
    [
        ("tiny", {"weights_sha256": "/../../x/y/z/aaaa"}, "weights_sha256 must be 64 lowercase"),
        ("tiny", {"card_sha256": "B" * 64}, "card_sha256 must be 64 lowercase hex"),
        ("../tiny", {}, "its name must be a plain file name"),
        (".hidden", {}, "its name must be a plain file name"),
        ("tiny", {"weights": "../secret.safetensors"}, "weights must be a relative path"),
        ("tiny", {"card": "/etc/passwd"}, "card must be a relative path"),
        ("tiny", {"size": "big"}, "size must be a number of bytes"),
    ],
)
def test_unsafe_registry_entries_are_refused(tmp_path, monkeypatch, name, changes, message):
    cache = tmp_path / "deep" / "cache"
    monkeypatch.setenv(weights.CACHE_DIR_ENV, str(cache))
    monkeypatch.setenv(weights.MODELS_URL_ENV, (tmp_path / "server").as_uri() + "/")
    _write_registry(tmp_path, monkeypatch, {"models": {name: _entry(**changes)}})
    with pytest.raises(ModelError, match=message):
        weights.model_registry()
    with pytest.raises(ModelError, match=message):
        load_model(name.removeprefix("../"))  # a name with "/" is taken as a path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json"]  # nothing created


def test_cache_files_are_plain_names_inside_the_cache(published):
    _, _, cache, _ = published
    entry = weights.model_registry()["tiny"]
    load_model("tiny")
    assert sorted(p.parent for p in cache.rglob("*")) == [cache, cache]
    assert weights._cached_file(entry, ".json") == (cache / f"{entry.cache_stem}.json").resolve()


def test_a_tampered_card_on_the_server_is_refused_and_nothing_is_cached(published):
    _, _, cache, weights_path = published
    card_path = weights_path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["config"]["out_max"] = 0.9  # a valid card, but not the registered one
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match=r"tiny-v1.json was refused.*nothing was cached"):
        load_model("tiny")
    assert not cache.exists() or not list(cache.iterdir())


def test_without_a_models_url_a_registered_model_says_how_to_get_it(published, monkeypatch):
    model, server, _, _ = published
    monkeypatch.delenv(weights.MODELS_URL_ENV)
    assert not hasattr(weights, "DEFAULT_MODELS_URL")
    with pytest.raises(ModelNotAvailableError) as info:
        load_model("tiny")
    message = str(info.value)
    assert weights.MODELS_URL_ENV in message and "no public model server" in message
    assert "tiny-v1.safetensors" in message and "load_model('path/to" in message
    monkeypatch.setenv(weights.MODELS_URL_ENV, server.url)
    load_model("tiny")
    monkeypatch.delenv(weights.MODELS_URL_ENV)  # once cached, no URL is needed
    torch.testing.assert_close(forward(load_model("tiny")), forward(model), rtol=0, atol=0)
