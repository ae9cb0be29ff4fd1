"""Masked (submanifold sparse) computation: values under the mask never reach any output."""

from __future__ import annotations

import functools

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xsoilmoist.model import SSMNet, SSMNetConfig, random_inputs
from xsoilmoist.model.blocks import (
    MaskedGRN,
    PartialPatchConv,
    apply_mask,
    masked_upsample,
)
from xsoilmoist.model.fusion import SEModalityFusion

TINY = SSMNetConfig(
    name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 24, 32), full_res_dim=8, metadata_hidden=16
)
N_MODALITIES = len(TINY.modalities)


@functools.cache
def _scrambled_model() -> SSMNet:
    """A tiny model whose every parameter (GRN gamma/beta included) is far from its init."""
    torch.manual_seed(0)
    model = SSMNet(TINY).eval()
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
)
def test_values_under_the_mask_change_no_output_anywhere(
    seed, valid_fraction, junk_scale, height, width
):
    model = _scrambled_model()
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


def test_a_pixel_with_every_modality_partial_is_missing():
    model = _scrambled_model()
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


def test_se_fusion_gives_absent_modalities_no_weight_and_renormalises_per_pixel():
    torch.manual_seed(3)
    fusion = SEModalityFusion(3, 4)
    features = [torch.randn(1, 4, 2, 2) for _ in range(3)]
    masks = [torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)]
    masks[1][0, 0, 0, 0] = 0  # only modality 0 sees pixel (0, 0)
    features = [apply_mask(f, m) for f, m in zip(features, masks, strict=True)]
    presence = torch.tensor([[True, True, False]])
    with torch.no_grad():
        fused, fused_mask = fusion(features, masks, presence)
        fusion.excite[-1].bias[8:].fill_(100.0)  # the absent modality's logits: huge
        again, _ = fusion(features, masks, presence)
    torch.testing.assert_close(fused[..., 0, 0], features[0][..., 0, 0])
    assert bool(fused_mask.all())
    assert torch.equal(fused, again)
    # Elsewhere a convex combination of the two present modalities, channel by channel.
    low = torch.minimum(features[0], features[1])[..., 1, :]
    high = torch.maximum(features[0], features[1])[..., 1, :]
    assert bool(((fused[..., 1, :] >= low - 1e-6) & (fused[..., 1, :] <= high + 1e-6)).all())
