"""Modality fusion (Squeeze-and-Excitation) and the image-level metadata branch (FiLM)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from xsoilmoist.model.blocks import apply_mask, window_sum


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Per-image, per-channel mean of ``x`` over its valid pixels (0 when none is valid).

    Parameters
    ----------
    x : Tensor
        ``(B, C, H, W)``, zero under ``mask``.
    mask : Tensor
        ``(B, 1, H, W)``, 1 valid, 0 invalid.

    Returns
    -------
    Tensor
        ``(B, C)``.

    Examples
    --------
    >>> x = torch.tensor([[[[2.0, 0.0]]]])
    >>> masked_mean(x, torch.tensor([[[[1.0, 0.0]]]]))
    tensor([[2.]])
    """
    count = mask.sum(dim=(2, 3)).clamp_min(1)
    return x.sum(dim=(2, 3)) / count.to(x.dtype)


class SEModalityFusion(nn.Module):
    """Fuse per-modality feature maps with Squeeze-and-Excitation attention.

    1. *Squeeze*: each modality's features are averaged over its valid cells,
       giving ``s_m`` (``C`` values; zero where the modality is absent), and
       its presence ``p_m`` (1 if valid in at least one of those cells).
    2. *Excite*: an MLP on ``[s_1, ..., s_M, p_1, ..., p_M]`` gives one logit
       per modality and channel; absent modalities get ``-inf`` and the logits
       are soft-maxed over modalities, so an absent modality has weight exactly 0.
    3. *Fuse*, per pixel, over the modalities valid at that pixel::

           fused = sum_m a_m * mask_m * F_m / sum_m a_m * mask_m

       A pixel seen only by SAR gets SAR's features at full scale, not a
       fraction of them; a pixel no modality sees stays invalid (zero).

    With ``window_cells=None`` (the reference) the squeeze runs over the whole
    tile: one attention vector per image, and every output depends on every
    valid cell of the tile. With ``window_cells`` it runs over the window
    centred on each cell (masked average pooling), the excitation MLP is applied
    per cell (its ``Linear`` layers act on channels, i.e. 1x1 convolutions with
    the same parameters) and a modality absent from the window gets weight 0
    there: the attention varies across the tile and reaches ``window_cells // 2``
    cells (see :func:`xsoilmoist.model.net.receptive_field`).

    Parameters
    ----------
    n_modalities : int
        Number of modality groups ``M``.
    dim : int
        Channels ``C`` of every modality's features.
    reduction : int
        Hidden width of the excitation MLP is ``max(M * C // reduction, 16)``.
    window_cells : int or None
        Side of the squeeze window (odd, in cells), or ``None`` for the tile.

    Examples
    --------
    >>> fusion = SEModalityFusion(2, 8, window_cells=3)
    >>> feats = [torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4)]
    >>> masks = [torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)]
    >>> fused, mask = fusion(feats, masks)
    >>> torch.allclose(fused, feats[0]) and bool(mask.all())  # only modality 0 present
    True
    """

    def __init__(
        self, n_modalities: int, dim: int, reduction: int = 4, window_cells: int | None = None
    ) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.dim = dim
        self.window_cells = window_cells
        hidden = max(n_modalities * dim // reduction, 16)
        self.excite = nn.Sequential(
            nn.Linear(n_modalities * dim + n_modalities, hidden),
            nn.GELU(),
            nn.Linear(hidden, n_modalities * dim),
        )

    def forward(self, features: Sequence[Tensor], masks: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        """Fuse ``M`` feature maps.

        Parameters
        ----------
        features : sequence of Tensor
            ``M`` maps ``(B, C, h, w)``, each zero under its mask.
        masks : sequence of Tensor
            ``M`` masks ``(B, 1, h, w)``, 1 valid, 0 invalid.

        Returns
        -------
        fused : Tensor
            ``(B, C, h, w)``, zero where no modality is valid.
        mask : Tensor
            ``(B, 1, h, w)``: 1 where any modality is valid.
        """
        if self.window_cells is None:
            return self._fuse_tile(features, masks)
        return self._fuse_local(features, masks)

    def _attention(self, squeezed: Tensor, counts: Tensor) -> Tensor:
        """Softmax attention over modalities, ``(..., M, C)``.

        ``squeezed`` is ``(..., M, C)``; ``counts`` ``(..., M)`` are the valid cells
        each modality has where it was squeezed (0: absent, weight exactly 0).
        """
        present = counts > 0
        inputs = torch.cat([squeezed.flatten(-2), present.to(squeezed.dtype)], dim=-1)
        logits = self.excite(inputs).unflatten(-1, (self.n_modalities, self.dim)).float()
        # Where no modality is valid the logits stay finite (no NaN); the output is masked.
        usable = present | ~present.any(dim=-1, keepdim=True)
        logits = logits + torch.where(usable, 0.0, float("-inf"))[..., None]
        return torch.softmax(logits, dim=-2).to(squeezed.dtype)

    def _fuse_tile(
        self, features: Sequence[Tensor], masks: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Tile-wide squeeze: one attention ``(B, M, C)`` per image (the reference)."""
        squeezed = torch.stack([masked_mean(f, m) for f, m in zip(features, masks, strict=True)], 1)
        counts = torch.cat([m.sum(dim=(2, 3)) for m in masks], dim=1)  # (B, M)
        attention = self._attention(squeezed, counts)

        numerator = torch.zeros_like(features[0])
        denominator = torch.zeros_like(features[0])
        for m, (feature, mask) in enumerate(zip(features, masks, strict=True)):
            weight = attention[:, m, :, None, None]
            numerator = torch.addcmul(numerator, weight, feature)
            denominator = torch.addcmul(denominator, weight, mask.to(weight.dtype))
        fused_mask = torch.stack(list(masks)).amax(dim=0)
        denominator = torch.where(denominator > 0, denominator, 1.0)
        return apply_mask(numerator / denominator, fused_mask), fused_mask

    def _fuse_local(
        self, features: Sequence[Tensor], masks: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Windowed squeeze: an attention ``(M, C)`` for every cell, all modalities at once."""
        cells, split = self.window_cells, (self.n_modalities, self.dim)
        # Channels-last (B, h, w, M * C) features and (B, h, w, M) masks.
        pixels = torch.cat([f.permute(0, 2, 3, 1) for f in features], dim=-1)
        cell_masks = torch.cat([m.permute(0, 2, 3, 1) for m in masks], dim=-1)
        sums = window_sum(pixels.permute(0, 3, 1, 2), cells).permute(0, 2, 3, 1)
        counts = window_sum(cell_masks.permute(0, 3, 1, 2), cells).permute(0, 2, 3, 1)
        squeezed = sums.unflatten(-1, split) / counts.clamp_min(1)[..., None].to(sums.dtype)
        attention = self._attention(squeezed, counts)  # (B, h, w, M, C)

        numerator = (attention * pixels.unflatten(-1, split)).sum(dim=-2)
        denominator = (attention * cell_masks[..., None].to(attention.dtype)).sum(dim=-2)
        fused_mask = cell_masks.amax(dim=-1, keepdim=True)  # (B, h, w, 1)
        denominator = torch.where(denominator > 0, denominator, 1.0)
        fused = apply_mask(numerator / denominator, fused_mask)
        return fused.permute(0, 3, 1, 2), fused_mask.permute(0, 3, 1, 2)


class MetadataFiLM(nn.Module):
    """Image-level metadata branch: an MLP giving FiLM scale and shift per encoder stage.

    Input: the image-level scalars (cyclic day-of-year and location encodings);
    with tile-wide statistics (the reference) also the tile's modality-presence
    vector, so the encoder can adapt to which sensors are missing. With local
    statistics the presence vector is left out (``n_inputs`` is the number of
    scalars): whether a sensor is seen *somewhere in the tile* is a tile-level
    statistic, so two overlapping tiles (one reaching a cloud bank, the other
    not) would modulate every pixel differently and leave a seam; the windowed
    SE fusion already tells each pixel which sensors its neighbourhood has.
    Output: for each stage ``i`` a pair
    ``(gamma_i, beta_i)`` of shape ``(B, dims[i], 1, 1)``; the stage features
    become ``x * (1 + gamma_i) + beta_i`` (re-masked by the caller).

    Examples
    --------
    >>> film = MetadataFiLM(n_inputs=6 + 6, hidden=32, dims=[8, 16])
    >>> [tuple(g.shape) for g, b in film(torch.zeros(2, 12))]
    [(2, 8, 1, 1), (2, 16, 1, 1)]
    """

    def __init__(self, n_inputs: int, hidden: int, dims: Sequence[int]) -> None:
        super().__init__()
        self.dims = list(dims)
        self.mlp = nn.Sequential(
            nn.Linear(n_inputs, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, 2 * sum(self.dims)),
        )

    def forward(self, inputs: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Map ``inputs`` ``(B, n_inputs)`` to ``[(gamma_i, beta_i), ...]``."""
        out = self.mlp(inputs)
        pairs = []
        for chunk in torch.split(out, [2 * d for d in self.dims], dim=1):
            gamma, beta = chunk[:, :, None, None].chunk(2, dim=1)
            pairs.append((gamma, beta))
        return pairs
