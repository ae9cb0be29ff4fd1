"""Modality fusion (Squeeze-and-Excitation) and the image-level metadata branch (FiLM)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from xsoilmoist.model.blocks import apply_mask


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

    1. *Squeeze*: each modality's features are averaged over its valid pixels,
       giving ``s_m`` (``C`` values; zero for an absent modality).
    2. *Excite*: an MLP on ``[s_1, ..., s_M, presence]`` gives one logit per
       modality and channel; absent modalities get ``-inf`` and the logits are
       soft-maxed over modalities, so an absent modality has weight exactly 0.
    3. *Fuse*, per pixel, over the modalities valid at that pixel::

           fused = sum_m a_m * mask_m * F_m / sum_m a_m * mask_m

       A pixel seen only by SAR gets SAR's features at full scale, not a
       fraction of them; a pixel no modality sees stays invalid (zero).

    The squeeze is a global statistic of the tile (see
    :func:`xsoilmoist.model.net.receptive_field`).

    Parameters
    ----------
    n_modalities : int
        Number of modality groups ``M``.
    dim : int
        Channels ``C`` of every modality's features.
    reduction : int
        Hidden width of the excitation MLP is ``max(M * C // reduction, 16)``.

    Examples
    --------
    >>> fusion = SEModalityFusion(2, 8)
    >>> feats = [torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4)]
    >>> masks = [torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)]
    >>> fused, mask = fusion(feats, masks, torch.tensor([[True, False]]))
    >>> torch.allclose(fused, feats[0]) and bool(mask.all())  # only modality 0 present
    True
    """

    def __init__(self, n_modalities: int, dim: int, reduction: int = 4) -> None:
        super().__init__()
        self.n_modalities = n_modalities
        self.dim = dim
        hidden = max(n_modalities * dim // reduction, 16)
        self.excite = nn.Sequential(
            nn.Linear(n_modalities * dim + n_modalities, hidden),
            nn.GELU(),
            nn.Linear(hidden, n_modalities * dim),
        )

    def forward(
        self, features: Sequence[Tensor], masks: Sequence[Tensor], presence: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Fuse ``M`` feature maps.

        Parameters
        ----------
        features : sequence of Tensor
            ``M`` maps ``(B, C, h, w)``, each zero under its mask.
        masks : sequence of Tensor
            ``M`` masks ``(B, 1, h, w)``, 1 valid, 0 invalid.
        presence : Tensor
            Boolean ``(B, M)``: the modality is valid somewhere in the image.

        Returns
        -------
        fused : Tensor
            ``(B, C, h, w)``, zero where no modality is valid.
        mask : Tensor
            ``(B, 1, h, w)``: 1 where any modality is valid.
        """
        squeezed = torch.cat(
            [masked_mean(f, m) for f, m in zip(features, masks, strict=True)], dim=1
        )
        logits = self.excite(torch.cat([squeezed, presence.to(squeezed.dtype)], dim=1))
        logits = logits.view(-1, self.n_modalities, self.dim).float()
        # An image without any modality keeps finite logits; its output is masked anyway.
        usable = presence | ~presence.any(dim=1, keepdim=True)
        logits = logits.masked_fill(~usable[:, :, None], float("-inf"))
        attention = torch.softmax(logits, dim=1).to(features[0].dtype)  # (B, M, C)

        numerator = torch.zeros_like(features[0])
        denominator = torch.zeros_like(features[0])
        for m, (feature, mask) in enumerate(zip(features, masks, strict=True)):
            weight = attention[:, m, :, None, None]
            numerator = torch.addcmul(numerator, weight, feature)
            denominator = torch.addcmul(denominator, weight, mask.to(weight.dtype))
        fused_mask = torch.stack(list(masks)).amax(dim=0)
        denominator = torch.where(denominator > 0, denominator, 1.0)
        return apply_mask(numerator / denominator, fused_mask), fused_mask


class MetadataFiLM(nn.Module):
    """Image-level metadata branch: an MLP giving FiLM scale and shift per encoder stage.

    Input: the image-level scalars (cyclic day-of-year and location encodings)
    concatenated with the modality-presence vector, so the encoder can also
    adapt to which sensors are missing. Output: for each stage ``i`` a pair
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
