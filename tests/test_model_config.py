"""SSMNet configurations: reference ConvNeXt V2 sizes, parameter counts, JSON round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from xsoilmoist.model import (
    CONFIGS,
    DEFAULT_CONFIG,
    DEFAULT_STATISTICS_WINDOW,
    SSMNet,
    SSMNetConfig,
    build_model,
    get_config,
    random_inputs,
    reference_encoder_parameter_count,
)

# ConvNeXt V2 (Woo et al. 2023) as quoted in paper.md: depths, widths, params in M (1000 classes).
PAPER_TABLE = {
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320), 3.7),
    "femto": ((2, 2, 6, 2), (48, 96, 192, 384), 5.2),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512), 9.1),
    "nano": ((2, 2, 8, 2), (80, 160, 320, 640), 15.6),
}


class _OfficialBlock(nn.Module):
    """Parameter layout of the official ConvNeXt V2 block (models/convnextv2.py)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.grn_gamma = nn.Parameter(torch.zeros(1, 1, 1, 4 * dim))
        self.grn_beta = nn.Parameter(torch.zeros(1, 1, 1, 4 * dim))
        self.pwconv2 = nn.Linear(4 * dim, dim)


class _OfficialConvNeXtV2(nn.Module):
    """Parameter layout of the official ConvNeXt V2 classifier, written from its source."""

    def __init__(self, depths, dims, in_chans=3, num_classes=1000) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(in_chans, dims[0], 4, stride=4), nn.LayerNorm(dims[0]))]
        )
        for i in range(3):
            self.downsample_layers.append(
                nn.Sequential(nn.LayerNorm(dims[i]), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2))
            )
        self.stages = nn.ModuleList(
            nn.Sequential(*(_OfficialBlock(d) for _ in range(depth)))
            for depth, d in zip(depths, dims, strict=True)
        )
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)


#: A small layout for checks that need no network.
TINY_LAYOUT = SSMNetConfig(name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 24, 32))


def _count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize("name", list(PAPER_TABLE))
def test_named_configs_have_reference_depths_and_widths(name):
    depths, dims, _ = PAPER_TABLE[name]
    model = build_model(name)
    assert model.config.depths == depths and model.config.dims == dims
    assert [len(stage) for stage in model.stages] == list(depths)
    assert [stage[0].dwconv.in_channels for stage in model.stages] == list(dims)
    assert all(stem.conv.out_channels == dims[0] for stem in model.stems.values())
    assert [down.conv.out_channels for down in model.downsample] == list(dims[1:])
    block = model.stages[0][0]
    assert block.dwconv.kernel_size == (7, 7) and block.dwconv.groups == dims[0]
    assert block.pwconv1.out_features == 4 * dims[0]


@pytest.mark.parametrize("name", list(PAPER_TABLE))
def test_reference_count_matches_official_layout_and_published_size(name):
    depths, dims, published_millions = PAPER_TABLE[name]
    official = _OfficialConvNeXtV2(depths, dims)
    encoder = _count(official.downsample_layers, official.stages)
    assert reference_encoder_parameter_count(depths, dims) == encoder
    assert round(_count(official) / 1e6, 1) == published_millions


@pytest.mark.parametrize("name", list(PAPER_TABLE))
def test_encoder_parameters_match_reference(name):
    depths, dims, _ = PAPER_TABLE[name]
    model = build_model(name)
    counts = model.parameter_counts()
    official = _OfficialConvNeXtV2(depths, dims)
    # Downsampling layers and stages: exactly the reference.
    assert counts["encoder_body"] == _count(official.downsample_layers[1:], official.stages)
    # Stems: one reference stem (conv 4x4 + LayerNorm) per modality, with its own band count.
    per_band = 16 * dims[0]
    expected_stems = sum(len(g) * per_band + 3 * dims[0] for g in model.config.modalities.values())
    assert counts["stems"] == expected_stems
    # Documented tolerance: the 18 input bands instead of RGB add < 0.5 % to the encoder.
    reference = reference_encoder_parameter_count(depths, dims)
    assert 0 < counts["encoder"] - reference < 0.005 * reference
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    parts = ("stems", "encoder_body", "fusion", "metadata", "decoder", "head")
    assert sum(counts[p] for p in parts) == counts["total"]


@pytest.mark.parametrize("name", ["atto", "nano"])
def test_local_statistics_add_no_parameters(name):
    """Windowed GRN and SE use the same weights; only FiLM loses the presence inputs."""
    local = build_model(name)
    tile_wide = SSMNet(dataclasses.replace(local.config, statistics_window=None))
    assert local.config.statistics_window == DEFAULT_STATISTICS_WINDOW
    local_counts, tile_counts = local.parameter_counts(), tile_wide.parameter_counts()
    for part in ("stems", "encoder_body", "encoder", "fusion", "decoder", "head"):
        assert local_counts[part] == tile_counts[part], part
    presence_inputs = len(local.config.modalities) * local.config.metadata_hidden
    assert tile_counts["metadata"] - local_counts["metadata"] == presence_inputs
    local_shapes = {k: v.shape for k, v in local.state_dict().items()}
    tile_shapes = {k: v.shape for k, v in tile_wide.state_dict().items()}
    assert local_shapes.keys() == tile_shapes.keys()
    assert [k for k in local_shapes if local_shapes[k] != tile_shapes[k]] == [
        "metadata_film.mlp.0.weight"
    ]


def test_config_json_round_trip_rebuilds_the_same_model():
    config = SSMNetConfig(
        name="custom",
        depths=(1, 1, 2, 1),
        dims=(8, 16, 24, 32),
        band_mean=tuple(float(i) for i in range(18)),
        band_std=tuple(1.0 + i for i in range(18)),
        out_max=0.5,
        decoder_dims=(16, 12, 8),
        full_res_dim=8,
        statistics_window=40,
    )
    text = json.dumps(config.to_dict())
    restored = SSMNetConfig.from_dict(json.loads(text))
    assert restored == config and hash(restored) == hash(config)
    assert restored.bands == config.bands and restored.statistics_window == 40
    tile_wide = dataclasses.replace(config, statistics_window=None)
    assert SSMNetConfig.from_dict(json.loads(json.dumps(tile_wide.to_dict()))) == tile_wide

    torch.manual_seed(0)
    model = SSMNet(config).eval()
    twin = SSMNet(restored).eval()
    twin.load_state_dict(model.state_dict())
    x, meta = random_inputs(config, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x, meta), twin(x, meta))


def test_a_card_from_before_statistics_windows_reads_as_tile_wide():
    """Weights trained with tile-wide statistics keep the network they were trained with."""
    old_card = get_config("atto").to_dict()
    del old_card["statistics_window"]
    config = SSMNetConfig.from_dict(old_card)
    assert config.statistics_window is None and not config.local_statistics
    assert config.window_cells(4) is None
    assert SSMNetConfig(depths=(1, 1, 1, 1), dims=(8, 8, 8, 8)).local_statistics  # new default


def test_statistics_window_in_cells_at_each_stage():
    cells = {
        window: [
            dataclasses.replace(TINY_LAYOUT, statistics_window=window).window_cells(s)
            for s in (4, 8, 16, 32)
        ]
        for window in (1, 64, 96, 100, 128)
    }
    assert cells[96] == [25, 13, 7, 3]  # 96 px = 24 cells at stride 4, made odd
    assert cells[64] == [17, 9, 5, 3]
    assert cells[100] == [25, 13, 7, 5]  # ceil(100 / 32) = 4 -> 5
    assert cells[128] == [33, 17, 9, 5]
    assert cells[1] == [3, 3, 3, 3]  # at least 3 cells
    assert SSMNetConfig(statistics_window=96.0).statistics_window == 96


def test_normalisation_statistics_are_not_in_the_state_dict():
    """They travel with the config (model card), so the weights file cannot contradict it."""
    state = build_model("atto").state_dict()
    assert not any(key.startswith("input_") for key in state)


def test_config_defaults_and_named_lookup():
    config = get_config("atto")
    assert DEFAULT_CONFIG in CONFIGS
    assert config.n_bands == 18 and config.n_metadata == 6
    assert config.bands[:3] == ("vv", "vh", "vh_vv")
    assert config.decoder_dims == (160, 80, 40)
    assert config.band_mean == (0.0,) * 18 and config.band_std == (1.0,) * 18
    assert config.out_max == 0.6
    assert config.modality_slices["optical"] == slice(5, 12)
    assert all(c.statistics_window == DEFAULT_STATISTICS_WINDOW for c in CONFIGS.values())
    assert 64 <= DEFAULT_STATISTICS_WINDOW <= 128


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depths": (2, 2, 6)}, "4 stages"),
        ({"band_std": (1.0,) * 17}, "one value per band"),
        ({"band_std": (0.0,) * 18}, "band_std must be finite and > 0"),
        ({"band_mean": (float("nan"),) * 18}, "band_mean must be finite"),
        ({"out_max": -1.0}, "out_max"),
        ({"modalities": {"a": ("vv",), "b": ("vv",)}}, "two modalities"),
        ({"full_res_kernel": 4}, "odd"),
        ({"statistics_window": 0}, "statistics_window must be at least 1 pixel"),
        ({"statistics_window": 2.5}, "whole number of input pixels"),
        ({"statistics_window": "96"}, "whole number of input pixels"),
        ({"statistics_window": True}, "whole number of input pixels"),
    ],
)
def test_invalid_config_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SSMNetConfig(**kwargs)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown SSMNetConfig field"):
        SSMNetConfig.from_dict({"name": "atto", "widths": [1]})
    with pytest.raises(ValueError, match="unknown model configuration 'giga'"):
        build_model("giga")
