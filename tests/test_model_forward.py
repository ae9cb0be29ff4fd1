"""SSMNet forward pass: shapes, bounds, missing modalities, metadata, determinism, training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from xsoilmoist.model import CONFIGS, SSMNet, SSMNetConfig, build_model, random_inputs

TINY = SSMNetConfig(
    name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), full_res_dim=8, metadata_hidden=16
)
#: The same network with the reference's tile-wide statistics.
TINY_TILE_WIDE = dataclasses.replace(TINY, statistics_window=None)
BOTH_STATISTICS = pytest.mark.parametrize("config", [TINY, TINY_TILE_WIDE], ids=["local", "tile"])


def _tiny_model(seed: int = 0, config: SSMNetConfig = TINY) -> SSMNet:
    torch.manual_seed(seed)
    return SSMNet(config).eval()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_named_config_maps_a_tile_to_the_same_shape(name):
    model = build_model(name).eval()
    x, meta = random_inputs(model.config, 2, 32, 32)
    with torch.no_grad():
        y = model(x, meta)
    assert y.shape == (2, 1, 32, 32) and y.dtype == torch.float32
    assert bool(torch.isfinite(y).all())


@pytest.mark.parametrize(("height", "width"), [(1, 1), (37, 45), (64, 33)])
def test_any_height_and_width_come_back_unchanged(height, width):
    model = _tiny_model()
    x, meta = random_inputs(TINY, 1, height, width)
    with torch.no_grad():
        y = model(x, meta)
    assert y.shape == (1, 1, height, width)
    assert bool(torch.isfinite(y).all())


def test_output_stays_within_zero_and_out_max_even_for_wild_inputs():
    config = dataclasses.replace(TINY, out_max=0.45)
    model = _tiny_model(config=config)
    with torch.no_grad():  # push the head into saturation
        model.head_out.weight.mul_(1e3)
        model.head_out.bias.fill_(5.0)
    x, meta = random_inputs(config, 2, 32, 32)
    with torch.no_grad():
        y = model(x * 1e4, meta)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 0.45
    assert float(y.max()) > 0.44  # the bound is reached, not merely unused


def test_input_is_not_modified():
    model = _tiny_model()
    x, meta = random_inputs(TINY, 1, 40, 40, absent=("optical",))
    x_before, meta_before = x.clone(), meta.clone()
    with torch.no_grad():
        model(x, meta)
    assert torch.equal(x.nan_to_num(-999), x_before.nan_to_num(-999))
    assert torch.equal(meta, meta_before)


def test_same_input_gives_the_same_output_and_seeded_builds_agree():
    x, meta = random_inputs(TINY, 2, 32, 48, absent=("sar_l",))
    model = _tiny_model(seed=3)
    with torch.no_grad():
        first = model(x, meta)
        second = model(x, meta)
        rebuilt = _tiny_model(seed=3)(x, meta)
    assert torch.equal(first, second)
    assert torch.equal(first, rebuilt)


@BOTH_STATISTICS
def test_images_in_a_batch_are_independent(config):
    """Per-image GRN and SE statistics: a neighbour in the batch changes nothing."""
    model = _tiny_model(config=config)
    x, meta = random_inputs(config, 3, 32, 32)
    x[1, :, :16] = float("nan")  # a half-empty neighbour
    with torch.no_grad():
        batched = model(x, meta)
        alone = model(x[:1], meta[:1])
    torch.testing.assert_close(batched[:1], alone, rtol=1e-5, atol=1e-6)


@BOTH_STATISTICS
@pytest.mark.parametrize("absent", [("optical",), ("sar_c", "sar_l"), ("optical", "vegetation")])
def test_a_whole_missing_modality_still_gives_finite_predictions(absent, config):
    model = _tiny_model(config=config)
    x, meta = random_inputs(config, 2, 32, 32, absent=absent)
    full_x, _ = random_inputs(config, 2, 32, 32)
    with torch.no_grad():
        y = model(x, meta)
        y_full = model(full_x, meta)
    assert bool(torch.isfinite(y).all())
    assert not torch.equal(y, y_full)


def test_pixels_seen_by_one_modality_only_are_predicted():
    model = _tiny_model()
    x, meta = random_inputs(TINY, 1, 32, 32)
    slices = TINY.modality_slices
    for name in TINY.modalities:
        if name != "topography":
            x[:, slices[name], :, :16] = float("nan")
    with torch.no_grad():
        y = model(x, meta)
    assert bool(torch.isfinite(y).all())


def test_model_normalises_its_own_inputs_with_the_config_statistics():
    mean = tuple(float(v) for v in torch.linspace(-20, 300, TINY.n_bands))
    std = tuple(float(v) for v in torch.linspace(0.5, 40, TINY.n_bands))
    scaled_config = dataclasses.replace(TINY, band_mean=mean, band_std=std)
    unit, scaled = _tiny_model(), SSMNet(scaled_config).eval()
    scaled.load_state_dict(unit.state_dict())
    z, meta = random_inputs(TINY, 1, 32, 32)
    x = torch.tensor(mean).view(1, -1, 1, 1) + torch.tensor(std).view(1, -1, 1, 1) * z
    with torch.no_grad():
        torch.testing.assert_close(scaled(x, meta), unit(z, meta), rtol=1e-4, atol=1e-5)


def test_float64_input_is_accepted():
    model = _tiny_model()
    x, meta = random_inputs(TINY, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x.double(), meta.double()), model(x, meta))


def test_bfloat16_autocast_agrees_with_float32():
    model = _tiny_model()
    x, meta = random_inputs(TINY, 1, 32, 32, absent=("sar_l",))
    x[:, 5:12, :8] = float("nan")
    with torch.inference_mode():
        y32 = model(x, meta)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y16 = model(x, meta)
    assert y16.dtype == torch.float32
    assert torch.equal(y16.isnan(), y32.isnan())
    torch.testing.assert_close(y16, y32, rtol=0, atol=0.01, equal_nan=True)


def _train(model: SSMNet, x, meta, target, steps: int, lr: float = 3e-3) -> list[float]:
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x, meta), target)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return losses


@BOTH_STATISTICS
def test_one_batch_overfit_loss_falls(config):
    model = _tiny_model(config=config)
    x, meta = random_inputs(config, 2, 32, 32)
    rows = torch.linspace(0.05, 0.45, 32).view(1, 1, 32, 1)
    target = (rows + 0.1 * torch.tanh(x[:, :1])).clamp(0.01, 0.55)  # a gradient plus SAR detail
    losses = _train(model, x, meta, target, steps=40)
    assert losses[-1] < 0.2 * losses[0]


@BOTH_STATISTICS
def test_metadata_carries_information_the_pixels_do_not(config):
    """Same pixels, different day-of-year/location: the model can learn to tell them apart."""
    model = _tiny_model(config=config)
    x, _ = random_inputs(config, 1, 32, 32)
    x = x.expand(2, -1, -1, -1).contiguous()
    meta = torch.tensor([[1.0, 0.0, 0.5, 0.5, 0.2, 0.9], [-1.0, 0.0, 0.5, 0.5, 0.2, 0.9]])
    target = torch.tensor([0.1, 0.4]).view(2, 1, 1, 1).expand(2, 1, 32, 32)
    with torch.no_grad():
        before = model(x, meta)
    assert not torch.equal(before[0], before[1])  # already an effect at initialisation
    # lr 1e-2: at 3e-3 whether 60 steps separate them depended on the thread count (the
    # float summation order) for tile-wide statistics; at 1e-2 every seed and count did.
    _train(model, x, meta, target, steps=60, lr=1e-2)
    model.eval()
    with torch.no_grad():
        after = model(x, meta)
    assert float(after[1].mean() - after[0].mean()) > 0.1  # targets differ by 0.3


@BOTH_STATISTICS
def test_presence_vector_feeds_film_only_with_tile_wide_statistics(config):
    """A tile-level presence vector would modulate every pixel by what is far away."""
    model = _tiny_model(config=config)
    film_inputs = []
    model.metadata_film.register_forward_hook(lambda _, args, out: film_inputs.append(args[0]))
    x, meta = random_inputs(config, 1, 32, 32)
    no_optical = x.clone()
    no_optical[:, config.modality_slices["optical"]] = float("nan")
    with torch.no_grad():
        model(x, meta)
        model(no_optical, meta)
    n_modalities = len(config.modalities)
    first_layer = model.metadata_film.mlp[0]
    if config.local_statistics:
        assert first_layer.in_features == config.n_metadata
        assert torch.equal(film_inputs[0], meta) and torch.equal(film_inputs[1], meta)
    else:
        assert first_layer.in_features == config.n_metadata + n_modalities
        presence = [inputs[0, config.n_metadata :].tolist() for inputs in film_inputs]
        assert presence == [[1.0] * n_modalities, [1, 1, 0, 1, 1, 1]]


@pytest.mark.parametrize(
    ("x_shape", "meta_shape", "error", "message"),
    [
        ((1, 17, 8, 8), (1, 6), ValueError, r"x must have shape \(batch, 18, height, width\)"),
        ((18, 8, 8), (1, 6), ValueError, "x must have shape"),
        ((2, 18, 8, 8), (1, 6), ValueError, r"meta must have shape \(2, 6\)"),
        ((1, 18, 8, 8), (1, 5), ValueError, "doy_sin"),
    ],
)
def test_bad_shapes_are_refused_with_the_expected_layout(x_shape, meta_shape, error, message):
    model = _tiny_model()
    with pytest.raises(error, match=message):
        model(torch.zeros(x_shape), torch.zeros(meta_shape))


def test_bad_dtypes_and_missing_metadata_are_refused():
    model = _tiny_model()
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 18, 8, 8, dtype=torch.int16), torch.zeros(1, 6))
    with pytest.raises(ValueError, match="meta must be finite"):
        model(torch.zeros(1, 18, 8, 8), torch.full((1, 6), float("nan")))
    with pytest.raises(ValueError, match="unknown modality group"):
        random_inputs(TINY, absent=("lidar",))
