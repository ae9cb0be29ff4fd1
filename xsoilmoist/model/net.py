"""SSMNet: a masked ConvNeXt V2 regression U-Net for 10 m surface soil moisture.

Architecture (after Liu et al. 2025, on the ConvNeXt V2 of Woo et al. 2023)::

    x (B, C_total, H, W), NaN where invalid             meta (B, n_metadata)
      |  modality masks: a modality is valid at a pixel        |
      |  when ALL its bands are finite there                   |
      |  per-band normalisation (statistics in the config),    |
      |  bands of invalid modalities set to exactly 0          |
      +--> one 4x4 stride-4 stem per modality group            |
      |      -> SE fusion across modalities (absent: weight 0) |
      |      -> stage 0 (1/4)        --FiLM-- skip ----------------+
      |      -> down, stage 1 (1/8)  --FiLM-- skip --------------+ |
      |      -> down, stage 2 (1/16) --FiLM-- skip ------------+ | |
      |      -> down, stage 3 (1/32) --FiLM--                  | | |
      |      -> decoder: x2 up + skip, x2 + skip, x2 + skip <--+-+-+
      |      -> 1x1 projection, x4 up (to 1/1) -------+
      +--> full-resolution path: 3x3 conv on the     |
           zeroed bands and the modality masks ------+ sum -> GELU -> 3x3 conv -> GELU
                         -> 1x1 conv -> sigmoid * out_max -> NaN where no modality is valid
    FiLM: per-stage scale and shift from an MLP on meta (and, with tile-wide
    statistics only, the tile's modality-presence vector).

Statistics (GRN in every ConvNeXt block, the SE fusion squeeze) are local by
default: masked averages over a window of ``config.statistics_window`` input
pixels around each cell, so a prediction depends on a bounded neighbourhood and
overlapping tiles agree (see :func:`receptive_field`). ``statistics_window=None``
gives the reference's tile-wide statistics.

Every spatial operation is masked (submanifold sparse convolution emulated
densely; see :mod:`xsoilmoist.model.blocks`), so values under the mask never
affect any output. The encoder (stems, downsampling layers, stages) has the
reference ConvNeXt V2 structure; see :func:`reference_encoder_parameter_count`
and :meth:`SSMNet.parameter_counts`. For tiled inference see
:func:`receptive_field` and :class:`ReceptiveField`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xsoilmoist.catalogue import METADATA_FEATURES as METADATA
from xsoilmoist.catalogue import MODALITY_BANDS
from xsoilmoist.errors import InputError, InputTypeError, ModelCardError
from xsoilmoist.model.blocks import (
    DOWNSAMPLE_STRIDE,
    DWCONV_KERNEL,
    MLP_RATIO,
    STEM_STRIDE,
    MaskedDecoderStage,
    MaskedDownsample,
    MaskedStage,
    ModalityStem,
    apply_mask,
    masked_upsample,
    pointwise,
    statistics_window_cells,
    to_channels_last,
    zero_invalid,
)
from xsoilmoist.model.fusion import MetadataFiLM, SEModalityFusion
from xsoilmoist.model_card import ModelCard, default_card

#: ConvNeXt V2 reference sizes: name -> (depths, dims) (Woo et al. 2023, table 13).
REFERENCE_SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512)),
    "nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
}

#: Total stride of the encoder: inputs are padded internally to a multiple of it.
INPUT_MULTIPLE = STEM_STRIDE * DOWNSAMPLE_STRIDE**3

#: Default side, in input pixels, of the windows of the local GRN and SE statistics:
#: 25, 13, 7 and 3 cells at strides 4, 8, 16, 32, i.e. 100, 104, 112 and 96 px, the
#: smallest window the same size at every stage (3 cells, the minimum, at stride 32).
#: ``benchmarks/model_throughput.py --statistics`` measured 64, 96 and 128 px alike in
#: tile consistency, 96 px as fast as 64 px and 128 px about 5 % slower.
DEFAULT_STATISTICS_WINDOW = 96


def _default_modalities() -> dict[str, tuple[str, ...]]:
    return dict(MODALITY_BANDS)


@dataclass(frozen=True)
class SSMNetConfig:
    """Everything needed to rebuild an :class:`SSMNet`; travels with the weights as JSON.

    Attributes
    ----------
    name : str
        A label: ``"atto"``, ``"femto"``, ``"pico"``, ``"nano"`` for the named
        configurations (:data:`CONFIGS`), ``"custom"`` by default. The encoder
        defaults to the atto depths and widths.
    depths, dims : tuple of 4 int
        ConvNeXt V2 blocks and channels per encoder stage (strides 4, 8, 16, 32).
    modalities : dict of str to tuple of str
        Modality group -> band names. The input channel order is the
        concatenation of the groups in this order (see :attr:`bands`).
    metadata : tuple of str
        Names of the image-level scalars, in order.
    band_mean, band_std : tuple of float
        Per-band normalisation applied by the model itself, ``(x - mean) / std``,
        in :attr:`bands` order. Default 0 and 1 (set them from training data).
    out_max : float
        Upper bound of the output in m3/m3; the head is ``sigmoid * out_max``.
    decoder_dims : tuple of 3 int
        Decoder widths at strides 16, 8, 4. Default ``(dims[2], dims[1], dims[0])``.
    decoder_depths : tuple of 3 int
        ConvNeXt blocks per decoder stage.
    full_res_dim : int
        Channels of the full-resolution path and head.
    full_res_kernel : int
        Kernel size of the full-resolution convolutions (odd).
    fusion_reduction : int
        Reduction ratio of the SE fusion MLP.
    metadata_hidden : int
        Hidden width of the metadata MLP.
    statistics_window : int or None
        Side, in input pixels, of the window over which GRN and the SE fusion
        squeeze take their statistics (masked averages over the valid cells of
        the window centred on each cell; at a feature map of stride ``s`` the
        window is ``ceil(statistics_window / s)`` cells rounded up to odd, at
        least 3). ``None``: tile-wide statistics, as in the reference ConvNeXt
        V2, which make every output depend on the whole tile (so overlapping
        tiles disagree); the metadata branch then also takes the tile's
        modality-presence vector. Default :data:`DEFAULT_STATISTICS_WINDOW`.
        Local statistics add no parameters; only the metadata branch's first
        layer differs (no presence inputs). A card written before this field
        existed is read as ``None`` (see :meth:`from_dict`).

    Examples
    --------
    >>> config = SSMNetConfig(name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
    >>> config.n_bands, config.n_metadata, config.decoder_dims
    (18, 6, (32, 16, 8))
    >>> SSMNetConfig.from_dict(config.to_dict()) == config
    True
    """

    name: str = "custom"
    depths: tuple[int, ...] = REFERENCE_SIZES["atto"][0]
    dims: tuple[int, ...] = REFERENCE_SIZES["atto"][1]
    modalities: dict[str, tuple[str, ...]] = field(default_factory=_default_modalities)
    metadata: tuple[str, ...] = METADATA
    band_mean: tuple[float, ...] | None = None
    band_std: tuple[float, ...] | None = None
    out_max: float = 0.6
    decoder_dims: tuple[int, ...] | None = None
    decoder_depths: tuple[int, ...] = (1, 1, 1)
    full_res_dim: int = 16
    full_res_kernel: int = 3
    fusion_reduction: int = 4
    metadata_hidden: int = 64
    statistics_window: int | None = DEFAULT_STATISTICS_WINDOW

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("depths", tuple(int(d) for d in self.depths))
        put("dims", tuple(int(d) for d in self.dims))
        put("modalities", {str(k): tuple(str(b) for b in v) for k, v in self.modalities.items()})
        put("metadata", tuple(str(m) for m in self.metadata))
        put("decoder_depths", tuple(int(d) for d in self.decoder_depths))
        if self.decoder_dims is None:
            put("decoder_dims", tuple(self.dims[2::-1]))
        put("decoder_dims", tuple(int(d) for d in self.decoder_dims))
        n_bands = len(self.bands)
        put("band_mean", (0.0,) * n_bands if self.band_mean is None else self.band_mean)
        put("band_std", (1.0,) * n_bands if self.band_std is None else self.band_std)
        put("band_mean", tuple(float(v) for v in self.band_mean))
        put("band_std", tuple(float(v) for v in self.band_std))
        put("out_max", float(self.out_max))
        window = self.statistics_window
        if isinstance(window, float) and window.is_integer():  # e.g. from a YAML or CLI
            put("statistics_window", int(window))
        self._validate()

    def _validate(self) -> None:
        problems = []
        if len(self.depths) != 4 or len(self.dims) != 4:
            problems.append(f"depths and dims need 4 stages, got {self.depths} and {self.dims}")
        if len(self.decoder_dims) != 3 or len(self.decoder_depths) != 3:
            problems.append(
                "decoder_dims and decoder_depths need 3 values (strides 16, 8, 4), got "
                f"{self.decoder_dims} and {self.decoder_depths}"
            )
        sizes = (*self.depths, *self.dims, *self.decoder_dims, self.full_res_dim)
        if any(v < 1 for v in sizes) or any(d < 0 for d in self.decoder_depths):
            problems.append("depths, dims and widths must be positive")
        if not self.modalities or any(len(b) == 0 for b in self.modalities.values()):
            problems.append(f"every modality needs at least one band, got {self.modalities}")
        if len(set(self.bands)) != len(self.bands):
            problems.append(f"a band appears in two modalities: {self.bands}")
        n = len(self.bands)
        if len(self.band_mean) != n or len(self.band_std) != n:
            problems.append(
                f"band_mean and band_std need one value per band ({n}: {self.bands}), got "
                f"{len(self.band_mean)} and {len(self.band_std)}"
            )
        if not all(math.isfinite(v) for v in self.band_mean):
            problems.append(f"band_mean must be finite, got {self.band_mean}")
        if not all(math.isfinite(v) and v > 0 for v in self.band_std):
            problems.append(f"band_std must be finite and > 0, got {self.band_std}")
        if not (math.isfinite(self.out_max) and self.out_max > 0):
            problems.append(f"out_max must be a positive number of m3/m3, got {self.out_max}")
        if self.full_res_kernel % 2 != 1:
            problems.append(f"full_res_kernel must be odd, got {self.full_res_kernel}")
        window = self.statistics_window
        if window is not None and (isinstance(window, bool) or not isinstance(window, int)):
            problems.append(
                "statistics_window must be None (tile-wide statistics) or a whole number of "
                f"input pixels, got {window!r}"
            )
        elif window is not None and window < 1:
            problems.append(f"statistics_window must be at least 1 pixel, got {window}")
        if problems:
            raise InputError("invalid SSMNetConfig: " + "; ".join(problems))

    @property
    def bands(self) -> tuple[str, ...]:
        """All input bands in channel order (modality groups concatenated)."""
        return tuple(b for group in self.modalities.values() for b in group)

    @property
    def n_bands(self) -> int:
        """Number of input channels ``C_total``."""
        return len(self.bands)

    @property
    def n_metadata(self) -> int:
        """Number of image-level scalars."""
        return len(self.metadata)

    @property
    def local_statistics(self) -> bool:
        """Whether GRN and the SE squeeze use windowed (not tile-wide) statistics."""
        return self.statistics_window is not None

    def window_cells(self, stride: int) -> int | None:
        """Statistics window side in cells at a feature map of ``stride`` (``None``: tile-wide).

        Examples
        --------
        >>> [get_config("atto").window_cells(s) for s in (4, 8, 16, 32)]
        [25, 13, 7, 3]
        """
        if self.statistics_window is None:
            return None
        return statistics_window_cells(self.statistics_window, stride)

    @property
    def modality_slices(self) -> dict[str, slice]:
        """Modality group -> its channel slice of the input."""
        slices, start = {}, 0
        for name, group in self.modalities.items():
            slices[name] = slice(start, start + len(group))
            start += len(group)
        return slices

    def __hash__(self) -> int:  # the dict field would make the generated hash fail
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (lists and plain numbers) of every field.

        Examples
        --------
        >>> import json
        >>> json.loads(json.dumps(get_config("atto").to_dict()))["dims"]
        [40, 80, 160, 320]
        """
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = {k: list(v) for k, v in value.items()}
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SSMNetConfig:
        """Rebuild a config from :meth:`to_dict` output (e.g. a model card's JSON).

        Missing fields take their defaults, except ``statistics_window``: a card
        without it was written before local statistics existed, for weights
        trained with tile-wide ones, so it is read as ``None`` (the network those
        weights belong to).

        Examples
        --------
        >>> SSMNetConfig.from_dict({"name": "atto"}).dims
        (40, 80, 160, 320)
        >>> SSMNetConfig.from_dict({"name": "atto"}).statistics_window is None
        True
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(
                f"unknown SSMNetConfig field(s) {unknown}; known fields: {sorted(known)} "
                "(was the model card written by a newer xsoilmoist?)"
            )
        return cls(**{"statistics_window": None, **data})


#: The named configurations.
CONFIGS: dict[str, SSMNetConfig] = {
    name: SSMNetConfig(name=name, depths=depths, dims=dims)
    for name, (depths, dims) in REFERENCE_SIZES.items()
}
#: Name of the default configuration (chosen by ``benchmarks/model_throughput.py``).
DEFAULT_CONFIG = "atto"


def get_config(name: str) -> SSMNetConfig:
    """The named configuration ``name``.

    Examples
    --------
    >>> get_config("nano").depths
    (2, 2, 8, 2)
    """
    try:
        return CONFIGS[name]
    except KeyError:
        raise InputError(
            f"unknown model configuration {name!r}; choose one of {sorted(CONFIGS)} "
            "or pass an SSMNetConfig"
        ) from None


def build_model(config: str | SSMNetConfig = DEFAULT_CONFIG) -> SSMNet:
    """Build an untrained :class:`SSMNet` from a configuration or its name.

    Examples
    --------
    >>> model = build_model("atto")
    >>> model.config.name
    'atto'
    """
    return SSMNet(get_config(config) if isinstance(config, str) else config)


def random_inputs(
    config: SSMNetConfig,
    batch: int = 1,
    height: int = 64,
    width: int = 64,
    *,
    seed: int = 0,
    absent: tuple[str, ...] = (),
) -> tuple[Tensor, Tensor]:
    """Random model inputs for tests, examples and benchmarks (not data!).

    Bands are drawn from a normal distribution with the config's own
    normalisation statistics (``band_mean``, ``band_std``); the image-level
    scalars uniformly in ``[-1, 1]``, the range of the cyclic encodings.

    Parameters
    ----------
    config : SSMNetConfig
        The configuration whose band layout to follow.
    batch, height, width : int
        Shape of the image batch.
    seed : int
        Seed of a private generator (the global RNG is untouched).
    absent : tuple of str
        Modality groups to fill with NaN (an unavailable sensor).

    Returns
    -------
    x : Tensor
        ``(batch, config.n_bands, height, width)`` float32.
    meta : Tensor
        ``(batch, config.n_metadata)`` float32.

    Examples
    --------
    >>> x, meta = random_inputs(get_config("atto"), 2, 32, 32, absent=("sar_l",))
    >>> tuple(x.shape), tuple(meta.shape), bool(x[:, 3:5].isnan().all())
    ((2, 18, 32, 32), (2, 6), True)
    """
    unknown = sorted(set(absent) - set(config.modalities))
    if unknown:
        raise InputError(f"unknown modality group(s) {unknown}; known: {list(config.modalities)}")
    generator = torch.Generator().manual_seed(seed)
    mean = torch.tensor(config.band_mean).view(1, -1, 1, 1)
    std = torch.tensor(config.band_std).view(1, -1, 1, 1)
    noise = torch.randn(batch, config.n_bands, height, width, generator=generator)
    x = mean + std * noise
    for name in absent:
        x[:, config.modality_slices[name]] = float("nan")
    meta = torch.rand(batch, config.n_metadata, generator=generator) * 2 - 1
    return x, meta


def _init_weights(module: nn.Module) -> None:
    """ConvNeXt initialisation: truncated normal (std 0.02) weights, zero biases."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _card_for(config: SSMNetConfig, card: ModelCard | None) -> ModelCard:
    """``card`` checked against ``config``, or the default card of a cardless network."""
    if card is None:
        return default_card(config.to_dict())
    if not isinstance(card, ModelCard):
        raise InputTypeError(f"card must be a ModelCard, got {type(card).__name__}")
    if card.config and SSMNetConfig.from_dict(card.config) != config:
        raise ModelCardError(
            f"the configuration in model card {card.name!r} is not the network's "
            f"({config.name!r}); build the network from the card's configuration"
        )
    return card


class SSMNet(nn.Module):
    """Masked ConvNeXt V2 U-Net mapping multimodal rasters to soil moisture (m3/m3).

    Built as ``SSMNet(config, card=None)``: the network owns its model card
    (``model.card``, with the tiling defaults, modalities and training ranges);
    without one it gets :func:`~xsoilmoist.model_card.default_card`. A card
    whose configuration is not ``config`` is refused.

    Call ``model(x, meta)``:

    Parameters
    ----------
    x : Tensor
        ``(B, C_total, H, W)`` float, bands in ``config.bands`` order, physical
        units (the model normalises with ``config.band_mean/band_std``), NaN (or
        inf) where a band is invalid. Any ``H, W``: the input is padded internally
        with invalid pixels to a multiple of 32 and the output cropped back.
        A modality is valid at a pixel when **all** its bands are finite there
        (a partially observed modality is ignored at that pixel); an absent
        modality is passed as all-NaN bands. Its presence (valid anywhere in
        the statistics window, or the tile) is derived from the masks.
    meta : Tensor
        ``(B, n_metadata)`` finite image-level scalars in ``config.metadata`` order.

    Returns
    -------
    Tensor
        ``(B, 1, H, W)`` float32 soil moisture in ``[0, config.out_max]``, NaN
        where no modality is valid.

    Notes
    -----
    Values under a mask never change any output (bit for bit). GRN and the SE
    squeeze use statistics over ``config.statistics_window`` pixels around each
    cell, so an output depends only on the inputs within
    ``receptive_field(config).radius`` of it; with ``statistics_window=None``
    they use the whole tile, and an output depends weakly on every valid pixel
    of its tile. See :func:`receptive_field`.

    Examples
    --------
    >>> config = SSMNetConfig(name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
    >>> model = SSMNet(config).eval()
    >>> x = torch.zeros(1, config.n_bands, 40, 50)
    >>> x[:, config.modality_slices["sar_l"]] = float("nan")  # no L-band
    >>> model(x, torch.zeros(1, config.n_metadata)).shape
    torch.Size([1, 1, 40, 50])
    """

    def __init__(self, config: SSMNetConfig, card: ModelCard | None = None) -> None:
        super().__init__()
        self.config = config
        #: The model card (:class:`~xsoilmoist.model_card.ModelCard`): tiling, modalities,
        #: training ranges. A network built without one gets ``default_card(config)``.
        self.card = _card_for(config, card)
        dims, depths = config.dims, config.depths
        n_modalities = len(config.modalities)
        # on the CPU even when built on torch's "meta" device (as weights.py does to check
        # shapes): arithmetic on meta tensors would import torch._dynamo (seconds)
        mean = torch.tensor(config.band_mean, dtype=torch.float64, device="cpu")
        std = torch.tensor(config.band_std, dtype=torch.float64, device="cpu")
        band_modality = [m for m, group in enumerate(config.modalities.values()) for _ in group]
        # Derived from the config (which travels as JSON), so not part of the state dict:
        # (x - mean) / std computed as x * scale + shift in one pass over (B, C, H, W), and
        # the modality of each band, to spread modality masks over their bands.
        self.register_buffer("input_scale", (1 / std).float().view(-1, 1, 1), persistent=False)
        self.register_buffer("input_shift", (-mean / std).float().view(-1, 1, 1), persistent=False)
        self.register_buffer("band_modality", torch.tensor(band_modality), persistent=False)

        self.stems = nn.ModuleDict(
            {name: ModalityStem(len(group), dims[0]) for name, group in config.modalities.items()}
        )
        encoder_strides = [STEM_STRIDE * DOWNSAMPLE_STRIDE**i for i in range(4)]
        self.fusion = SEModalityFusion(
            n_modalities, dims[0], config.fusion_reduction, config.window_cells(STEM_STRIDE)
        )
        self.downsample = nn.ModuleList(MaskedDownsample(dims[i], dims[i + 1]) for i in range(3))
        self.stages = nn.ModuleList(
            MaskedStage(dims[i], depths[i], config.window_cells(encoder_strides[i]))
            for i in range(4)
        )
        # Tile-wide statistics: the tile's modality presence joins the metadata (reference).
        film_inputs = config.n_metadata + (0 if config.local_statistics else n_modalities)
        self.metadata_film = MetadataFiLM(film_inputs, config.metadata_hidden, dims)
        coarse_dims = (dims[3], *config.decoder_dims[:2])
        skip_dims = (dims[2], dims[1], dims[0])
        self.decoder = nn.ModuleList(
            MaskedDecoderStage(coarse, skip, width, depth, config.window_cells(stride))
            for coarse, skip, width, depth, stride in zip(
                coarse_dims,
                skip_dims,
                config.decoder_dims,
                config.decoder_depths,
                encoder_strides[2::-1],
                strict=True,
            )
        )
        k, width = config.full_res_kernel, config.full_res_dim
        self.full_res = nn.Conv2d(config.n_bands + n_modalities, width, k, padding=k // 2)
        self.head_project = nn.Linear(config.decoder_dims[-1], width)
        self.head_conv = nn.Conv2d(width, width, k, padding=k // 2)
        self.head_out = nn.Conv2d(width, 1, kernel_size=1)
        # ConvNeXt initialisation for the LayerNorm-ed trunk; the head (no normalisation
        # layers) and the small fusion and metadata MLPs keep PyTorch's fan-in scaled one.
        for part in (self.stems, self.downsample, self.stages, self.decoder):
            part.apply(_init_weights)

    def modality_masks(self, x: Tensor) -> Tensor:
        """Per-modality validity ``(B, M, H, W)`` bool: all of the modality's bands finite.

        Examples
        --------
        >>> model = build_model("atto")
        >>> x = torch.zeros(1, model.config.n_bands, 2, 2)
        >>> x[0, 0, 0, 0] = float("nan")  # vv missing at one pixel
        >>> model.modality_masks(x)[0, 0].tolist()
        [[False, True], [True, True]]
        """
        # A sum is finite exactly when all its terms are (NaN and inf propagate; the
        # bands' physical ranges are far from float32 overflow): one pass over x.
        slices = self.config.modality_slices.values()
        sums = [x[:, channels].float().sum(dim=1) for channels in slices]
        return torch.isfinite(torch.stack(sums, dim=1))

    def _check_inputs(self, x: Tensor, meta: Tensor) -> None:
        config = self.config
        if x.ndim != 4 or x.shape[1] != config.n_bands:
            raise InputError(
                f"x must have shape (batch, {config.n_bands}, height, width) with bands "
                f"{list(config.bands)}, got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise InputTypeError(
                f"x must be a floating-point tensor (NaN marks invalid), got {x.dtype}"
            )
        if meta.shape != (x.shape[0], config.n_metadata):
            raise InputError(
                f"meta must have shape ({x.shape[0]}, {config.n_metadata}) with columns "
                f"{list(config.metadata)}, got {tuple(meta.shape)}"
            )
        # A data-dependent check: eager only (under torch.compile or export it would break
        # the graph; the runtime's encodings are finite by construction).
        if not torch.compiler.is_compiling() and not bool(torch.isfinite(meta).all()):
            raise InputError(
                f"meta must be finite (columns {list(config.metadata)}); "
                "compute the image-level encodings for every image"
            )

    def forward(self, x: Tensor, meta: Tensor) -> Tensor:
        """Predict soil moisture ``(B, 1, H, W)`` from ``x`` and ``meta`` (see the class doc)."""
        self._check_inputs(x, meta)
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % INPUT_MULTIPLE, -width % INPUT_MULTIPLE
        if pad_h or pad_w:  # padded pixels are invalid, i.e. masked out
            x = F.pad(x, (0, pad_w, 0, pad_h), value=float("nan"))
        inputs = self._prepare(x.float())
        skips = self._encode(inputs, meta)
        h, mask = self._decode(skips)
        y = self._head(h, mask, inputs)
        return y[:, :, :height, :width].contiguous()

    def _prepare(self, x: Tensor) -> Tensor:
        """Normalised bands, exactly 0 where their modality is invalid, then the masks.

        From float bands ``(B, C, H, W)`` to a channels-last ``(B, C + M, H, W)`` tensor:
        the input of the full-resolution path, whose channel slices feed the stems.
        """
        masks = self.modality_masks(x)  # (B, M, H, W)
        normalised = torch.addcmul(self.input_shift, x, self.input_scale)
        bands = zero_invalid(normalised, masks[:, self.band_modality])
        return to_channels_last(torch.cat([bands, masks.to(x.dtype)], dim=1))

    def _encode(self, inputs: Tensor, meta: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Stems, SE fusion and the four FiLM-modulated stages: ``[(features, mask), ...]``."""
        n_bands = self.config.n_bands
        features, coarse_masks = [], []
        for m, (name, channels) in enumerate(self.config.modality_slices.items()):
            mask = inputs[:, n_bands + m : n_bands + m + 1]
            f, coarse_mask = self.stems[name](inputs[:, channels], mask)
            features.append(to_channels_last(f))
            coarse_masks.append(coarse_mask)
        h, mask = self.fusion(features, coarse_masks)
        if self.config.local_statistics:
            film = self.metadata_film(meta.float())
        else:
            presence = torch.cat([m.amax(dim=(2, 3)) for m in coarse_masks], dim=1)  # (B, M)
            film = self.metadata_film(torch.cat([meta, presence.to(meta.dtype)], dim=1).float())
        skips = []
        for i, (gamma, beta) in enumerate(film):
            if i > 0:
                h, mask = self.downsample[i - 1](h, mask)
            h = self.stages[i](h, mask)
            h = apply_mask(torch.addcmul(beta, h, 1 + gamma), mask)
            skips.append((h, mask))
        return skips

    def _decode(self, skips: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        """U-Net decoder from stride 32 back to stride 4."""
        h, mask = skips[-1]
        for stage, (skip, skip_mask) in zip(self.decoder, reversed(skips[:-1]), strict=True):
            h = stage(h, mask, skip, skip_mask)
            mask = skip_mask
        return h, mask

    def _head(self, h: Tensor, mask: Tensor, inputs: Tensor) -> Tensor:
        """Full-resolution path, x4 upsampling and the bounded output; NaN where invalid."""
        full_mask = inputs[:, self.config.n_bands :].amax(dim=1, keepdim=True)
        full = self.full_res(inputs)
        coarse = apply_mask(pointwise(self.head_project, h), mask)
        up = masked_upsample(coarse, mask, full_mask, STEM_STRIDE)
        # One mask pass before head_conv, the only later spatial operation.
        z = F.gelu(self.head_conv(apply_mask(F.gelu(full + up), full_mask)))
        y = torch.sigmoid(self.head_out(z).float()) * self.config.out_max
        return torch.where(full_mask > 0, y, float("nan"))

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters by part: stems, encoder body, fusion, metadata, decoder, head.

        ``"encoder_body"`` (downsampling layers + stages) equals the reference
        ConvNeXt V2's exactly; ``"encoder"`` adds the per-modality stems, which
        differ from the reference's single RGB stem by
        ``(n_bands - 3) * 16 * dims[0] + (M - 1) * 3 * dims[0]`` parameters
        (+0.30 % for atto, +0.14 % for nano: the documented tolerance).

        Examples
        --------
        >>> counts = build_model("atto").parameter_counts()
        >>> counts["encoder_body"] == reference_encoder_parameter_count(
        ...     (2, 2, 6, 2), (40, 80, 160, 320), stem=False)
        True
        """

        def count(*modules: nn.Module) -> int:
            return sum(p.numel() for m in modules for p in m.parameters())

        counts = {
            "stems": count(self.stems),
            "encoder_body": count(self.downsample, self.stages),
            "fusion": count(self.fusion),
            "metadata": count(self.metadata_film),
            "decoder": count(self.decoder),
            "head": count(self.full_res, self.head_project, self.head_conv, self.head_out),
        }
        counts["encoder"] = counts["stems"] + counts["encoder_body"]
        counts["total"] = count(self)
        return counts


def reference_encoder_parameter_count(
    depths: tuple[int, ...], dims: tuple[int, ...], in_chans: int = 3, stem: bool = True
) -> int:
    """Parameters of the official ConvNeXt V2 encoder, without its classification head.

    Counts ``downsample_layers`` (stem included when ``stem``) and ``stages`` of
    facebookresearch/ConvNeXt-V2 ``models/convnextv2.py``; excludes the pooled
    ``norm`` and ``head`` that only serve classification. With them (1000
    classes) the totals are the published 3.7 M (atto), 5.2 M, 9.1 M, 15.6 M.

    Examples
    --------
    >>> reference_encoder_parameter_count((2, 2, 6, 2), (40, 80, 160, 320))
    3386760
    """
    patch = STEM_STRIDE**2
    total = in_chans * patch * dims[0] + dims[0] + 2 * dims[0] if stem else 0  # conv + LN
    for i in range(3):  # LayerNorm + 2x2 conv
        total += 2 * dims[i] + DOWNSAMPLE_STRIDE**2 * dims[i] * dims[i + 1] + dims[i + 1]
    for depth, d in zip(depths, dims, strict=True):
        hidden = MLP_RATIO * d
        block = (DWCONV_KERNEL**2 + 1) * d  # depthwise conv
        block += 2 * d  # LayerNorm
        block += (d + 1) * hidden + 2 * hidden + (hidden + 1) * d  # Linear, GRN, Linear
        total += depth * block
    return total


@dataclass(frozen=True)
class ReceptiveField:
    """Spatial context of one output pixel of an :class:`SSMNet`.

    Attributes
    ----------
    radius : int
        Exact reach of an output pixel: it depends only on input pixels within
        ``radius`` pixels of it along each axis (Chebyshev distance), for the
        worst alignment with the stride-32 grid, and the bound is attained. With
        local statistics it covers the convolutions *and* the statistics
        windows; with tile-wide statistics (``statistics_window=None``) only the
        convolutions: the statistics then reach the whole tile (see Notes).
    convolution_radius : int
        The same reach through the convolutions, up/downsampling and skips
        alone (statistics held fixed). Equal to ``radius`` for tile-wide
        statistics.
    input_multiple : int
        Inputs are padded internally to a multiple of this (the total stride, 32).
    exact_margin : int
        ``radius`` rounded up to a multiple of ``input_multiple``: the context a
        tile would need on every side so that its core's output equals the
        output of any larger tile containing it (origins on the stride-32 grid),
        to float rounding, when ``tile_wide_statistics`` is False. Inference
        uses the model card's much smaller ``halo`` (agreement within
        tolerance) and blends overlaps; see :doc:`/architecture`.
    tile_wide_statistics : bool
        True for ``statistics_window=None``: GRN and the SE squeeze then use the
        whole tile and no halo makes tiles agree exactly.

    Notes
    -----
    Local statistics are not simply added to the convolutional field: each
    GRN's window (``statistics_window_cells`` cells at its stage) sits after its
    block's depthwise convolution and the SE squeeze window after the stems, so
    the windows compose with the convolutions along the network like extra box
    filters. The radius is propagated through that chain, exactly as for the
    convolutions. With the default window it is roughly twice the
    convolutional radius, as a worst-case bound; the *effective* reach of a
    ConvNeXt (where the influence is not negligible) is far smaller, so tiled
    inference uses a much smaller halo and blends overlaps.

    Measured with random weights (``benchmarks/model_throughput.py
    --statistics``): two overlapping tiles differ most near their edges, where
    the convolutions see the zeros beyond the tile and the local windows are
    cut short; within about 100 px of an edge local statistics differ *more*
    than tile-wide ones (whose cut is diluted over the tile). Farther in, local
    statistics differ about half as much, the difference keeps shrinking with
    the distance to the edges, and beyond ``radius`` it is zero; tile-wide
    statistics leave a floor set by the two tiles' contents everywhere.

    With tile-wide statistics (the reference) two operations are global:
    GRN's per-channel energy (every ConvNeXt block) and the SE fusion squeeze
    (the masked mean of each modality's stem features); the metadata branch
    also sees the tile's modality presence. Through them every output pixel
    depends on every valid pixel of its tile, and overlapping tiles disagree
    (visible as seams unless blended away); tiles must then be large (256 px or
    more) for the statistics to be representative.

    Examples
    --------
    >>> rf = receptive_field(get_config("atto"))
    >>> rf.exact_margin % rf.input_multiple == 0
    True
    >>> rf.exact_margin >= rf.radius > rf.convolution_radius
    True
    """

    radius: int
    convolution_radius: int
    input_multiple: int
    exact_margin: int
    tile_wide_statistics: bool


def _conv_intervals(
    lo: np.ndarray, hi: np.ndarray, kernel: int, stride: int, padding: int
) -> tuple[np.ndarray, np.ndarray]:
    """Input-pixel interval of each output cell of a 1-D convolution (``lo, hi`` non-decreasing)."""
    n_out = (lo.size + 2 * padding - kernel) // stride + 1
    first = np.clip(np.arange(n_out) * stride - padding, 0, lo.size - 1)
    last = np.clip(np.arange(n_out) * stride - padding + kernel - 1, 0, lo.size - 1)
    return lo[first], hi[last]


def _upsample_intervals(
    lo: np.ndarray, hi: np.ndarray, factor: int
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals after bilinear upsampling (``align_corners=False``: two source cells)."""
    source = np.maximum((np.arange(lo.size * factor) + 0.5) / factor - 0.5, 0.0)
    left = np.floor(source).astype(int)
    right = np.minimum(left + 1, lo.size - 1)
    return np.minimum(lo[left], lo[right]), np.maximum(hi[left], hi[right])


def _union(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1])


def _radius_on_line(config: SSMNetConfig, length: int, windows: bool) -> int:
    """Propagate 1-D dependency intervals through the architecture on a line of ``length``.

    ``windows``: include the local statistics windows (a box filter each).
    """
    identity = np.arange(length)

    def statistics(h: tuple[np.ndarray, np.ndarray], stride: int) -> tuple:
        cells = config.window_cells(stride) if windows else None
        return h if cells is None else _conv_intervals(*h, cells, 1, cells // 2)

    def block(h: tuple[np.ndarray, np.ndarray], stride: int) -> tuple:
        h = _conv_intervals(*h, DWCONV_KERNEL, 1, DWCONV_KERNEL // 2)
        return statistics(h, stride)  # the GRN after the depthwise convolution

    k = config.full_res_kernel
    full = _conv_intervals(identity, identity, k, 1, k // 2)
    h = _conv_intervals(identity, identity, STEM_STRIDE, STEM_STRIDE, 0)
    h = statistics(h, STEM_STRIDE)  # the SE fusion squeeze
    skips, strides = [], []
    for i, depth in enumerate(config.depths):
        stride = STEM_STRIDE * DOWNSAMPLE_STRIDE**i
        if i > 0:
            h = _conv_intervals(*h, DOWNSAMPLE_STRIDE, DOWNSAMPLE_STRIDE, 0)
        for _ in range(depth):
            h = block(h, stride)
        skips.append(h)
        strides.append(stride)
    for skip, stride, depth in zip(
        reversed(skips[:3]), reversed(strides[:3]), config.decoder_depths, strict=True
    ):
        h = _union(_upsample_intervals(*h, DOWNSAMPLE_STRIDE), skip)
        for _ in range(depth):
            h = block(h, stride)
    h = _union(_upsample_intervals(*h, STEM_STRIDE), full)
    lo, hi = _conv_intervals(*h, k, 1, k // 2)
    return int(max((identity - lo).max(), (hi - identity).max()))


def _radius(config: SSMNetConfig, windows: bool) -> int:
    """:func:`_radius_on_line` on a line much longer than the field (so edges play no part)."""
    length = 64 * INPUT_MULTIPLE
    radius = _radius_on_line(config, length, windows)
    while 4 * radius >= length:
        length *= 2
        radius = _radius_on_line(config, length, windows)
    return radius


def receptive_field(config: SSMNetConfig | str) -> ReceptiveField:
    """Receptive field and tiling halo of a configuration, computed from its architecture.

    Propagates, along one axis, the interval of input pixels each feature cell
    depends on through every convolution (kernel, stride, padding), every local
    statistics window (a box filter of its size at its stage), the U-Net
    upsampling (bilinear: two source cells) and the skip connections, exactly as
    :class:`SSMNet` wires them; per-pixel layers add nothing. All kernels and
    windows are square, so the 2-D field is the product of two such intervals.
    See :class:`ReceptiveField` for what the figures mean and how tiled
    inference must treat tile-wide statistics.

    Examples
    --------
    >>> receptive_field("atto")
    ReceptiveField(radius=1434, convolution_radius=698, input_multiple=32, exact_margin=1440, \
tile_wide_statistics=False)
    """
    if isinstance(config, str):
        config = get_config(config)
    radius = _radius(config, windows=True)
    exact_margin = -(-radius // INPUT_MULTIPLE) * INPUT_MULTIPLE
    return ReceptiveField(
        radius=radius,
        convolution_radius=_radius(config, windows=False),
        input_multiple=INPUT_MULTIPLE,
        exact_margin=exact_margin,
        tile_wide_statistics=not config.local_statistics,
    )
