"""Parameters of the simulated regions and of the observing system.

Three regions stand for the paper's three study areas *in kind* (Liu et al.
2025): rain-fed maize and soybean on the black soils of Wangkui County
(``farmland``), alpine meadow on the central Tibetan Plateau near Nagqu
(``alpine_grassland``), and the oasis-desert mosaic of the middle Heihe River
Basin near Zhangye (``arid_basin``). The numbers are representative of each
regime, rounded, and are *not* fitted to any station record: climate from the
published climate normals of the nearest national stations (Suihua, Nagqu,
Zhangye; China Meteorological Administration), in round figures; soils from
the regional soil descriptions (Mollisols, alpine meadow soils, sandy grey
desert soils); phenology from the crop calendars. Every value is recorded in
the attributes of a simulated scene. :doc:`/simulator` gives each equation and
parameter with its source.

Parameters are frozen dataclasses, so a variant is made with
:func:`dataclasses.replace`, e.g. ``replace(REGIONS["farmland"],
cloud_cover_mean=0.0)``, and passed to
:func:`xsoilmoist.synthetic.simulate_scene` in place of a region name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from xsoilmoist.errors import InputError

__all__ = [
    "OPTICAL_BANDS",
    "REGIONS",
    "Climate",
    "Hydrology",
    "LandCoverClass",
    "ObservingSystem",
    "Region",
    "SoilTexture",
    "TerrainShape",
    "parameters_dict",
]

#: Optical bands simulated, in this order wherever a per-band tuple is given.
OPTICAL_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")

Monthly = tuple[float, float, float, float, float, float, float, float, float, float, float, float]
PerBand = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class Climate:
    """Monthly climatology and the daily weather generator's parameters.

    Attributes
    ----------
    monthly_temperature
        Mean daily air temperature of each month, degC (January first).
    monthly_precipitation
        Mean precipitation total of each month, mm.
    monthly_wet_day_fraction
        Fraction of days with measurable precipitation in each month.
    wet_day_persistence
        Lag-1 autocorrelation of the wet/dry occurrence (Markov chain).
    rain_amount_shape
        Shape of the gamma distribution of wet-day amounts (Richardson 1981).
    temperature_anomaly_sd
        Standard deviation of the daily temperature anomaly, K.
    temperature_persistence
        Lag-1 autocorrelation of the temperature anomaly (AR(1)).
    wet_day_cooling
        Temperature drop on wet days, K.
    cell_precipitation_cv
        Coefficient of variation of a weather cell's daily amount around the
        regional amount (lognormal).
    cell_temperature_sd
        Standard deviation of a weather cell's fixed temperature offset, K.
    """

    monthly_temperature: Monthly
    monthly_precipitation: Monthly
    monthly_wet_day_fraction: Monthly
    wet_day_persistence: float = 0.3
    rain_amount_shape: float = 0.75
    temperature_anomaly_sd: float = 2.5
    temperature_persistence: float = 0.7
    wet_day_cooling: float = 1.5
    cell_precipitation_cv: float = 0.25
    cell_temperature_sd: float = 0.5


@dataclass(frozen=True)
class TerrainShape:
    """The fractal DEM: base height, roughness, Hurst exponent and a regional tilt.

    Attributes
    ----------
    base_elevation
        Mean elevation of the scene, m above sea level; also the reference
        height of the coarse weather.
    rms_difference_100m
        Root-mean-square elevation difference between points 100 m apart, m.
    hurst
        Hurst exponent ``H`` of the fractional Brownian surface (power
        spectrum proportional to ``k^-(2H+2)``).
    outer_scale
        Wavelength above which the spectrum flattens, m (limits the relief of
        large scenes).
    regional_gradient
        Slope of a planar regional tilt, m/m.
    gradient_azimuth
        Direction the regional tilt faces (downhill), degrees clockwise from
        north.
    """

    base_elevation: float
    rms_difference_100m: float
    hurst: float
    outer_scale: float
    regional_gradient: float = 0.0
    gradient_azimuth: float = 0.0


@dataclass(frozen=True)
class SoilTexture:
    """Spatial statistics of topsoil texture and the dry soil's colour.

    Attributes
    ----------
    sand_mean, sand_sd, clay_mean, clay_sd
        Mean and standard deviation of the sand and clay mass fractions (0-1).
    sand_clay_correlation
        Correlation between the sand and clay fields (negative: sandier soils
        hold less clay).
    organic_matter
        Organic matter, % by weight (Saxton & Rawls 2006 take 0-8 %).
    correlation_scale
        Size of the largest texture patches, m.
    dry_reflectance
        Reflectance of the dry soil in the six optical bands.
    """

    sand_mean: float
    sand_sd: float
    clay_mean: float
    clay_sd: float
    organic_matter: float
    dry_reflectance: PerBand
    sand_clay_correlation: float = -0.6
    correlation_scale: float = 800.0


@dataclass(frozen=True)
class Hydrology:
    """Water-balance constants of the 0-5 cm layer.

    Attributes
    ----------
    layer_depth
        Depth of the simulated surface layer, mm (0-5 cm).
    equilibrium_saturation_low, equilibrium_saturation_high
        Relative saturation ``(theta - theta_r) / (theta_s - theta_r)`` the
        layer relaxes to on divergent (low wetness index) and on convergent
        (high wetness index) terrain.
    wetness_index_gain, wetness_index_offset
        The logistic ``1 / (1 + exp(-(gain * z - offset)))`` of the scene's
        standardised wetness index ``z`` that moves the equilibrium between the
        two.
    exchange_rate
        Fraction of the difference to the equilibrium exchanged per day with
        the subsoil and by lateral flow, 1/day.
    interception_per_lai
        Canopy interception capacity per unit LAI, mm.
    radiation_extinction
        Extinction coefficient of the canopy that splits evapotranspiration
        into soil evaporation and transpiration.
    degree_day_factor
        Snowmelt per degree above 0 degC, mm/(degC day).
    lapse_rate
        Decrease of air temperature with height, K/km.
    potential_et_coefficient
        Hamon's calibration coefficient ``KPEC``.
    spin_up_days
        Days simulated before the first overpass.
    """

    layer_depth: float = 50.0
    equilibrium_saturation_low: float = 0.3
    equilibrium_saturation_high: float = 0.85
    wetness_index_gain: float = 1.5
    wetness_index_offset: float = 1.0
    exchange_rate: float = 0.08
    interception_per_lai: float = 0.2
    radiation_extinction: float = 0.5
    degree_day_factor: float = 3.0
    lapse_rate: float = 6.5
    potential_et_coefficient: float = 1.2
    spin_up_days: int = 60


@dataclass(frozen=True, kw_only=True)
class LandCoverClass:
    """One land-cover class: its share, phenology, rooting, roughness and irrigation.

    Every field is given by keyword: a table entry says which number is which.

    Attributes
    ----------
    name
        Class name (the ``sim_land_cover`` flag meanings).
    fraction
        Share of the scene.
    lai_min, lai_max
        Leaf area index out of season and at the peak, m2 m-2.
    green_up_doy, senescence_doy
        Days of year of the mid-points of green-up and senescence.
    phenology_rate
        Steepness of the double logistic, 1/day.
    root_beta
        Jackson et al. (1996) root-distribution parameter: the fraction of
        roots above depth ``d`` cm is ``1 - beta^d``.
    rms_height
        Mean surface rms height, cm.
    in_parcels
        The class is managed in rectangular parcels (one crop and sowing date
        per parcel).
    irrigation_interval, irrigation_amount, irrigation_start_doy, irrigation_end_doy
        Flood irrigation every ``interval`` days (0: rain-fed) of ``amount`` mm
        between the two days of year.
    sand_offset, clay_offset
        Shift of the sand and clay fractions under this class (e.g. the
        irrigation-silted loams of oasis fields).
    """

    name: str
    fraction: float
    lai_min: float
    lai_max: float
    green_up_doy: float
    senescence_doy: float
    phenology_rate: float
    root_beta: float
    rms_height: float
    in_parcels: bool = False
    irrigation_interval: int = 0
    irrigation_amount: float = 0.0
    irrigation_start_doy: int = 0
    irrigation_end_doy: int = 0
    sand_offset: float = 0.0
    clay_offset: float = 0.0


@dataclass(frozen=True)
class Region:
    """A simulated region: location, CRS, climate, terrain, soil and land cover.

    Attributes
    ----------
    name
        Region name (a key of :data:`REGIONS`).
    description
        What the region stands for.
    latitude, longitude
        Scene centre, degrees on WGS 84.
    epsg
        EPSG code of the scene's UTM CRS.
    default_start
        First overpass of the default time series (ISO date).
    cloud_cover_mean
        Mean cloud fraction of an optical overpass.
    parcel_size
        Width and height of the field parcels, m.
    """

    name: str
    description: str
    latitude: float
    longitude: float
    epsg: int
    default_start: str
    climate: Climate
    terrain: TerrainShape
    soil: SoilTexture
    land_cover: tuple[LandCoverClass, ...]
    hydrology: Hydrology = field(default_factory=Hydrology)
    cloud_cover_mean: float = 0.3
    parcel_size: tuple[float, float] = (300.0, 150.0)

    def __post_init__(self) -> None:
        if not self.land_cover or any(c.fraction <= 0 for c in self.land_cover):
            raise InputError(
                f"region {self.name!r} needs at least one land-cover class, each with a "
                "positive fraction"
            )
        if not 0.0 <= self.cloud_cover_mean <= 1.0:
            raise InputError(f"cloud_cover_mean must be within 0-1, got {self.cloud_cover_mean}")
        if min(self.parcel_size) <= 0 or self.hydrology.layer_depth <= 0:
            raise InputError("parcel_size and hydrology.layer_depth must be positive")


@dataclass(frozen=True)
class ObservingSystem:
    """Sensors, products and labels: the simulated observations of the truth.

    Attributes
    ----------
    revisit_days
        Days between overpasses of the default time series.
    c_band_frequency, l_band_frequency
        Radar frequencies, GHz (Sentinel-1: 5.405; an L-band SAR such as
        ALOS-2 PALSAR-2 or LuTan-1: about 1.26).
    looks
        Number of looks of the intensity speckle (integer; Sentinel-1 IW
        GRDH: equivalent number of looks about 4.4).
    noise_equivalent_sigma0_c, noise_equivalent_sigma0_l
        Additive thermal noise floor, dB (Sentinel-1 IW: -22 dB or lower).
    incidence_ascending, incidence_descending
        Incidence angle at the scene centre on the two orbits, degrees.
    incidence_gradient
        Increase of the incidence angle across the swath, degrees per km of
        ground range.
    heading_ascending
        Platform heading of the ascending orbit, degrees from north (the
        descending orbit flies the reverse, 180 degrees further); the radar
        looks right.
    wcm_vv, wcm_vh, wcm_hh, wcm_hv
        Water Cloud Model ``(A, B)`` per polarisation, with ``V1 = V2 = LAI``.
    vegetation_reflectance
        Reflectance of an infinitely thick canopy, per optical band.
    canopy_extinction
        Extinction of the soil signal by the canopy, per optical band.
    moisture_darkening
        ``c`` of ``R_soil = R_dry * exp(-c * S)`` with ``S`` the relative
        saturation, per optical band.
    reflectance_noise
        Standard deviation of the additive reflectance noise.
    cloud_height
        Cloud-base height for the shadow displacement, m.
    overpass_solar_time
        Local solar time of the optical overpass, hours.
    vegetation_product_resolution
        Cell size of the MODIS-like LAI/FPAR product, m.
    lai_product_noise
        Relative standard deviation of the LAI product's retrieval error.
    fpar_extinction
        ``k`` of ``FPAR = 1 - exp(-k LAI)``.
    weather_resolution
        Cell size of the ERA5-like weather grid, m (about 0.25 degrees).
    coarse_bias, coarse_noise
        Bias and standard deviation of the coarse label's error, m3/m3.
    min_footprint_coverage
        Smallest fraction of a footprint inside the scene for a coarse label.
    station_offset, station_noise
        Standard deviations of a station's fixed representativeness error and
        of its per-reading error, m3/m3.
    domain_randomization
        Draw per scene (from the seed) the radar calibration offsets, the
        centre incidence angles of both orbits and the number of looks, and
        per date the atmospheric residuals, instead of using the fixed values
        (``incidence_ascending``, ``incidence_descending``, ``looks``; no
        offset, no residual).
    calibration_offset_limit
        Per-scene radar calibration offset, uniform within +/- this, dB
        (common to all polarisations, plus ``polarisation_offset_sd``).
    polarisation_offset_sd
        Standard deviation of each polarisation's own extra offset, dB.
    incidence_limits
        Range of the randomized centre incidence angles, degrees (Sentinel-1 IW).
    looks_limits
        Smallest and largest randomized number of looks.
    scene_soil_brightness_sd
        Log-space standard deviation of the randomized per-scene factor on the
        region's dry-soil reflectance.
    roughness_sd
        Log-space standard deviation of the rms height around its class mean.
    rms_height_limits
        The rms height is kept within these limits, cm.
    wcm_a_sd
        Log-space standard deviation of the per-pixel Water Cloud Model ``A``
        (canopy structure and water content beyond LAI).
    soil_brightness_sd
        Log-space standard deviation of the dry soil's brightness (all bands
        together; mineralogy, organic matter, crusts and residues).
    soil_colour_sd
        Standard deviation of the dry soil's spectral tilt (log reflectance per
        unit of the band's position from blue -1 to swir2 +1).
    darkening_sd
        Relative standard deviation of a soil's moisture darkening ``c``.
    canopy_reflectance_sd
        Log-space standard deviation of the canopy's ``R_inf`` (per band,
        partly shared).
    residue_cover_limit
        Largest fraction of the soil under litter and crop residue (per parcel
        on managed land, uniform from 0 to this).
    litter_decay_days
        e-folding time of the season's standing dead biomass after
        senescence, days.
    residue_reflectance
        Reflectance of dry litter and crop residue (non-photosynthetic
        vegetation), per optical band.
    residue_brightness_sd
        Log-space standard deviation of the residue's brightness (crop, age,
        weathering).
    atmosphere_offset_sd
        Standard deviation of the per-date additive atmospheric-correction
        residual, per optical band.
    atmosphere_gain_sd
        Standard deviation of the per-date relative gain of the residual.
    """

    revisit_days: int = 12
    c_band_frequency: float = 5.405
    l_band_frequency: float = 1.26
    looks: int = 4
    noise_equivalent_sigma0_c: float = -22.0
    noise_equivalent_sigma0_l: float = -28.0
    incidence_ascending: float = 39.0
    incidence_descending: float = 34.0
    incidence_gradient: float = 0.068
    heading_ascending: float = -12.0
    wcm_vv: tuple[float, float] = (0.033, 0.15)
    wcm_vh: tuple[float, float] = (0.013, 0.12)
    wcm_hh: tuple[float, float] = (0.030, 0.05)
    wcm_hv: tuple[float, float] = (0.005, 0.045)
    vegetation_reflectance: PerBand = (0.025, 0.06, 0.025, 0.45, 0.20, 0.09)
    canopy_extinction: PerBand = (0.8, 0.6, 0.75, 0.45, 0.5, 0.65)
    moisture_darkening: PerBand = (0.45, 0.45, 0.47, 0.50, 0.80, 0.87)
    reflectance_noise: float = 0.004
    cloud_height: float = 1500.0
    overpass_solar_time: float = 10.5
    vegetation_product_resolution: float = 500.0
    lai_product_noise: float = 0.1
    fpar_extinction: float = 0.5
    weather_resolution: float = 25000.0
    coarse_bias: float = 0.02
    coarse_noise: float = 0.02
    min_footprint_coverage: float = 0.5
    station_offset: float = 0.02
    station_noise: float = 0.01
    domain_randomization: bool = True
    calibration_offset_limit: float = 1.5
    polarisation_offset_sd: float = 0.3
    incidence_limits: tuple[float, float] = (30.0, 46.0)
    looks_limits: tuple[int, int] = (3, 6)
    scene_soil_brightness_sd: float = 0.4
    roughness_sd: float = 0.45
    rms_height_limits: tuple[float, float] = (0.4, 4.0)
    wcm_a_sd: float = 0.3
    soil_brightness_sd: float = 0.3
    soil_colour_sd: float = 0.15
    darkening_sd: float = 0.2
    canopy_reflectance_sd: float = 0.12
    residue_cover_limit: float = 0.6
    litter_decay_days: float = 40.0
    residue_reflectance: PerBand = (0.08, 0.11, 0.15, 0.28, 0.38, 0.27)
    residue_brightness_sd: float = 0.2
    atmosphere_offset_sd: PerBand = (0.008, 0.006, 0.005, 0.005, 0.004, 0.003)
    atmosphere_gain_sd: float = 0.03

    def __post_init__(self) -> None:
        if isinstance(self.looks, bool) or not isinstance(self.looks, int) or self.looks < 1:
            raise InputError(
                f"looks must be a whole number of looks, at least 1 (speckle is the mean of "
                f"that many exponentials), got {self.looks!r}"
            )
        if not 0.0 < self.min_footprint_coverage <= 1.0:
            raise InputError(
                f"min_footprint_coverage must be within (0, 1], got {self.min_footprint_coverage}"
            )
        spreads = ("reflectance_noise", "lai_product_noise", "coarse_noise")
        for name in (*spreads, "station_offset", "station_noise"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} is a standard deviation and cannot be negative")
        for name in ("revisit_days", "vegetation_product_resolution", "weather_resolution"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")


def parameters_dict(obj) -> dict:
    """The parameters of a :class:`Region` or :class:`ObservingSystem` as plain JSON types.

    Examples
    --------
    >>> parameters_dict(ObservingSystem())["looks"]
    4
    """
    return asdict(obj)


# Jackson et al. (1996), Oecologia 108:389-411, Table 1 (root-distribution beta).
_BETA_CROPS = 0.961
_BETA_TEMPERATE_GRASSLAND = 0.943
_BETA_TEMPERATE_DECIDUOUS = 0.966
_BETA_TUNDRA = 0.914
_BETA_DESERT = 0.975
_BETA_SCLEROPHYLLOUS_SHRUBS = 0.964

_FARMLAND = Region(
    name="farmland",
    description=(
        "rain-fed maize and soybean on black soils (Mollisols) of the Songnen Plain, "
        "in kind Wangkui County, Heilongjiang; cool continental monsoon climate"
    ),
    latitude=46.8,
    longitude=126.5,
    epsg=32652,
    default_start="2021-06-01",
    climate=Climate(
        monthly_temperature=(
            -20.5,
            -15.7,
            -5.8,
            5.6,
            13.9,
            19.9,
            22.7,
            20.9,
            14.1,
            4.9,
            -7.0,
            -17.4,
        ),
        monthly_precipitation=(4, 4, 9, 22, 45, 90, 150, 120, 55, 25, 8, 5),
        monthly_wet_day_fraction=(
            0.17,
            0.14,
            0.2,
            0.23,
            0.33,
            0.43,
            0.5,
            0.45,
            0.33,
            0.23,
            0.2,
            0.2,
        ),
    ),
    terrain=TerrainShape(
        base_elevation=200.0,
        rms_difference_100m=1.0,
        hurst=0.85,
        outer_scale=3000.0,
        regional_gradient=0.003,
        gradient_azimuth=225.0,
    ),
    soil=SoilTexture(
        sand_mean=0.20,
        sand_sd=0.06,
        clay_mean=0.30,
        clay_sd=0.05,
        organic_matter=4.0,
        dry_reflectance=(0.045, 0.060, 0.075, 0.110, 0.170, 0.150),
    ),
    land_cover=(
        LandCoverClass(
            name="maize",
            fraction=0.5,
            lai_min=0.1,
            lai_max=4.5,
            green_up_doy=180,
            senescence_doy=250,
            phenology_rate=0.09,
            root_beta=_BETA_CROPS,
            rms_height=1.6,
            in_parcels=True,
        ),
        LandCoverClass(
            name="soybean",
            fraction=0.3,
            lai_min=0.1,
            lai_max=3.5,
            green_up_doy=185,
            senescence_doy=245,
            phenology_rate=0.1,
            root_beta=_BETA_CROPS,
            rms_height=1.3,
            in_parcels=True,
        ),
        LandCoverClass(
            name="grassland",
            fraction=0.1,
            lai_min=0.3,
            lai_max=2.2,
            green_up_doy=150,
            senescence_doy=265,
            phenology_rate=0.07,
            root_beta=_BETA_TEMPERATE_GRASSLAND,
            rms_height=0.9,
        ),
        LandCoverClass(
            name="forest",
            fraction=0.1,
            lai_min=0.6,
            lai_max=5.0,
            green_up_doy=140,
            senescence_doy=280,
            phenology_rate=0.08,
            root_beta=_BETA_TEMPERATE_DECIDUOUS,
            rms_height=1.0,
        ),
    ),
    hydrology=Hydrology(equilibrium_saturation_low=0.35, equilibrium_saturation_high=0.85),
    cloud_cover_mean=0.4,
    parcel_size=(300.0, 150.0),
)

_ALPINE_GRASSLAND = Region(
    name="alpine_grassland",
    description=(
        "alpine meadow on the central Tibetan Plateau at about 4500 m, in kind near Nagqu; "
        "cold semi-arid plateau climate with a summer monsoon"
    ),
    latitude=31.4,
    longitude=92.0,
    epsg=32646,
    default_start="2021-06-10",
    climate=Climate(
        monthly_temperature=(-12.6, -9.9, -5.4, -1.0, 3.1, 7.0, 9.0, 8.3, 5.2, -1.0, -7.6, -11.1),
        monthly_precipitation=(2, 3, 5, 9, 27, 83, 100, 90, 60, 15, 3, 2),
        monthly_wet_day_fraction=(
            0.06,
            0.08,
            0.13,
            0.2,
            0.35,
            0.6,
            0.7,
            0.65,
            0.5,
            0.2,
            0.06,
            0.05,
        ),
        rain_amount_shape=0.8,
    ),
    terrain=TerrainShape(
        base_elevation=4550.0, rms_difference_100m=12.0, hurst=0.8, outer_scale=5000.0
    ),
    soil=SoilTexture(
        sand_mean=0.55,
        sand_sd=0.10,
        clay_mean=0.12,
        clay_sd=0.04,
        organic_matter=6.0,
        dry_reflectance=(0.070, 0.100, 0.130, 0.180, 0.250, 0.220),
        correlation_scale=600.0,
    ),
    land_cover=(
        LandCoverClass(
            name="bare",
            fraction=0.2,
            lai_min=0.05,
            lai_max=0.3,
            green_up_doy=170,
            senescence_doy=250,
            phenology_rate=0.08,
            root_beta=_BETA_TUNDRA,
            rms_height=1.4,
        ),
        LandCoverClass(
            name="shrubland",
            fraction=0.1,
            lai_min=0.2,
            lai_max=1.0,
            green_up_doy=160,
            senescence_doy=255,
            phenology_rate=0.08,
            root_beta=_BETA_TUNDRA,
            rms_height=1.2,
        ),
        LandCoverClass(
            name="grassland",
            fraction=0.7,
            lai_min=0.1,
            lai_max=1.5,
            green_up_doy=165,
            senescence_doy=255,
            phenology_rate=0.09,
            root_beta=_BETA_TUNDRA,
            rms_height=0.8,
        ),
    ),
    hydrology=Hydrology(equilibrium_saturation_low=0.3, equilibrium_saturation_high=0.9),
    cloud_cover_mean=0.5,
)

_ARID_BASIN = Region(
    name="arid_basin",
    description=(
        "oasis-desert mosaic of an arid inland river basin, in kind the middle Heihe River "
        "Basin near Zhangye, Gansu: flood-irrigated maize beside gobi and desert shrubs"
    ),
    latitude=38.9,
    longitude=100.4,
    epsg=32647,
    default_start="2021-06-01",
    climate=Climate(
        monthly_temperature=(-9.3, -4.9, 2.6, 10.0, 16.0, 20.3, 22.1, 20.6, 15.4, 7.9, -0.5, -7.4),
        monthly_precipitation=(2, 2, 4, 5, 12, 20, 30, 30, 15, 5, 2, 1),
        monthly_wet_day_fraction=(
            0.06,
            0.06,
            0.1,
            0.1,
            0.15,
            0.2,
            0.25,
            0.25,
            0.17,
            0.08,
            0.05,
            0.04,
        ),
        rain_amount_shape=0.6,
    ),
    terrain=TerrainShape(
        base_elevation=1500.0,
        rms_difference_100m=1.5,
        hurst=0.85,
        outer_scale=3000.0,
        regional_gradient=0.008,
        gradient_azimuth=0.0,
    ),
    soil=SoilTexture(
        sand_mean=0.62,
        sand_sd=0.12,
        clay_mean=0.10,
        clay_sd=0.04,
        organic_matter=1.0,
        dry_reflectance=(0.120, 0.170, 0.220, 0.270, 0.340, 0.300),
    ),
    land_cover=(
        LandCoverClass(
            name="bare",
            fraction=0.45,
            lai_min=0.0,
            lai_max=0.05,
            green_up_doy=170,
            senescence_doy=250,
            phenology_rate=0.08,
            root_beta=_BETA_DESERT,
            rms_height=1.2,
        ),
        LandCoverClass(
            name="shrubland",
            fraction=0.2,
            lai_min=0.05,
            lai_max=0.4,
            green_up_doy=160,
            senescence_doy=260,
            phenology_rate=0.07,
            root_beta=_BETA_SCLEROPHYLLOUS_SHRUBS,
            rms_height=1.1,
        ),
        LandCoverClass(
            name="grassland",
            fraction=0.05,
            lai_min=0.05,
            lai_max=0.8,
            green_up_doy=160,
            senescence_doy=255,
            phenology_rate=0.08,
            root_beta=_BETA_DESERT,
            rms_height=0.9,
        ),
        LandCoverClass(
            name="maize",
            fraction=0.3,
            lai_min=0.1,
            lai_max=4.5,
            green_up_doy=175,
            senescence_doy=255,
            phenology_rate=0.09,
            root_beta=_BETA_CROPS,
            rms_height=1.6,
            in_parcels=True,
            irrigation_interval=20,
            irrigation_amount=100.0,
            irrigation_start_doy=120,
            irrigation_end_doy=250,
            sand_offset=-0.3,
            clay_offset=0.08,
        ),
    ),
    hydrology=Hydrology(equilibrium_saturation_low=0.05, equilibrium_saturation_high=0.5),
    cloud_cover_mean=0.12,
    parcel_size=(200.0, 100.0),
)

#: The built-in regions, by name.
REGIONS: dict[str, Region] = {
    region.name: region for region in (_FARMLAND, _ALPINE_GRASSLAND, _ARID_BASIN)
}
