"""The receptive field computed from the architecture is the one the network has.

With local statistics it is the whole story: a tile's output equals that of any
larger tile containing it (origins on the stride-32 grid) wherever the smaller
tile holds the field. With tile-wide statistics it is not.
"""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch

from xsoilmoist.model import (
    CONFIGS,
    INPUT_MULTIPLE,
    SSMNet,
    SSMNetConfig,
    random_inputs,
    receptive_field,
)

#: Small depths and a 32 px statistics window keep the exact field short (470 px).
TINY_LOCAL = SSMNetConfig(
    name="tiny",
    depths=(1, 1, 1, 1),
    dims=(8, 16, 24, 32),
    full_res_dim=8,
    metadata_hidden=16,
    statistics_window=32,
)
TINY_TILE_WIDE = dataclasses.replace(TINY_LOCAL, statistics_window=None)
FIELD = receptive_field(TINY_LOCAL)
CONV_RADIUS = receptive_field(TINY_TILE_WIDE).radius
WIDTH = 2 * FIELD.exact_margin + 2 * INPUT_MULTIPLE  # room on both sides
FIRST = FIELD.exact_margin  # 32 output columns, one per alignment with the grid
COLUMNS = range(FIRST, FIRST + INPUT_MULTIPLE)


def _scrambled(config: SSMNetConfig, seed: int, statistics_off: bool = False) -> SSMNet:
    """Random parameters; ``statistics_off`` switches GRN and the SE attention off.

    GRN with ``gamma = 0`` and SE fusion with a zero last layer (constant attention)
    leave only the convolutional paths, those of ``convolution_radius``.
    """
    torch.manual_seed(seed)
    model = SSMNet(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
        if statistics_off:
            for name, parameter in model.named_parameters():
                if name.endswith("grn.gamma"):
                    parameter.zero_()
            model.fusion.excite[-1].weight.zero_()
    return model


@functools.cache
def _line_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return random_inputs(TINY_LOCAL, 1, INPUT_MULTIPLE, WIDTH, seed=4)


def _reach(model: SSMNet) -> list[int]:
    """For each of 32 output columns, the farthest input column that influences it."""
    x, meta = _line_inputs()
    x = x.clone().requires_grad_(True)
    y = model(x, meta)
    reach = []
    for column in COLUMNS:
        (grad,) = torch.autograd.grad(y[0, 0, :, column].sum(), x, retain_graph=True)
        influencing = torch.nonzero(grad.abs().sum(dim=(0, 1, 2))).flatten()
        reach.append(max(column - int(influencing.min()), int(influencing.max()) - column))
    return reach


def test_convolutional_radius_is_exact_for_the_worst_alignment():
    """Nothing beyond the radius influences an output, and the radius is reached."""
    reach = _reach(_scrambled(TINY_TILE_WIDE, 0, statistics_off=True))
    assert FIELD.convolution_radius == CONV_RADIUS
    assert max(reach) == CONV_RADIUS
    assert min(reach) > CONV_RADIUS - INPUT_MULTIPLE  # every alignment sees most of it


def test_radius_with_local_statistics_is_exact_for_the_worst_alignment():
    """The statistics windows compose with the convolutions; the bound is still attained."""
    reach = _reach(_scrambled(TINY_LOCAL, 0))
    assert FIELD.radius > FIELD.convolution_radius and not FIELD.tile_wide_statistics
    assert max(reach) == FIELD.radius
    assert min(reach) > FIELD.radius - INPUT_MULTIPLE


@pytest.mark.parametrize(
    ("config", "statistics_off", "radius"),
    [(TINY_TILE_WIDE, True, CONV_RADIUS), (TINY_LOCAL, False, FIELD.radius)],
    ids=["convolutions", "local-statistics"],
)
def test_a_pixel_beyond_the_radius_cannot_change_an_output(config, statistics_off, radius):
    model = _scrambled(config, 1, statistics_off)
    x, meta = _line_inputs()
    centre = FIRST + 7
    far = x.clone()
    far[..., centre + radius + 1] += 5.0
    far[..., centre - radius - 1] -= 5.0
    near = x.clone()
    near[..., centre + radius // 2] += 5.0
    with torch.no_grad():
        y, y_far, y_near = model(x, meta), model(far, meta), model(near, meta)
    assert torch.equal(y[..., centre], y_far[..., centre])
    assert not torch.equal(y[..., centre], y_near[..., centre])


def test_tile_wide_statistics_reach_beyond_the_radius():
    """Why tiled inference with the reference statistics needs blending (see docs)."""
    model = _scrambled(TINY_TILE_WIDE, 1)
    x, meta = _line_inputs()
    centre = FIRST + 7
    far = x.clone()
    far[..., centre + CONV_RADIUS + 1 :] += 5.0
    with torch.no_grad():
        y, y_far = model(x, meta), model(far, meta)
    assert not torch.equal(y[..., centre], y_far[..., centre])


def _nested_tiles(config: SSMNetConfig, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions of a strip and of a longer strip containing it, on the same pixels.

    The small strip is ``2 * halo + 64`` px long and starts 64 px (two grid steps)
    into the large one along ``axis``; across it both share the same 32 px. The
    large strip's extra 64 px on either side differ from the rest (brighter, no
    optical, the only L-band), so tile-wide statistics differ between the strips.
    """
    small, offset = 2 * FIELD.exact_margin + 2 * INPUT_MULTIPLE, 2 * INPUT_MULTIPLE
    large = small + 2 * offset
    x, meta = random_inputs(config, 1, INPUT_MULTIPLE, large, seed=5)
    slices = config.modality_slices
    inner, outer = x[..., offset : offset + small], x[..., :offset]
    inner[:, slices["sar_l"]] = float("nan")
    outer += 3.0
    outer[:, slices["optical"]] = float("nan")
    x[..., offset + small :] = outer.flip(-1)
    if axis == 0:
        x = x.transpose(-1, -2).contiguous()
    model = _scrambled(config, 2)
    with torch.no_grad():
        y_large = model(x, meta)
        y_small = model(x.narrow(axis - 2, offset, small), meta)
    return y_small, y_large.narrow(axis - 2, offset, small)


@pytest.mark.parametrize("axis", [0, 1], ids=["y", "x"])
def test_a_tile_agrees_with_a_larger_tile_beyond_the_radius_with_local_statistics(axis):
    """The property tiled inference needs: no tile-wide state, so no seams from statistics."""
    y_small, y_large = _nested_tiles(TINY_LOCAL, axis)
    radius = FIELD.radius
    held = slice(radius, y_small.shape[axis - 2] - radius)  # the field lies inside the strip
    index = (..., held, slice(None)) if axis == 0 else (..., held)
    torch.testing.assert_close(y_small[index], y_large[index], rtol=0, atol=1e-5)
    assert float(y_small[index].std()) > 1e-3  # a real prediction, not a constant
    edge = (..., slice(0, 32), slice(None)) if axis == 0 else (..., slice(0, 32))
    assert float((y_small[edge] - y_large[edge]).abs().max()) > 1e-3  # the edge does differ


def test_a_tile_disagrees_with_a_larger_tile_beyond_the_radius_with_tile_wide_statistics():
    y_small, y_large = _nested_tiles(TINY_TILE_WIDE, axis=1)
    radius = FIELD.radius
    held = (..., slice(radius, y_small.shape[-1] - radius))
    difference = (y_small[held] - y_large[held]).abs()
    assert float(difference.max()) > 1e-2
    assert float((difference > 1e-5).float().mean()) > 0.5  # most pixels, not a few


@pytest.mark.parametrize("name", list(CONFIGS))
def test_halo_covers_the_radius_on_the_stride_grid(name):
    field = receptive_field(name)
    assert field.input_multiple == INPUT_MULTIPLE == 32
    assert field.exact_margin % 32 == 0 and 0 <= field.exact_margin - field.radius < 32
    assert field.radius > field.convolution_radius  # named configs: local statistics
    tile_wide = receptive_field(dataclasses.replace(CONFIGS[name], statistics_window=None))
    assert tile_wide.tile_wide_statistics
    assert tile_wide.radius == tile_wide.convolution_radius == field.convolution_radius


def test_radius_grows_with_depth_kernel_and_window_not_with_width():
    atto, nano = receptive_field("atto"), receptive_field("nano")
    assert receptive_field("pico") == atto  # same depths, wider
    # Each extra stride-16 block adds 3 cells of 16 pixels on either side (7x7 conv) ...
    assert nano.convolution_radius - atto.convolution_radius == 2 * 3 * 16
    # ... and with local statistics the GRN window's half too (96 px: 7 cells).
    assert CONFIGS["atto"].window_cells(16) == 7
    assert nano.radius - atto.radius == 2 * (3 + 3) * 16
    wider_window = dataclasses.replace(TINY_LOCAL, statistics_window=64)
    assert receptive_field(wider_window).radius > FIELD.radius
    assert receptive_field(wider_window).convolution_radius == CONV_RADIUS
    wider_head = dataclasses.replace(TINY_TILE_WIDE, full_res_kernel=5)
    # 5x5 head convolution after the merge: +1; the full-resolution path runs in parallel.
    assert receptive_field(wider_head).radius == CONV_RADIUS + 1
