"""Masked ConvNeXt V2 building blocks: submanifold sparse convolution emulated densely.

Every feature map travels with a validity mask of shape ``(B, 1, H, W)`` (float,
1 valid, 0 invalid; float because multiplying is much faster than ``torch.where``).
The convention, kept by every module here, is that **features are exactly zero
wherever the mask is 0**. A spatial operation then only ever sums valid
values: it sees zeros (not whatever the sensor put there) under the mask, and
its output is re-masked afterwards, so a value under the mask can never leak
into a valid pixel. This is how the sparse ConvNeXt V2 encoder of the FCMAE
paper behaves, emulated with dense tensors (no MinkowskiEngine needed):

- per-pixel operations (LayerNorm, Linear, GELU) need no mask except that
  their output at invalid pixels (e.g. a LayerNorm bias) must be zeroed again
  before the next spatial operation or global statistic;
- depthwise 7x7 convolutions keep the mask ("submanifold": outputs only at
  active sites);
- strided convolutions (stem, downsampling) activate an output cell when any
  input pixel of its window is valid, and rescale the window sum by
  ``window_size / n_valid`` (partial convolution) so a half-clouded cell is
  not darker than a clear one;
- GRN statistics are taken over the valid pixels only (the zeros contribute
  nothing to the L2 norm).

Statistics (GRN here, the SE fusion squeeze in :mod:`xsoilmoist.model.fusion`)
are either *tile-wide*, as in the reference (one value per image and
channel), or *local*: computed densely over a ``cells x cells`` window centred
on every cell, with masked average pooling (window sum of the valid values
divided by the window's number of valid cells; the tile edge simply ends the
window, as ``count_include_pad=False`` would). Local statistics make a
prediction depend on a bounded neighbourhood only, so two overlapping tiles on
the stride-32 grid agree where both see that neighbourhood whole.

Tensors are NCHW in the channels-last memory format: ``x.permute(0, 2, 3, 1)``
is then a free view on which ``Linear`` and ``LayerNorm`` run as plain matrix
products over channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Kernel size of the depthwise convolution in a ConvNeXt block (reference: 7).
DWCONV_KERNEL = 7
#: Kernel size and stride of the patchify stem (reference: 4).
STEM_STRIDE = 4
#: Kernel size and stride of the downsampling layers between stages (reference: 2).
DOWNSAMPLE_STRIDE = 2
#: Expansion ratio of the inverted-bottleneck MLP in a ConvNeXt block (reference: 4).
MLP_RATIO = 4
#: LayerNorm epsilon used throughout ConvNeXt V2.
LAYER_NORM_EPS = 1e-6
#: Epsilon in the GRN channel-mean denominator (reference: 1e-6).
GRN_EPS = 1e-6


def apply_mask(x: Tensor, mask: Tensor) -> Tensor:
    """Zero the finite features ``x`` wherever ``mask`` is 0.

    A multiplication, several times faster than ``torch.where`` on CPU; only for
    finite ``x`` (``nan * 0`` is NaN). Raw inputs go through :func:`zero_invalid`.

    Parameters
    ----------
    x : Tensor
        Finite features ``(B, C, H, W)`` (or channels-last ``(B, H, W, C)``).
    mask : Tensor
        Float mask of 0 and 1, broadcastable to ``x``.

    Returns
    -------
    Tensor
        ``x`` where ``mask`` is 1, zero where it is 0, in ``x``'s dtype.

    Examples
    --------
    >>> apply_mask(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
    tensor([[1., 0.]])
    """
    return x * mask.to(x.dtype)


def zero_invalid(x: Tensor, mask: Tensor) -> Tensor:
    """Replace ``x`` by exactly 0 wherever ``mask`` is 0, whatever it holds (NaN, inf).

    Examples
    --------
    >>> zero_invalid(torch.tensor([[1.0, float("nan")]]), torch.tensor([[1.0, 0.0]]))
    tensor([[1., 0.]])
    """
    return torch.where(mask.bool(), x, torch.zeros((), dtype=x.dtype, device=x.device))


def statistics_window_cells(window: int, stride: int) -> int:
    """Side, in cells, of the local-statistics window at a feature map of ``stride``.

    ``window`` input pixels span ``window / stride`` cells; the side is that
    rounded up to an odd number (so the window is centred) and at least 3.

    Examples
    --------
    >>> [statistics_window_cells(96, stride) for stride in (4, 8, 16, 32)]
    [25, 13, 7, 3]
    """
    return max(3, -(-window // stride)) | 1


def window_sum(x: Tensor, cells: int) -> Tensor:
    """Sum of ``x`` over the ``cells x cells`` window centred on every cell (NCHW).

    Beyond the edges the window holds nothing (zero padding). Two separable
    depthwise convolutions with kernels of ones (``cells`` additions per value
    each; oneDNN runs them vectorised over channels in the channels-last format,
    twice as fast as ``avg_pool2d``), in ``x``'s own dtype even under autocast,
    so counts of valid cells stay exact. Every sum covers its window only, so it
    does not depend on where the tile begins. Masked averages are
    ``window_sum(x * mask) / window_sum(mask)``.

    Parameters
    ----------
    x : Tensor
        ``(B, C, H, W)``.
    cells : int
        Odd window side.

    Returns
    -------
    Tensor
        ``(B, C, H, W)``, in ``x``'s dtype and memory format.

    Examples
    --------
    >>> window_sum(torch.ones(1, 1, 1, 4), 3)[0, 0, 0].tolist()
    [2.0, 3.0, 3.0, 2.0]
    """
    channels, r = x.shape[1], cells // 2
    ones = torch.ones(channels, 1, cells, 1, dtype=x.dtype, device=x.device)
    with torch.autocast(x.device.type, enabled=False):
        x = F.conv2d(x, ones, padding=(r, 0), groups=channels)
        return F.conv2d(x, ones.view(channels, 1, 1, cells), padding=(0, r), groups=channels)


def window_counts(mask: Tensor, cells: int) -> Tensor:
    """Valid cells in the ``cells x cells`` window of every cell, at least 1.

    Parameters
    ----------
    mask : Tensor
        Channels-last 0/1 mask ``(B, H, W, 1)``.
    cells : int
        Odd window side.

    Returns
    -------
    Tensor
        ``(B, H, W, 1)``, in ``mask``'s dtype.

    Examples
    --------
    >>> window_counts(torch.tensor([[[[1.0], [0.0], [0.0], [0.0]]]]), 3)[0, 0, :, 0].tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    return window_sum(mask.permute(0, 3, 1, 2), cells).permute(0, 2, 3, 1).clamp_min(1)


def to_channels_last(x: Tensor) -> Tensor:
    """Return the NCHW tensor ``x`` in the channels-last memory format."""
    return x.contiguous(memory_format=torch.channels_last)


def downsample_mask(mask: Tensor, factor: int) -> tuple[Tensor, Tensor]:
    """Downsample a validity mask: a cell is valid when any pixel of its window is.

    Parameters
    ----------
    mask : Tensor
        Float 0/1 mask ``(B, 1, H, W)``; ``H`` and ``W`` multiples of ``factor``.
    factor : int
        Window size and stride.

    Returns
    -------
    coarse_mask : Tensor
        Float 0/1 ``(B, 1, H / factor, W / factor)``.
    valid_fraction : Tensor
        Float ``(B, 1, H / factor, W / factor)``: share of valid pixels per window.

    Examples
    --------
    >>> m = torch.zeros(1, 1, 4, 4)
    >>> m[0, 0, 0, 0] = 1.0
    >>> coarse, fraction = downsample_mask(m, 2)
    >>> coarse[0, 0].tolist(), fraction[0, 0, 0, 0].item()
    ([[1.0, 0.0], [0.0, 0.0]], 0.25)
    """
    fraction = F.avg_pool2d(mask, factor, stride=factor)
    return (fraction > 0).to(mask.dtype), fraction


class ChannelsFirstLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of an NCHW tensor (per pixel).

    The output is re-masked: a LayerNorm maps an all-zero (invalid) pixel to its
    bias, which must not reach the next spatial operation.

    Examples
    --------
    >>> norm = ChannelsFirstLayerNorm(8)
    >>> norm(torch.randn(2, 8, 4, 4), torch.ones(2, 1, 4, 4)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, dim: int) -> None:
        super().__init__(dim, eps=LAYER_NORM_EPS)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        """Normalise ``x`` ``(B, C, H, W)`` over ``C``; zero where ``mask`` is 0."""
        y = super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return apply_mask(y, mask)


class MaskedGRN(nn.Module):
    """Global Response Normalisation (ConvNeXt V2) with statistics over valid pixels only.

    For channels-last ``X`` of shape ``(B, H, W, C)``::

        G_c = || X_c ||_2 over the valid pixels of each image        (tile-wide)
        G_c(p) = sqrt(mean of X_c^2 over the valid pixels of the
                      window centred on p)                            (local)
        N_c = G_c / (mean_c G_c + 1e-6)
        out = gamma * (X * N) + beta + X

    ``gamma`` and ``beta`` start at zero (GRN is the identity at initialisation,
    as in the reference). The tile-wide statistic (``window_cells=None``, the
    reference) makes GRN a *global* operation: every output pixel depends on
    every valid pixel of the tile. The local one reaches only ``window_cells // 2``
    cells either way (see :func:`xsoilmoist.model.net.receptive_field`). ``N`` is a
    ratio of norms, so the number of valid pixels cancels out (up to the
    ``1e-6``): the statistic is comparable between tiles, windows and cloud cover.

    Parameters
    ----------
    dim : int
        Channels ``C``.
    window_cells : int or None
        Side of the local window (odd, in cells of this feature map), or
        ``None`` for the tile-wide statistic.

    Examples
    --------
    >>> grn = MaskedGRN(16, window_cells=3)
    >>> x = torch.randn(2, 8, 8, 16)
    >>> torch.equal(grn(x, torch.ones(2, 8, 8, 1)), x)  # identity at init
    True
    """

    def __init__(self, dim: int, window_cells: int | None = None) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.window_cells = window_cells

    def forward(self, x: Tensor, mask: Tensor, counts: Tensor | None = None) -> Tensor:
        """Apply GRN to ``x`` ``(B, H, W, C)``; ``mask`` is ``(B, H, W, 1)``.

        ``counts`` (local statistics only) are :func:`window_counts` of ``mask``,
        computed here when not given; a stage passes them to all its blocks.
        """
        x = apply_mask(x, mask)
        if self.window_cells is None:
            energy = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True)
            relative = energy / (energy.mean(dim=-1, keepdim=True) + GRN_EPS)
            scale = 1 + self.gamma * relative
        else:
            if counts is None:
                counts = window_counts(mask, self.window_cells)
            scale = self._local_scale(x, counts)
        # gamma * (x * N) + beta + x, fused into one pass over x
        return torch.addcmul(self.beta, x, scale)

    def _local_scale(self, x: Tensor, counts: Tensor) -> Tensor:
        """``1 + gamma * N`` with windowed statistics, ``x`` zero under the mask.

        With ``S`` the window sum of ``x^2`` and ``n`` the window's valid cells,
        ``G = sqrt(S / n)`` and ``N = G / (mean_c G + eps)``, computed as
        ``sqrt(S) / (mean_c sqrt(S) + eps * sqrt(n))`` (the same ratio, one pass
        over ``x`` fewer: ``n`` is one value per pixel).
        """
        cells = self.window_cells
        root_sums = window_sum((x * x).permute(0, 3, 1, 2), cells).permute(0, 2, 3, 1).sqrt()
        denominator = root_sums.mean(dim=-1, keepdim=True) + GRN_EPS * counts.sqrt()
        one = torch.ones((), dtype=x.dtype, device=x.device)
        return torch.addcmul(one, root_sums * denominator.reciprocal(), self.gamma)


class MaskedConvNeXtBlock(nn.Module):
    """ConvNeXt V2 block on masked features.

    ``depthwise 7x7 conv -> LayerNorm -> Linear C->4C -> GELU -> GRN -> Linear 4C->C``,
    plus the residual; exactly the reference block (same parameters, same
    count), with the input zero under the mask, GRN over valid pixels and the
    output re-masked.

    ``window_cells`` is the GRN window (``None``: tile-wide, see :class:`MaskedGRN`).

    Examples
    --------
    >>> block = MaskedConvNeXtBlock(8, window_cells=5)
    >>> mask = (torch.rand(1, 1, 16, 16) > 0.3).float()
    >>> y = block(apply_mask(torch.randn(1, 8, 16, 16), mask), mask)
    >>> bool((y * (1 - mask) == 0).all())
    True
    """

    def __init__(self, dim: int, window_cells: int | None = None) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(
            dim, dim, kernel_size=DWCONV_KERNEL, padding=DWCONV_KERNEL // 2, groups=dim
        )
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pwconv1 = nn.Linear(dim, MLP_RATIO * dim)
        self.act = nn.GELU()
        self.grn = MaskedGRN(MLP_RATIO * dim, window_cells)
        self.pwconv2 = nn.Linear(MLP_RATIO * dim, dim)

    def forward(self, x: Tensor, mask: Tensor, counts: Tensor | None = None) -> Tensor:
        """Map ``x`` ``(B, C, H, W)``, zero under ``mask`` ``(B, 1, H, W)``, to the same shape.

        ``counts``: the GRN window's valid cells (see :meth:`MaskedGRN.forward`).
        """
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.act(self.pwconv1(self.norm(y)))
        y = self.pwconv2(self.grn(y, mask.permute(0, 2, 3, 1), counts))
        return apply_mask(x + y.permute(0, 3, 1, 2), mask)


class MaskedStage(nn.Sequential):
    """A sequence of :class:`MaskedConvNeXtBlock` sharing one mask and GRN window.

    Examples
    --------
    >>> stage = MaskedStage(8, depth=2, window_cells=3)
    >>> stage(torch.zeros(1, 8, 4, 4), torch.ones(1, 1, 4, 4)).shape
    torch.Size([1, 8, 4, 4])
    """

    def __init__(self, dim: int, depth: int, window_cells: int | None = None) -> None:
        super().__init__(*(MaskedConvNeXtBlock(dim, window_cells) for _ in range(depth)))

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:  # type: ignore[override]
        """Run every block on ``x`` with ``mask`` (GRN window counts computed once)."""
        cells = self[0].grn.window_cells if len(self) else None
        counts = None if cells is None else window_counts(mask.permute(0, 2, 3, 1), cells)
        for block in self:
            x = block(x, mask, counts)
        return x


class PartialPatchConv(nn.Conv2d):
    """Non-overlapping ``k x k`` stride-``k`` convolution over masked input (partial conv).

    Output cells with at least one valid input pixel are valid. Their window sum
    is rescaled by ``k * k / n_valid`` before the bias, so a cell's response does
    not shrink with its valid fraction. Same parameters as ``nn.Conv2d(k, stride=k)``.

    Examples
    --------
    >>> conv = PartialPatchConv(3, 8, 4)
    >>> y, m = conv(torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    >>> y.shape, m.shape
    (torch.Size([1, 8, 2, 2]), torch.Size([1, 1, 2, 2]))
    """

    def __init__(self, in_channels: int, out_channels: int, factor: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=factor, stride=factor)
        self.factor = factor

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        """Convolve ``x`` (zero under ``mask``); return features and the coarse mask."""
        coarse_mask, fraction = downsample_mask(mask, self.factor)
        y = F.conv2d(x, self.weight, None, stride=self.factor)
        scale = (coarse_mask / fraction.clamp_min(self.factor**-2)).to(y.dtype)
        bias = self.bias.to(y.dtype).view(1, -1, 1, 1)
        return apply_mask(torch.addcmul(bias, y, scale), coarse_mask), coarse_mask


class ModalityStem(nn.Module):
    """Patchify stem for one modality group: 4x4 stride-4 partial conv + LayerNorm.

    The reference stem (``Conv2d(in, dims[0], 4, stride=4)`` + LayerNorm) with the
    modality's own band count as input channels.

    Examples
    --------
    >>> stem = ModalityStem(3, 40)
    >>> y, m = stem(torch.zeros(2, 3, 32, 32), torch.ones(2, 1, 32, 32))
    >>> y.shape
    torch.Size([2, 40, 8, 8])
    """

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.conv = PartialPatchConv(in_channels, dim, STEM_STRIDE)
        self.norm = ChannelsFirstLayerNorm(dim)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Embed ``x`` ``(B, c, H, W)`` (zero under ``mask``) at 1/4 resolution."""
        y, coarse_mask = self.conv(x, mask)
        return self.norm(y, coarse_mask), coarse_mask


class MaskedDownsample(nn.Module):
    """Reference downsampling layer: LayerNorm + 2x2 stride-2 (partial) conv.

    Examples
    --------
    >>> down = MaskedDownsample(8, 16)
    >>> y, m = down(torch.zeros(1, 8, 8, 8), torch.ones(1, 1, 8, 8))
    >>> y.shape
    torch.Size([1, 16, 4, 4])
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = ChannelsFirstLayerNorm(in_dim)
        self.conv = PartialPatchConv(in_dim, out_dim, DOWNSAMPLE_STRIDE)

    def forward(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Halve the resolution of ``x``; return features and the coarse mask."""
        return self.conv(self.norm(x, mask), mask)


def masked_upsample(x: Tensor, coarse_mask: Tensor, fine_mask: Tensor, factor: int) -> Tensor:
    """Mask-normalised bilinear upsampling (normalised convolution).

    ``bilinear(x) / bilinear(mask)``: interpolates from valid coarse cells only,
    so features do not fade towards zero next to invalid cells. Every valid fine
    pixel lies in a valid coarse cell (masks are downsampled with "any valid"),
    which always carries a positive bilinear weight, so the division is safe.

    Parameters
    ----------
    x : Tensor
        Coarse features ``(B, C, h, w)``, zero under ``coarse_mask``.
    coarse_mask : Tensor
        ``(B, 1, h, w)``, 0/1.
    fine_mask : Tensor
        ``(B, 1, h * factor, w * factor)``, 0/1; the output is zero where 0.
    factor : int
        Upsampling factor.

    Returns
    -------
    Tensor
        ``(B, C, h * factor, w * factor)``.

    Examples
    --------
    >>> coarse = torch.tensor([[[[1.0, 0.0]]]])
    >>> cmask = torch.tensor([[[[1.0, 0.0]]]])
    >>> fmask = torch.tensor([[[[1.0, 1.0, 0.0, 0.0]]]]).expand(1, 1, 2, 4)
    >>> masked_upsample(coarse, cmask, fmask, 2)[0, 0, 0].tolist()  # 1 stays 1, no fade
    [1.0, 1.0, 0.0, 0.0]
    """
    up = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    weight = F.interpolate(coarse_mask, scale_factor=factor, mode="bilinear", align_corners=False)
    # 1 / weight on valid fine pixels (weight >= 1/4 there), 0 elsewhere: one pass over up
    return apply_mask(up, fine_mask / weight.clamp_min(1e-3))


def pointwise(linear: nn.Linear, x: Tensor) -> Tensor:
    """Apply ``linear`` over the channels of the NCHW tensor ``x`` (a 1x1 convolution)."""
    return linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MaskedDecoderStage(nn.Module):
    """U-Net decoder stage: upsample x2, add the encoder skip, LayerNorm, ConvNeXt blocks.

    ``x = LN(up(W_c coarse) + W_s skip)`` then ``depth`` masked ConvNeXt V2 blocks.
    Projecting the coarse features *before* the (linear) mask-normalised upsampling
    equals concatenating and projecting after it, at a quarter of the cost.
    ``window_cells`` is the blocks' GRN window (``None``: tile-wide).

    Examples
    --------
    >>> stage = MaskedDecoderStage(coarse_dim=16, skip_dim=8, width=8, depth=1, window_cells=3)
    >>> cm, fm = torch.ones(1, 1, 2, 2), torch.ones(1, 1, 4, 4)
    >>> stage(torch.zeros(1, 16, 2, 2), cm, torch.zeros(1, 8, 4, 4), fm).shape
    torch.Size([1, 8, 4, 4])
    """

    def __init__(
        self,
        coarse_dim: int,
        skip_dim: int,
        width: int,
        depth: int,
        window_cells: int | None = None,
    ) -> None:
        super().__init__()
        self.coarse_proj = nn.Linear(coarse_dim, width)
        self.skip_proj = nn.Linear(skip_dim, width)
        self.norm = ChannelsFirstLayerNorm(width)
        self.blocks = MaskedStage(width, depth, window_cells)

    def forward(
        self, coarse: Tensor, coarse_mask: Tensor, skip: Tensor, skip_mask: Tensor
    ) -> Tensor:
        """Decode ``coarse`` ``(B, C, h, w)`` with ``skip`` ``(B, S, 2h, 2w)``.

        Returns ``(B, width, 2h, 2w)``, zero under ``skip_mask``.
        """
        up = apply_mask(pointwise(self.coarse_proj, coarse), coarse_mask)
        up = masked_upsample(up, coarse_mask, skip_mask, DOWNSAMPLE_STRIDE)
        x = self.norm(up + pointwise(self.skip_proj, skip), skip_mask)
        return self.blocks(x, skip_mask)
