"""Masked (submanifold sparse) computation: values under the mask never reach any output."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xsoilmoist.model import SSMNet, SSMNetConfig, random_inputs
from xsoilmoist.model.blocks import (
    GRN_EPS,
    MaskedGRN,
    PartialPatchConv,
    apply_mask,
    masked_upsample,
    window_sum,
)
from xsoilmoist.model.fusion import SEModalityFusion

TINY = SSMNetConfig(
    name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), full_res_dim=8, metadata_hidden=16
)
N_MODALITIES = len(TINY.modalities)


@functools.cache
def _scrambled_model(local: bool = True) -> SSMNet:
    """A tiny model whose every parameter (GRN gamma/beta included) is far from its init.

    ``local``: windowed statistics (the default), else tile-wide ones (the reference).
    """
    torch.manual_seed(0)
    config = TINY if local else dataclasses.replace(TINY, statistics_window=None)
    model = SSMNet(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return model


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality, NaN included."""
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


def _hide(x: torch.Tensor, valid: np.ndarray, rng: np.random.Generator, scale: float):
    """Invalidate each (modality, pixel) with ``valid`` False: one band NaN/inf, the rest junk."""
    x = x.clone()
    for m, channels in enumerate(TINY.modality_slices.values()):
        invalid = torch.from_numpy(~valid[:, m])
        n_bands = channels.stop - channels.start
        marker = torch.from_numpy(rng.integers(0, n_bands, size=invalid.shape))
        bad = torch.from_numpy(rng.choice([np.nan, np.inf, -np.inf], size=invalid.shape))
        for band in range(n_bands):
            plane = x[:, channels.start + band]
            junk = torch.from_numpy(rng.normal(size=invalid.shape) * scale).float()
            plane[invalid] = junk[invalid]
            is_marker = invalid & (marker == band)
            plane[is_marker] = bad[is_marker].float()
    return x


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    valid_fraction=st.lists(st.sampled_from([0.0, 0.3, 0.7, 0.95, 1.0]), min_size=6, max_size=6),
    junk_scale=st.sampled_from([1.0, 1e4, 1e30]),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    local=st.booleans(),
)
def test_values_under_the_mask_change_no_output_anywhere(
    seed, valid_fraction, junk_scale, height, width, local
):
    model = _scrambled_model(local)
    rng = np.random.default_rng(seed)
    x, meta = random_inputs(TINY, 2, height, width, seed=seed)
    shape = (2, N_MODALITIES, height, width)
    valid = rng.random(shape) < np.array(valid_fraction)[None, :, None, None]
    with torch.no_grad():
        first = model(_hide(x, valid, rng, junk_scale), meta)
        second = model(_hide(x, valid, rng, junk_scale), meta)
    assert _same(first, second)
    # NaN exactly where no modality is valid, finite and bounded everywhere else.
    no_modality = torch.from_numpy(~valid.any(axis=1))
    assert torch.equal(first[:, 0].isnan(), no_modality)
    finite = first[~first.isnan()]
    assert bool(((finite >= 0) & (finite <= TINY.out_max)).all())


def test_a_modality_counts_only_where_all_its_bands_are_finite():
    model = _scrambled_model()
    x, _ = random_inputs(TINY, 1, 2, 2)
    x[0, 0, 0, 0] = float("nan")  # vv missing: C-band SAR invalid at (0, 0)
    x[0, 6, 1, 1] = float("inf")  # green overflowed: optical invalid at (1, 1)
    masks = model.modality_masks(x)
    assert masks[0, 0].tolist() == [[False, True], [True, True]]
    assert masks[0, 2].tolist() == [[True, True], [True, False]]
    assert bool(masks[0, 3:].all())


@pytest.mark.parametrize("local", [True, False])
def test_a_pixel_with_every_modality_partial_is_missing(local):
    model = _scrambled_model(local)
    x, meta = random_inputs(TINY, 1, 8, 8)
    for channels in TINY.modality_slices.values():
        x[0, channels.start, 3, 4] = float("nan")  # first band of every modality
    with torch.no_grad():
        y = model(x, meta)
    assert bool(y[0, 0, 3, 4].isnan())
    assert int(y.isnan().sum()) == 1


def test_grn_statistics_come_from_valid_pixels_only():
    torch.manual_seed(1)
    grn = MaskedGRN(6)
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    x = torch.randn(1, 5, 7, 6)
    mask = (torch.rand(1, 5, 7, 1) > 0.4).float()
    with torch.no_grad():
        masked = grn(x, mask)
        valid_only = grn(x[mask[..., 0] > 0].view(1, -1, 1, 6), torch.ones(1, 1, 1, 1))
        junk = grn(x + 100 * (1 - mask), mask)  # large values where invalid
    selected = masked[mask[..., 0] > 0].view(1, -1, 1, 6)
    torch.testing.assert_close(selected, valid_only)
    assert torch.equal(masked * mask, junk * mask)


def _reference_local_grn(x, mask, gamma, beta, cells):
    """The local GRN formula, pixel by pixel (numpy, float64): the specification."""
    x, mask = x.double().numpy() * mask.double().numpy(), mask.double().numpy()[..., 0]
    gamma, beta = gamma.double().numpy(), beta.double().numpy()
    out = np.zeros_like(x)
    r = cells // 2
    _, height, width, _ = x.shape
    for i in range(height):
        for j in range(width):
            rows, cols = slice(max(i - r, 0), i + r + 1), slice(max(j - r, 0), j + r + 1)
            n_valid = mask[0, rows, cols].sum()
            g = np.sqrt((x[0, rows, cols] ** 2).sum(axis=(0, 1)) / max(n_valid, 1))
            n = g / (g.mean() + GRN_EPS)
            out[0, i, j] = gamma * x[0, i, j] * n + beta + x[0, i, j]
    return torch.from_numpy(out)


def test_local_grn_follows_the_windowed_formula_over_valid_pixels_only():
    torch.manual_seed(4)
    grn = MaskedGRN(6, window_cells=3)
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    x = torch.randn(1, 5, 7, 6)
    mask = (torch.rand(1, 5, 7, 1) > 0.4).float()
    with torch.no_grad():
        masked = grn(x, mask)
        junk = grn(x + 100 * (1 - mask), mask)
    expected = _reference_local_grn(x, mask, grn.gamma.detach(), grn.beta.detach(), 3).float()
    valid = mask[..., 0] > 0
    torch.testing.assert_close(masked[valid], expected[valid], rtol=1e-5, atol=1e-5)
    assert torch.equal(masked * mask, junk * mask)


def test_local_grn_with_a_window_covering_the_tile_is_the_tile_wide_grn():
    torch.manual_seed(5)
    tile_wide, local = MaskedGRN(8), MaskedGRN(8, window_cells=2 * 9 + 1)
    with torch.no_grad():
        tile_wide.gamma.normal_()
        tile_wide.beta.normal_()
    local.load_state_dict(tile_wide.state_dict())
    x = torch.randn(2, 9, 6, 8)
    mask = (torch.rand(2, 9, 6, 1) > 0.3).float()
    with torch.no_grad():
        torch.testing.assert_close(local(x, mask), tile_wide(x, mask), rtol=1e-5, atol=1e-5)


def test_window_sum_counts_the_window_inside_the_tile_only():
    mask = torch.ones(1, 1, 5, 6)
    counts = window_sum(mask, 3)[0, 0]
    assert counts[0, 0] == 4 and counts[0, 3] == 6 and counts[2, 3] == 9
    x = torch.arange(30.0).view(1, 1, 5, 6)
    assert window_sum(x, 5)[0, 0, 2, 2] == x[0, 0, :5, :5].sum()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # counts stay exact under autocast
        assert window_sum(torch.ones(1, 1, 40, 40), 25).dtype == torch.float32
        assert window_sum(torch.ones(1, 1, 40, 40), 25)[0, 0, 20, 20] == 625


def test_partial_patch_conv_does_not_darken_partially_valid_cells():
    torch.manual_seed(2)
    conv = PartialPatchConv(2, 5, 4)
    with torch.no_grad():  # an averaging kernel: a full and a partial window see the same mean
        conv.weight.copy_(conv.weight[:, :, :1, :1].expand_as(conv.weight))
    x = torch.full((1, 2, 8, 4), 0.7)
    mask = torch.ones(1, 1, 8, 4)
    mask[0, 0, :3] = 0  # the upper cell keeps 4 of 16 pixels
    with torch.no_grad():
        y, coarse = conv(apply_mask(x, mask), mask)
    assert coarse.flatten().tolist() == [1.0, 1.0]
    torch.testing.assert_close(y[..., 0, :], y[..., 1, :])


def test_masked_upsampling_keeps_a_constant_field_constant_next_to_holes():
    coarse = torch.full((1, 3, 4, 4), 2.5)
    coarse_mask = torch.ones(1, 1, 4, 4)
    coarse_mask[0, 0, 1, 2] = 0
    fine_mask = coarse_mask.repeat_interleave(4, 2).repeat_interleave(4, 3)
    up = masked_upsample(apply_mask(coarse, coarse_mask), coarse_mask, fine_mask, 4)
    torch.testing.assert_close(up[fine_mask.expand_as(up) > 0], torch.full((3 * 15 * 16,), 2.5))
    assert bool((up[fine_mask.expand_as(up) == 0] == 0).all())


@pytest.mark.parametrize("window_cells", [None, 3])
def test_se_fusion_gives_absent_modalities_no_weight_and_renormalises_per_pixel(window_cells):
    torch.manual_seed(3)
    fusion = SEModalityFusion(3, 4, window_cells=window_cells)
    features = [torch.randn(1, 4, 2, 2) for _ in range(3)]
    masks = [torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)]
    masks[1][0, 0, 0, 0] = 0  # only modality 0 sees pixel (0, 0)
    features = [apply_mask(f, m) for f, m in zip(features, masks, strict=True)]
    with torch.no_grad():
        fused, fused_mask = fusion(features, masks)
        fusion.excite[-1].bias[8:].fill_(100.0)  # the absent modality's logits: huge
        again, _ = fusion(features, masks)
    torch.testing.assert_close(fused[..., 0, 0], features[0][..., 0, 0])
    assert bool(fused_mask.all())
    assert torch.equal(fused, again)
    # Elsewhere a convex combination of the two present modalities, channel by channel.
    low = torch.minimum(features[0], features[1])[..., 1, :]
    high = torch.maximum(features[0], features[1])[..., 1, :]
    assert bool(((fused[..., 1, :] >= low - 1e-6) & (fused[..., 1, :] <= high + 1e-6)).all())


def _fusion_inputs(seed: int, size: int = 9):
    """Three modalities on a ``size x size`` map: full, holed, and valid in the last columns."""
    generator = torch.Generator().manual_seed(seed)
    masks = [
        torch.ones(1, 1, size, size),
        torch.ones(1, 1, size, size),
        torch.zeros(1, 1, size, size),
    ]
    masks[1][..., 2:5, 3:7] = 0
    masks[2][..., -2:] = 1
    features = [apply_mask(torch.randn(1, 4, size, size, generator=generator), m) for m in masks]
    return features, masks


def test_local_se_fusion_only_sees_its_window():
    """A modality's features outside a pixel's window do not change that pixel, exactly."""
    torch.manual_seed(6)
    fusion = SEModalityFusion(3, 4, window_cells=3)
    features, masks = _fusion_inputs(0)
    changed = [f.clone() for f in features]
    changed[2] = changed[2] * 5 + 1  # modality 2 lives in columns 7 and 8 only
    changed[2] = apply_mask(changed[2], masks[2])
    with torch.no_grad():
        fused, fused_mask = fusion(features, masks)
        again, _ = fusion(changed, masks)
        fusion.excite[-1].bias[8:].fill_(100.0)  # modality 2's logits: huge
        biased, _ = fusion(features, masks)
    assert bool(fused_mask.all())
    # Columns 0-5 have no cell of modality 2 in their 3 x 3 window: unchanged, exactly.
    assert torch.equal(fused[..., :6], again[..., :6])
    assert torch.equal(fused[..., :6], biased[..., :6])
    assert not torch.equal(fused[..., 6:], again[..., 6:])
    assert not torch.allclose(fused[..., 6:], biased[..., 6:])
    # Where only modality 0 is valid the output is modality 0's features at full scale.
    torch.testing.assert_close(fused[..., 3, 4], features[0][..., 3, 4])


def test_local_se_fusion_with_a_window_covering_the_tile_is_the_tile_wide_fusion():
    torch.manual_seed(7)
    tile_wide = SEModalityFusion(3, 4)
    local = SEModalityFusion(3, 4, window_cells=2 * 9 + 1)
    local.load_state_dict(tile_wide.state_dict())
    features, masks = _fusion_inputs(1)
    with torch.no_grad():
        expected, expected_mask = tile_wide(features, masks)
        fused, fused_mask = local(features, masks)
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-6)
    assert torch.equal(fused_mask, expected_mask)
