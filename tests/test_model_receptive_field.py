"""The receptive field computed from the architecture is the one the network has."""

from __future__ import annotations

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

TINY = SSMNetConfig(
    name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), full_res_dim=8, metadata_hidden=16
)
RADIUS = receptive_field(TINY).radius
WIDTH = 2 * receptive_field(TINY).halo + 2 * INPUT_MULTIPLE  # room on both sides
FIRST = receptive_field(TINY).halo  # 32 output columns, one per alignment with the grid
COLUMNS = range(FIRST, FIRST + INPUT_MULTIPLE)


def _scrambled(seed: int, local_only: bool) -> SSMNet:
    """Random parameters; with ``local_only`` the tile-wide statistics are switched off.

    GRN with ``gamma = 0`` and SE fusion with a zero last layer (constant attention)
    leave only the convolutional paths, the ones ``receptive_field`` describes.
    """
    torch.manual_seed(seed)
    model = SSMNet(TINY).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
        if local_only:
            for name, parameter in model.named_parameters():
                if name.endswith("grn.gamma"):
                    parameter.zero_()
            model.fusion.excite[-1].weight.zero_()
    return model


@functools.cache
def _line_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    return random_inputs(TINY, 1, INPUT_MULTIPLE, WIDTH, seed=4)


def test_computed_radius_is_exact_for_the_worst_alignment():
    """Nothing beyond the radius influences an output, and the radius is reached."""
    model = _scrambled(0, local_only=True)
    x, meta = _line_inputs()
    x = x.clone().requires_grad_(True)
    y = model(x, meta)
    reach = []
    for column in COLUMNS:
        (grad,) = torch.autograd.grad(y[0, 0, :, column].sum(), x, retain_graph=True)
        influencing = torch.nonzero(grad.abs().sum(dim=(0, 1, 2))).flatten()
        reach.append(max(column - int(influencing.min()), int(influencing.max()) - column))
    assert max(reach) == RADIUS
    assert min(reach) > RADIUS - INPUT_MULTIPLE  # every alignment sees most of it


def test_a_pixel_beyond_the_radius_cannot_change_an_output():
    model = _scrambled(1, local_only=True)
    x, meta = _line_inputs()
    centre = FIRST + 7
    far = x.clone()
    far[..., centre + RADIUS + 1] += 5.0
    far[..., centre - RADIUS - 1] -= 5.0
    near = x.clone()
    near[..., centre + RADIUS // 2] += 5.0
    with torch.no_grad():
        y, y_far, y_near = model(x, meta), model(far, meta), model(near, meta)
    assert torch.equal(y[..., centre], y_far[..., centre])
    assert not torch.equal(y[..., centre], y_near[..., centre])


def test_tile_wide_statistics_reach_beyond_the_radius():
    """Why tiled inference needs per-tile statistics, a fixed grid and blending (see docs)."""
    model = _scrambled(1, local_only=False)
    x, meta = _line_inputs()
    centre = FIRST + 7
    far = x.clone()
    far[..., centre + RADIUS + 1 :] += 5.0
    with torch.no_grad():
        y, y_far = model(x, meta), model(far, meta)
    assert not torch.equal(y[..., centre], y_far[..., centre])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_halo_covers_the_radius_on_the_stride_grid(name):
    field = receptive_field(name)
    assert field.input_multiple == INPUT_MULTIPLE == 32
    assert field.halo % 32 == 0 and 0 <= field.halo - field.radius < 32


def test_radius_grows_with_depth_and_kernel_not_with_width():
    atto = receptive_field("atto")
    assert receptive_field("pico").radius == atto.radius  # same depths, wider
    assert receptive_field("nano").radius > atto.radius  # two more stride-16 blocks
    # Each extra stride-16 block adds 3 cells of 16 pixels on either side.
    assert receptive_field("nano").radius - atto.radius == 2 * 3 * 16
    wider_head = SSMNetConfig(depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), full_res_kernel=5)
    # 5x5 head convolution after the merge: +1; the full-resolution path runs in parallel.
    assert receptive_field(wider_head).radius == RADIUS + 1
