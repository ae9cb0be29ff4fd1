"""The soil-moisture network: a masked ConvNeXt V2 regression U-Net (imports torch).

``xsoilmoist`` itself never imports this package; it is imported when a model
is built or run.

Examples
--------
>>> from xsoilmoist.model import build_model, receptive_field
>>> model = build_model("atto")
>>> model.config.bands[:3]
('vv', 'vh', 'vh_vv')
"""

from __future__ import annotations

from xsoilmoist.model.net import (
    CONFIGS,
    DEFAULT_CONFIG,
    DEFAULT_STATISTICS_WINDOW,
    INPUT_MULTIPLE,
    METADATA,
    MODALITY_BANDS,
    REFERENCE_SIZES,
    ReceptiveField,
    SSMNet,
    SSMNetConfig,
    build_model,
    get_config,
    random_inputs,
    receptive_field,
    reference_encoder_parameter_count,
)

__all__ = [
    "CONFIGS",
    "DEFAULT_CONFIG",
    "DEFAULT_STATISTICS_WINDOW",
    "INPUT_MULTIPLE",
    "METADATA",
    "MODALITY_BANDS",
    "REFERENCE_SIZES",
    "ReceptiveField",
    "SSMNet",
    "SSMNetConfig",
    "build_model",
    "get_config",
    "random_inputs",
    "receptive_field",
    "reference_encoder_parameter_count",
]
