"""The band catalogue: canonical names, modalities, units, valid ranges and aliases.

This is the single place that knows which bands exist, what they are called
in real products, in which units the model sees them and which values are
physically valid. :mod:`xsoilmoist.bands` applies it to a Dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BANDS",
    "METADATA_FEATURES",
    "MODALITIES",
    "MODALITY_BANDS",
    "PRODUCTS",
    "Band",
    "DigitalNumberCoding",
    "aliases_of",
    "lookup_alias",
]


@dataclass(frozen=True)
class Band:
    """One canonical input band.

    Attributes
    ----------
    name
        Canonical variable name after standardization.
    modality
        Modality group (a key of :data:`MODALITY_BANDS`).
    units
        Units after standardization (a CF/UDUNITS string).
    valid_range
        Closed interval of physically valid values in ``units``; values outside
        become NaN.
    long_name
        CF ``long_name``.
    default_units
        Units assumed when a variable carries no ``units`` attribute, where the
        product convention settles them (ERA5 ``t2m`` is in K); ``None`` when it
        does not, and missing units are an error.
    how_to_get
        For a band that no product delivers as such, how to get it (named in
        the warnings about it).
    """

    name: str
    modality: str
    units: str
    valid_range: tuple[float, float]
    long_name: str
    default_units: str | None = None
    how_to_get: str | None = None


_REFLECTANCE = (0.0, 1.0)
_SAR_DB = (-50.0, 20.0)

#: Every canonical band, in model order within each modality.
BANDS: dict[str, Band] = {
    band.name: band
    for band in [
        Band("vv", "sar_c", "dB", _SAR_DB, "C-band backscatter sigma0 VV"),
        Band("vh", "sar_c", "dB", _SAR_DB, "C-band backscatter sigma0 VH"),
        Band("vh_vv", "sar_c", "dB", (-40.0, 40.0), "C-band cross-polarisation ratio VH - VV"),
        Band("angle", "sar_c", "degree", (0.0, 90.0), "SAR incidence angle", "degree"),
        Band("hh", "sar_l", "dB", _SAR_DB, "L-band backscatter sigma0 HH"),
        Band("hv", "sar_l", "dB", _SAR_DB, "L-band backscatter sigma0 HV"),
        Band("coastal", "optical", "1", _REFLECTANCE, "coastal aerosol reflectance (443 nm)"),
        Band("blue", "optical", "1", _REFLECTANCE, "blue reflectance (490 nm)"),
        Band("green", "optical", "1", _REFLECTANCE, "green reflectance (560 nm)"),
        Band("red", "optical", "1", _REFLECTANCE, "red reflectance (665 nm)"),
        Band("re1", "optical", "1", _REFLECTANCE, "red-edge 1 reflectance (705 nm)"),
        Band("re2", "optical", "1", _REFLECTANCE, "red-edge 2 reflectance (740 nm)"),
        Band("re3", "optical", "1", _REFLECTANCE, "red-edge 3 reflectance (783 nm)"),
        Band("nir", "optical", "1", _REFLECTANCE, "near-infrared reflectance (842 nm)"),
        Band("nir08", "optical", "1", _REFLECTANCE, "narrow near-infrared reflectance (865 nm)"),
        Band("water_vapour", "optical", "1", _REFLECTANCE, "water-vapour reflectance (945 nm)"),
        Band("cirrus", "optical", "1", _REFLECTANCE, "cirrus band reflectance (1375 nm)"),
        Band("swir1", "optical", "1", _REFLECTANCE, "shortwave-infrared 1 reflectance (1610 nm)"),
        Band("swir2", "optical", "1", _REFLECTANCE, "shortwave-infrared 2 reflectance (2190 nm)"),
        Band("ndvi", "optical", "1", (-1.0, 1.0), "normalised difference vegetation index"),
        Band("elevation", "topography", "m", (-500.0, 9000.0), "elevation above sea level", "m"),
        Band("slope", "topography", "degree", (0.0, 90.0), "terrain slope (Horn)"),
        Band("lai", "vegetation", "m2 m-2", (0.0, 10.0), "leaf area index", "m2 m-2"),
        Band("fpar", "vegetation", "1", (0.0, 1.0), "fraction of absorbed PAR", "1"),
        Band("t2m", "meteorology", "degC", (-90.0, 60.0), "air temperature at 2 m", "K"),
        Band("tp", "meteorology", "mm", (0.0, 1000.0), "total precipitation", "m"),
        # Optional: not in MODALITY_BANDS (the default models' inputs); a model lists it
        # in its own modalities. Kohler & Linsley's index of the days before (assemble).
        Band(
            "api",
            "meteorology",
            "mm",
            (0.0, 5000.0),
            "antecedent precipitation index",
            how_to_get=(
                "xsoilmoist.assemble derives it from an ERA5 total-precipitation record "
                "reaching 29 days before each SAR date"
            ),
        ),
    ]
}

#: Modality groups and the bands the model reads from each, in model order.
MODALITY_BANDS: dict[str, tuple[str, ...]] = {
    "sar_c": ("vv", "vh", "vh_vv"),
    "sar_l": ("hh", "hv"),
    "optical": ("blue", "green", "red", "nir", "swir1", "swir2", "ndvi"),
    "topography": ("elevation", "slope"),
    "vegetation": ("lai", "fpar"),
    "meteorology": ("t2m", "tp"),
}
MODALITIES: tuple[str, ...] = tuple(MODALITY_BANDS)

#: The image-level scalar features of a scene (:mod:`xsoilmoist.encoding`), in the
#: order the model's metadata branch reads them.
METADATA_FEATURES: tuple[str, ...] = (
    "doy_sin",
    "doy_cos",
    "lat_sin",
    "lat_cos",
    "lon_sin",
    "lon_cos",
)


@dataclass(frozen=True)
class DigitalNumberCoding:
    """How a product stores a band as integers: ``value = (dn + offset) * scale``.

    ``fill`` is the closed DN interval that marks no data (``None``: none).
    ``offset_from_baseline`` marks Sentinel-2, whose offset depends on the
    processing baseline (-1000 DN from baseline 04.00, January 2022).
    """

    product: str
    scale: float
    offset: float = 0.0
    fill: tuple[int, int] | None = None
    offset_from_baseline: bool = False


#: Integer codings of the products whose band names we recognise.
PRODUCTS: dict[str, DigitalNumberCoding] = {
    "sentinel-2": DigitalNumberCoding("sentinel-2", 1e-4, fill=(0, 0), offset_from_baseline=True),
    # Collection-2 level-2 surface reflectance: DN * 2.75e-5 - 0.2 = (DN - 7272.727...) * 2.75e-5
    "landsat-c2l2": DigitalNumberCoding(
        "landsat-c2l2", 2.75e-5, offset=-0.2 / 2.75e-5, fill=(0, 0)
    ),
    "modis-lai": DigitalNumberCoding("modis-lai", 0.1, fill=(248, 255)),
    "modis-fpar": DigitalNumberCoding("modis-fpar", 0.01, fill=(248, 255)),
}

# raw variable name (lower case) -> (canonical band, product or None)
_ALIASES: dict[str, tuple[str, str | None]] = {}


def _add(canonical: str, product: str | None, *names: str) -> None:
    for raw in names:
        _ALIASES[raw.lower()] = (canonical, product)


for _name in BANDS:
    _add(_name, None, _name)
for _pol in ("vv", "vh", "hh", "hv"):
    _add(_pol, None, f"sigma0_{_pol}", f"sigma0_{_pol}_db", f"{_pol}_db", f"s1_{_pol}")
_add("angle", None, "incidence_angle", "local_incidence_angle")
# Sentinel-2 L1C/L2A band names (B02 and B2 spellings) and Earth Search names.
for _canonical, _bands in {
    "coastal": ("B01", "B1"),
    "blue": ("B02", "B2"),
    "green": ("B03", "B3"),
    "red": ("B04", "B4"),
    "re1": ("B05", "B5", "rededge1"),
    "re2": ("B06", "B6", "rededge2"),
    "re3": ("B07", "B7", "rededge3"),
    "nir": ("B08", "B8"),
    "nir08": ("B8A",),
    "water_vapour": ("B09", "B9", "nir09"),
    "cirrus": ("B10",),
    "swir1": ("B11", "swir16"),
    "swir2": ("B12", "swir22"),
}.items():
    _add(_canonical, "sentinel-2", *_bands)
# Landsat 8/9 OLI collection-2 level-2 surface reflectance.
for _canonical, _band in {
    "coastal": "SR_B1",
    "blue": "SR_B2",
    "green": "SR_B3",
    "red": "SR_B4",
    "nir": "SR_B5",
    "swir1": "SR_B6",
    "swir2": "SR_B7",
}.items():
    _add(_canonical, "landsat-c2l2", _band)
_add("lai", "modis-lai", "Lai_500m", "Lai", "MODIS_LAI")
_add("fpar", "modis-fpar", "Fpar_500m", "Fpar", "MODIS_FPAR")
_add("t2m", None, "2t", "2m_temperature", "temperature_2m")
_add("tp", None, "total_precipitation")
_add("elevation", None, "dem", "height", "altitude", "elev", "DEM")


def lookup_alias(name: str) -> tuple[str, str | None] | None:
    """The canonical band and product a raw variable name stands for, or ``None``.

    Matching ignores case.

    Examples
    --------
    >>> lookup_alias("B04")
    ('red', 'sentinel-2')
    >>> lookup_alias("SR_B5")
    ('nir', 'landsat-c2l2')
    >>> lookup_alias("sigma0_VV")
    ('vv', None)
    >>> lookup_alias("ssm_true") is None
    True
    """
    return _ALIASES.get(str(name).lower())


def aliases_of(canonical: str) -> list[str]:
    """Raw names recognised for canonical band ``canonical`` (lower case).

    Examples
    --------
    >>> "b04" in aliases_of("red")
    True
    """
    return sorted(raw for raw, (band, _) in _ALIASES.items() if band == canonical)
