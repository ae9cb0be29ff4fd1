"""Reader for in-situ station data of the International Soil Moisture Network (ISMN).

ISMN delivers one text file per station, variable, depth and sensor (``*.stm``),
in a folder per network and station, zipped. The two layouts ISMN offers are
read as the ``ismn`` package by TU Wien reads them (``ismn.filehandlers.DataFile``):

*Header+values*: a header line
``CSE_ID NETWORK STATION LATITUDE LONGITUDE ELEVATION DEPTH_FROM DEPTH_TO [SENSOR]``
followed by records ``yyyy/mm/dd HH:MM value ISMN_flag [provider_flag]``;
network, station, position and depths come from the header.

*CEOP formatted*: no header; every record has 15 fields ``nominal_date
nominal_time actual_date actual_time CSE_ID NETWORK STATION LATITUDE LONGITUDE
ELEVATION DEPTH_FROM DEPTH_TO value ISMN_flag provider_flag``; times are the
nominal ones (fields 0-1), position from the first record (fields 7-9),
network, station and depths from the file name.

A file is CEOP formatted when its first two lines both have 15 fields, and
Header+values otherwise (the ``ismn`` package's rule). File names follow
``CSE_NETWORK_STATION_VARIABLE_DEPTHFROM_DEPTHTO_SENSOR_STARTDATE_ENDDATE.stm``,
where the sensor name may itself contain underscores (everything between the
depths and the two dates). The old station-wise "CEOP reference" format (five
name parts, 16 fields), which the ``ismn`` package no longer reads, is refused.

ISMN quality flags (Dorigo et al. 2013, doi:10.2136/vzj2012.0097; the ``flagit``
package of TU Wien lists them); a record may carry several, comma-separated
(``D01,D03``):

- ``G`` good: passed every check ISMN could run;
- ``U`` unknown: ISMN could not run its checks (some networks flag every value
  so); kept by default, behind this reader's physical-range check;
- ``M`` the provider marked the value as missing;
- ``C01`` soil moisture below 0, ``C02`` above 0.60 m3/m3, ``C03`` above the
  soil's saturation point (exceeding the plausible geophysical range);
- ``D01``-``D03`` frozen soil (negative soil or air temperature, in situ or
  GLDAS), ``D04``/``D05`` a rise without precipitation (in situ/GLDAS),
  ``D06`` spike, ``D07`` drop, ``D08`` jump, ``D09`` constant low values after
  a drop, ``D10`` saturated plateau (dubious).

Whatever the flags, values outside the variable's physical range
(:data:`VALID_RANGES`, e.g. 0-1 m3/m3 for soil moisture, which catches fill
values such as -9999) are set to NaN, counted and reported. A download is read
within byte limits per file and in total (:data:`MAX_FILE_BYTES`,
:data:`MAX_TOTAL_BYTES`), checked against the sizes a zip archive declares
before anything is decompressed, so a zip bomb is refused up front.
"""

from __future__ import annotations

import io
import itertools
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pint
import xarray as xr

from xsoilmoist import units
from xsoilmoist.errors import (
    DataFileError,
    InputError,
    InputNotFoundError,
    InputWarning,
    ISMNFormatError,
)

__all__ = [
    "DEFAULT_FLAGS",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "VALID_RANGES",
    "ISMNFormatError",
    "read_ismn",
]

#: ISMN quality flags kept by default: good, and unknown (not checked by ISMN).
DEFAULT_FLAGS = ("G", "U")

#: Default largest size of one ISMN data file (uncompressed): 64 MiB. Thirty years of
#: hourly records in the longer "CEOP formatted" layout take about 30 MiB.
MAX_FILE_BYTES = 64 * 2**20

#: Default largest size of all the data files read (uncompressed): 2 GiB.
MAX_TOTAL_BYTES = 2 * 2**30

#: Physical range of each ISMN variable in ISMN units: values outside are set to NaN
#: whatever their flag (fill values such as -9999 included).
VALID_RANGES = {
    "soil_moisture": (0.0, 1.0),
    "soil_temperature": (-90.0, 70.0),
    "air_temperature": (-90.0, 60.0),
    "surface_temperature": (-90.0, 100.0),
    "soil_suction": (0.0, np.inf),
    "precipitation": (0.0, np.inf),
    "snow_depth": (0.0, np.inf),
    "snow_water_equivalent": (0.0, np.inf),
}

#: A depth given as plain numbers deeper than this (m) is taken for centimetres.
_PLAIN_DEPTH_LIMIT = 3.0

#: ISMN variable short names (in file names) and the long names ``ismn`` uses.
VARIABLES = {
    "sm": "soil_moisture",
    "ts": "soil_temperature",
    "su": "soil_suction",
    "p": "precipitation",
    "ta": "air_temperature",
    "tsf": "surface_temperature",
    "sd": "snow_depth",
    "sweq": "snow_water_equivalent",
}

#: Units of the ISMN variables (as in ISMN's quality-flag description) and CF names.
_VARIABLE_ATTRS = {
    "soil_moisture": {
        "units": "m3 m-3",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
    },
    "soil_temperature": {"units": "degC", "standard_name": "soil_temperature"},
    "air_temperature": {"units": "degC", "standard_name": "air_temperature"},
    "surface_temperature": {"units": "degC", "standard_name": "surface_temperature"},
    "soil_suction": {"units": "kPa"},
    "precipitation": {"units": "mm h-1"},
    "snow_depth": {"units": "mm"},
    "snow_water_equivalent": {"units": "mm"},
}

_NAMING = "CSE_NETWORK_STATION_VARIABLE_DEPTHFROM_DEPTHTO_SENSOR_STARTDATE_ENDDATE.stm"
_HEADER = "CSE_ID NETWORK STATION LATITUDE LONGITUDE ELEVATION DEPTH_FROM DEPTH_TO [SENSOR]"
_HEADER_VALUES_RECORD = "yyyy/mm/dd HH:MM value ISMN_flag [provider_flag]"
_CEOP_RECORD = (
    "yyyy/mm/dd HH:MM yyyy/mm/dd HH:MM CSE_ID NETWORK STATION LATITUDE LONGITUDE "
    "ELEVATION DEPTH_FROM DEPTH_TO value ISMN_flag [provider_flag]"
)
_TIME_FORMAT = "%Y/%m/%d %H:%M"
_DEPTH_EPS = 1e-9


@dataclass(frozen=True)
class _Layout:
    """Where the fields of one record are, in one of the two ISMN layouts."""

    name: str
    description: str
    min_fields: int
    max_fields: int
    time_fields: tuple[int, int]
    value_field: int
    flag_field: int


_HEADER_VALUES = _Layout("header_values", _HEADER_VALUES_RECORD, 4, 5, (0, 1), 2, 3)
_CEOP_SEP = _Layout("ceop_sep", _CEOP_RECORD, 14, 15, (0, 1), 12, 13)


@dataclass(frozen=True)
class _Sensor:
    """One ISMN data file: a sensor's series at one station and depth."""

    source: str
    layout: str
    network: str
    station: str
    sensor: str
    latitude: float
    longitude: float
    elevation: float
    depth_from: float
    depth_to: float
    time: np.ndarray
    value: np.ndarray
    flag: np.ndarray


@dataclass(frozen=True)
class _FileName:
    """The parts of an ISMN data file name."""

    network: str
    station: str
    variable: str
    depth_from: str
    depth_to: str
    sensor: str
    n_parts: int

    @classmethod
    def parse(cls, source: str, basename: str) -> _FileName:
        stem = basename[:-4] if basename.lower().endswith(".stm") else basename
        parts = stem.split("_")
        if len(parts) == 5:  # the old station-wise CEOP reference format
            return cls(parts[1], "", "", "", "", "", 5)
        if len(parts) < 9:
            raise ISMNFormatError(
                f"{source}: the file name does not follow the ISMN naming convention {_NAMING}"
            )
        sensor = "_".join(parts[6:-2])
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5], sensor, len(parts))

    @property
    def long_variable(self) -> str:
        return VARIABLES.get(self.variable, self.variable)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _read_at_most(stream: BinaryIO, n_bytes: int) -> bytes:
    with stream:
        return stream.read(n_bytes)


def _candidate_files(path: Path) -> Iterator[tuple[str, str, int, Callable[[int], bytes]]]:
    """``(label, base name, size in bytes, read at most n bytes)`` of every ISMN data file.

    Sizes come from the file system or the zip archive's directory, so they are
    known before anything is read or decompressed.
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".stm")
        for file in files:
            yield (
                str(file),
                file.name,
                file.stat().st_size,
                lambda n, file=file: _read_at_most(file.open("rb"), n),
            )
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (m for m in archive.infolist() if m.filename.lower().endswith(".stm")),
                key=lambda m: m.filename,
            )
            for member in members:
                if member.is_dir():
                    continue
                yield (
                    f"{path}!{member.filename}",
                    member.filename.rsplit("/", 1)[-1],
                    member.file_size,
                    lambda n, member=member: _read_at_most(archive.open(member), n),
                )
    elif path.suffix.lower() == ".stm":
        yield str(path), path.name, path.stat().st_size, lambda n: _read_at_most(path.open("rb"), n)
    else:
        raise ISMNFormatError(
            f"{str(path)!r} is not an ISMN data file (*.stm), nor a folder or zip archive of them"
        )


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


@dataclass
class _Budget:
    """Byte limits per data file and in total, checked before each file is read."""

    max_file: int
    max_total: int
    used: int = 0

    def read(self, source: str, size: int, read: Callable[[int], bytes]) -> bytes:
        if size > self.max_file:
            raise DataFileError(
                f"{source} is {_mib(size)} uncompressed, over the limit of "
                f"{_mib(self.max_file)} per ISMN data file (thirty years of hourly records "
                "take about 30 MiB), so it is not read: it may be damaged or a zip bomb. If "
                "you trust it, raise the limit: read_ismn(..., max_file_bytes=...)"
            )
        if self.used + size > self.max_total:
            raise DataFileError(
                f"reading {source} would take the ISMN files read to "
                f"{_mib(self.used + size)} uncompressed, over the limit of "
                f"{_mib(self.max_total)} in total, so it is not read. Read fewer files (one "
                "network or variable per download), or raise the limit: "
                "read_ismn(..., max_total_bytes=...)"
            )
        try:
            raw = read(size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise DataFileError(f"{source} cannot be read ({err}); download it again") from err
        if len(raw) > size:
            raise DataFileError(
                f"{source} holds more than the {size} bytes its zip archive or the file "
                "system declares, so it is not read (a damaged or forged archive, or a file "
                "still being written); download it again"
            )
        self.used += size
        return raw


def _line_error(source: str, number: int, line: str, expected: str) -> ISMNFormatError:
    return ISMNFormatError(f"{source}, line {number}: expected {expected!r}, got {line.strip()!r}")


def _float(text: str) -> float | None:
    try:
        return float(text.strip("'\""))
    except ValueError:
        return None


def _split_records(lines: list[str], n_columns: int) -> pd.DataFrame:
    """The slow, always-working parse: split each line on whitespace."""
    rows = [line.split() for line in lines]
    return pd.DataFrame(
        [row[:n_columns] + [""] * (n_columns - len(row)) for row in rows],
        columns=range(n_columns),
        dtype=object,
    ).assign(**{"n_fields": [len(row) for row in rows]})


def _fast_records(lines: list[str], n_columns: int) -> pd.DataFrame | None:
    """Parse with pandas' C reader; ``None`` when it cannot keep one row per line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO("\n".join(lines)),
                sep=r"\s+",
                header=None,
                names=range(n_columns),
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                index_col=False,
                engine="c",
            )
    except pd.errors.ParserError:
        return None
    if len(table) != len(lines):
        return None
    return table.assign(n_fields=(table != "").sum(axis=1))


def _records(source: str, lines: list[str], first: int, layout: _Layout) -> pd.DataFrame:
    """Parse the record lines ``lines[first:]`` into time, value and flag, checking each line."""
    expected = f"{layout.description} ({layout.name} layout)"
    n_columns = layout.max_fields + 1  # a spare column catches records that are too long
    body = lines[first:]
    table = _fast_records(body, n_columns)
    if table is None:
        table = _split_records(body, n_columns)
    n_fields = table.pop("n_fields").to_numpy()
    blank = n_fields == 0
    wrong = ~blank & ((n_fields < layout.min_fields) | (n_fields > layout.max_fields))
    table = table[~blank]
    date_field, time_field = layout.time_fields
    time = pd.to_datetime(
        table[date_field] + " " + table[time_field], format=_TIME_FORMAT, errors="coerce"
    )
    value = pd.to_numeric(table[layout.value_field], errors="coerce")
    not_a_number = value.isna() & (table[layout.value_field].str.lower() != "nan")
    wrong[table.index[(time.isna() | not_a_number).to_numpy()]] = True
    if wrong.any():
        number = first + int(np.flatnonzero(wrong)[0])
        raise _line_error(source, number + 1, lines[number], expected)
    return pd.DataFrame(
        {
            "time": time.to_numpy(dtype="datetime64[ns]"),
            "value": value.to_numpy(dtype=np.float64),
            "flag": table[layout.flag_field].to_numpy(dtype=str),
        }
    )


def _parse_sensor(source: str, name: _FileName, text: str) -> _Sensor:
    """Read one ISMN data file in whichever of the two layouts it is."""
    lines = text.splitlines()
    non_blank = list(itertools.islice((i for i, line in enumerate(lines) if line.strip()), 2))
    if not non_blank:
        raise ISMNFormatError(f"{source}: the file is empty")
    first = lines[non_blank[0]].split()
    second = lines[non_blank[1]].split() if len(non_blank) > 1 else []
    if name.n_parts == 5 and len(first) == 16:
        raise ISMNFormatError(
            f"{source}: this is the old station-wise 'CEOP reference' format, which the ismn "
            "package no longer reads either; download the data again from ISMN as "
            "'Variables stored in separate files (Header+values)' or '(CEOP formatted)'"
        )
    if name.n_parts == 5:
        raise ISMNFormatError(
            f"{source}: the file name does not follow the ISMN naming convention {_NAMING}"
        )
    if len(first) == 15 and len(second) == 15:
        return _parse_ceop_sep(source, name, lines, non_blank[0])
    return _parse_header_values(source, name, lines, non_blank[0])


def _parse_header_values(source: str, name: _FileName, lines: list[str], head: int) -> _Sensor:
    fields = lines[head].split()
    numbers = [_float(f) for f in fields[3:8]]
    if len(fields) < 8 or any(n is None for n in numbers):
        raise _line_error(
            source,
            head + 1,
            lines[head],
            f"the Header+values header {_HEADER!r} (or a CEOP formatted record of 15 fields)",
        )
    latitude, longitude, elevation, depth_from, depth_to = numbers
    records = _records(source, lines, head + 1, _HEADER_VALUES)
    return _Sensor(
        source=source,
        layout=_HEADER_VALUES.name,
        network=fields[1],
        station=fields[2],
        sensor=name.sensor,
        latitude=latitude,
        longitude=longitude,
        elevation=elevation,
        depth_from=depth_from,
        depth_to=depth_to,
        time=records["time"].to_numpy(),
        value=records["value"].to_numpy(),
        flag=records["flag"].to_numpy(),
    )


def _parse_ceop_sep(source: str, name: _FileName, lines: list[str], head: int) -> _Sensor:
    depth_from, depth_to = _float(name.depth_from), _float(name.depth_to)
    if depth_from is None or depth_to is None:
        raise ISMNFormatError(
            f"{source}: the depths in the file name ({name.depth_from!r}, {name.depth_to!r}) "
            f"are not numbers; expected the ISMN naming convention {_NAMING}"
        )
    fields = lines[head].split()
    position = [_float(f) for f in fields[7:10]]
    if any(p is None for p in position):
        raise _line_error(source, head + 1, lines[head], f"{_CEOP_RECORD} (ceop_sep layout)")
    records = _records(source, lines, head, _CEOP_SEP)
    return _Sensor(
        source=source,
        layout=_CEOP_SEP.name,
        network=name.network,
        station=name.station,
        sensor=name.sensor,
        latitude=position[0],
        longitude=position[1],
        elevation=position[2],
        depth_from=depth_from,
        depth_to=depth_to,
        time=records["time"].to_numpy(),
        value=records["value"].to_numpy(),
        flag=records["flag"].to_numpy(),
    )


def _depth_in_metres(value, depth) -> tuple[float, bool]:
    """One depth bound in metres, and whether it came with explicit units."""
    if isinstance(value, str):
        try:
            quantity = units.ureg.Quantity(value.strip())
            if quantity.dimensionless:
                return float(quantity.magnitude), False
            return float(quantity.to("m").magnitude), True
        except (pint.PintError, AttributeError, ValueError, TypeError):
            pass
    elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value), False
    raise InputError(
        f"depth must be a pair (from, to) in metres, e.g. (0.0, 0.05), or with units, e.g. "
        f"('0 cm', '5 cm'); got {depth!r}"
    )


def _check_depth(depth) -> tuple[float, float]:
    """``depth`` as ``(from, to)`` in metres; plain numbers that look like centimetres refused."""
    if isinstance(depth, str) or not isinstance(depth, Iterable):
        raise InputError(
            f"depth must be a pair (from, to) in metres, e.g. (0.0, 0.05), got {depth!r}"
        )
    bounds = list(depth)
    if len(bounds) != 2:
        raise InputError(
            f"depth must be a pair (from, to) in metres, e.g. (0.0, 0.05), got {depth!r}"
        )
    (top, top_units), (bottom, bottom_units) = (_depth_in_metres(b, depth) for b in bounds)
    if not (np.isfinite(top) and np.isfinite(bottom) and 0.0 <= top <= bottom):
        raise InputError(f"depth must satisfy 0 <= from <= to (metres), got {depth!r}")
    plain = not (top_units or bottom_units)
    if plain and bottom > _PLAIN_DEPTH_LIMIT:
        raise InputError(
            f"depth is in metres: {depth!r} would select sensors down to {bottom:g} m, deeper "
            f"than {_PLAIN_DEPTH_LIMIT:g} m, so it looks like centimetres. For 0-5 cm pass "
            f"depth=(0.0, 0.05); to mean {bottom:g} m, give the units: "
            f"depth=('{top:g} m', '{bottom:g} m')"
        )
    return top, bottom


def _check_flags(flags) -> tuple[str, ...] | None:
    if flags is None:
        return None
    if isinstance(flags, str):
        flags = (flags,)
    if not isinstance(flags, Iterable):
        raise InputError(
            f"flags must be ISMN quality flags, e.g. ('G', 'U'), or None to keep every value; "
            f"got {flags!r}"
        )
    flags = tuple(str(f).strip() for f in flags)
    if not flags or not all(flags):
        raise InputError(
            "flags must name at least one ISMN quality flag, e.g. ('G', 'U'), or be None to "
            f"keep every value; got {flags!r}"
        )
    return flags


def _check_range(valid_range, variable: str) -> tuple[float, float]:
    if valid_range is None:
        return VALID_RANGES.get(variable, (-np.inf, np.inf))
    try:
        low, high = (float(v) for v in valid_range)
    except (TypeError, ValueError):
        raise InputError(
            f"valid_range must be a pair (min, max) in the variable's ISMN units, got "
            f"{valid_range!r}"
        ) from None
    if not low <= high:
        raise InputError(f"valid_range must satisfy min <= max, got {valid_range!r}")
    return low, high


def _check_limit(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise InputError(f"{name} must be a positive number of bytes, got {value!r}")
    return int(value)


def _read_sensors(path: Path, variable: str, budget: _Budget) -> list[_Sensor]:
    """Parse every data file of ``variable`` under ``path``, within ``budget``."""
    sensors, variables_found, n_files = [], Counter(), 0
    for source, basename, size, read in _candidate_files(path):
        n_files += 1
        name = _FileName.parse(source, basename)
        if name.n_parts != 5:
            variables_found[name.long_variable] += 1
            if name.long_variable != variable:
                continue
        sensors.append(_parse_sensor(source, name, _decode(budget.read(source, size, read))))
    if n_files == 0:
        raise InputNotFoundError(
            f"no ISMN data files (*.stm) found in {str(path)!r}; pass an ISMN download (the zip "
            "archive, its unzipped folder) or one of its .stm files"
        )
    if not sensors:
        found = ", ".join(f"{v} ({n} files)" for v, n in sorted(variables_found.items()))
        raise InputError(
            f"no {variable!r} files among the {n_files} ISMN data files in {str(path)!r}; "
            f"variables found: {found}"
        )
    return sensors


def _kept(flags: np.ndarray, allowed: frozenset[str] | None, dropped: Counter) -> np.ndarray:
    """Whether every flag of each record is allowed; counts the disallowed flags in ``dropped``."""
    if allowed is None:
        return np.ones(flags.shape, dtype=bool)
    keep = np.zeros(flags.shape, dtype=bool)
    for flag, count in zip(*np.unique(flags, return_counts=True), strict=True):
        rejected = [part for part in flag.split(",") if part not in allowed]
        for part in rejected:
            dropped[part] += int(count)
        if not rejected:
            keep[flags == flag] = True
    return keep


@dataclass
class _Tally:
    """What the filters took out: values per disallowed flag, values out of range."""

    dropped: Counter
    out_of_range: int = 0


def _station_series(sensors: Iterable[_Sensor], allowed, valid_range, tally: _Tally) -> pd.Series:
    """The mean over a station's sensors of their kept values, on the union of their times."""
    series = []
    low, high = valid_range
    for sensor in sensors:
        keep = _kept(sensor.flag, allowed, tally.dropped) & np.isfinite(sensor.value)
        in_range = (sensor.value >= low) & (sensor.value <= high)
        tally.out_of_range += int(np.count_nonzero(keep & ~in_range))
        keep &= in_range
        one = pd.Series(sensor.value[keep], index=pd.DatetimeIndex(sensor.time[keep]))
        series.append(one.groupby(level=0).mean())
    return pd.concat(series, axis=1, sort=True).mean(axis=1)


def _station_names(keys: list[tuple[str, str]]) -> list[str]:
    """Station names, qualified as ``NETWORK/STATION`` where a name occurs in two networks."""
    counts = Counter(station for _, station in keys)
    return [station if counts[station] == 1 else f"{net}/{station}" for net, station in keys]


def _format_counts(counts: Counter) -> str:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{flag}: {n}" for flag, n in ordered) or "none"


def _select_depth(sensors: list[_Sensor], path: Path, variable: str, top: float, bottom: float):
    selected = [
        s for s in sensors if s.depth_from >= top - _DEPTH_EPS and s.depth_to <= bottom + _DEPTH_EPS
    ]
    if not selected:
        found = sorted({(s.depth_from, s.depth_to) for s in sensors})
        listed = ", ".join(f"{a:g}-{b:g}" for a, b in found)
        raise InputError(
            f"no {variable} sensor in {str(path)!r} has its depth interval within "
            f"{top:g}-{bottom:g} m; depth intervals found (m): {listed}; pass depth= (in "
            "metres) to choose one of them"
        )
    by_station: dict[tuple[str, str], list[_Sensor]] = {}
    for sensor in selected:
        by_station.setdefault((sensor.network, sensor.station), []).append(sensor)
    return by_station


def _flags_text(flags: tuple[str, ...] | None) -> str:
    return "all (no flag filter)" if flags is None else ", ".join(flags)


def _report_filters(table: pd.DataFrame, keys, flags, tally: _Tally, variable, valid_range):
    """Warn about values out of range and stations left empty; error when nothing is left."""
    low, high = valid_range
    unit = _VARIABLE_ATTRS.get(variable, {}).get("units", "")
    if tally.out_of_range:
        warnings.warn(
            f"{tally.out_of_range} {variable} values outside the physical range "
            f"{low:g} to {high:g} {unit} (e.g. fill values such as -9999) were set to NaN "
            "although their ISMN flags were kept; read_ismn(..., valid_range=...) sets the range",
            InputWarning,
            stacklevel=3,
        )
    if table.notna().sum().sum() == 0:
        hint = ""
        if tally.dropped and flags is not None:
            hint = f"; allow more flags, e.g. flags={(*flags, tally.dropped.most_common(1)[0][0])}"
        raise InputError(
            f"no {variable} value is left after keeping ISMN flags {_flags_text(flags)} and "
            f"values within {low:g} to {high:g} {unit}: values per flag not allowed: "
            f"{_format_counts(tally.dropped)}; out of range: {tally.out_of_range}{hint}"
        )
    empty = [f"{net}/{station}" for (net, station), col in zip(keys, table, strict=True)
             if table[col].notna().sum() == 0]  # fmt: skip
    if empty:
        warnings.warn(
            f"{len(empty)} station(s) have no {variable} value left after keeping ISMN flags "
            f"{_flags_text(flags)} (values per flag not allowed: "
            f"{_format_counts(tally.dropped)}); they are kept, all NaN: {', '.join(empty)}. "
            "Pass flags= with more flags, or flags=None to keep every value",
            InputWarning,
            stacklevel=3,
        )


def _coords(keys, by_station, table: pd.DataFrame) -> dict:
    def per_station(attribute: str, reduce) -> np.ndarray:
        return np.array([reduce([getattr(s, attribute) for s in by_station[k]]) for k in keys])

    def depth_attrs(which: str) -> dict:
        return {"units": "m", "positive": "down", "long_name": f"{which} of the sensor depths"}

    return {
        "station": ("station", np.array(_station_names(keys), dtype=object)),
        "time": (
            "time",
            table.index.to_numpy(dtype="datetime64[ns]"),
            {"standard_name": "time", "long_name": "time of measurement (UTC)"},
        ),
        "network": ("station", np.array([net for net, _ in keys], dtype=object)),
        "lat": (
            "station",
            per_station("latitude", np.mean),
            {"units": "degrees_north", "standard_name": "latitude"},
        ),
        "lon": (
            "station",
            per_station("longitude", np.mean),
            {"units": "degrees_east", "standard_name": "longitude"},
        ),
        "elevation": (
            "station",
            per_station("elevation", np.mean),
            {"units": "m", "long_name": "station elevation above sea level"},
        ),
        "depth_from": ("station", per_station("depth_from", min), depth_attrs("top")),
        "depth_to": ("station", per_station("depth_to", max), depth_attrs("bottom")),
        "sensor": (
            "station",
            per_station("sensor", lambda names: "; ".join(sorted(set(names)))).astype(object),
        ),
        "n_sensors": ("station", np.array([len(by_station[k]) for k in keys])),
    }


def read_ismn(
    path: str | Path,
    *,
    depth: tuple[float | str, float | str] = (0.0, 0.05),
    flags: Iterable[str] | str | None = DEFAULT_FLAGS,
    variable: str = "soil_moisture",
    valid_range: tuple[float, float] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> xr.Dataset:
    """Read ISMN station data into a ``(station, time)`` Dataset.

    Parameters
    ----------
    path
        An ISMN download: the zip archive as ISMN delivers it, its unzipped
        folder (searched recursively for ``*.stm``), or one ``.stm`` file.
        Both ISMN layouts, "Header+values" and "CEOP formatted", are read.
    depth
        ``(from, to)`` in **metres**: sensors whose depth interval lies within
        it are kept (default 0-5 cm, which includes sensors at exactly 5 cm).
        Bounds may carry units as strings, ``("0 cm", "5 cm")``. Plain numbers
        deeper than 3 m look like centimetres (``(0, 5)``) and are refused;
        say ``("0 m", "5 m")`` if you mean metres.
    flags
        ISMN quality flags to keep (default :data:`DEFAULT_FLAGS`, ``("G",
        "U")``: good, and unknown where ISMN could not run its checks, which
        some networks report for every value). A record with several flags
        (``"D01,D03"``) is kept only if all of them are allowed. ``None``
        keeps every record whatever its flags. The flags are listed in the
        module documentation.
    variable
        ISMN variable, as the ``ismn`` package names it (``"soil_moisture"``,
        ``"soil_temperature"``, ...) or by its short name in file names (``"sm"``).
    valid_range
        ``(min, max)`` physical range in the variable's ISMN units; values
        outside it are set to NaN whatever their flags, and counted (default:
        :data:`VALID_RANGES`, 0 to 1 m3/m3 for soil moisture).
    max_file_bytes, max_total_bytes
        Largest uncompressed size of one data file and of all the data files
        read (defaults :data:`MAX_FILE_BYTES`, 64 MiB, and
        :data:`MAX_TOTAL_BYTES`, 2 GiB). Checked against the sizes the file
        system or the zip archive declares before a file is read.

    Returns
    -------
    xarray.Dataset
        Variable ``soil_moisture`` (or ``variable``), float32, dims
        ``(station, time)``, in ISMN units (``m3 m-3`` for soil moisture). When
        several sensors of a station lie within ``depth``, the variable is
        their mean at each time over the sensors with a kept value
        (``cell_methods="sensor: mean"``; coords ``sensor`` list them and
        ``n_sensors`` count them; ``depth_from``/``depth_to`` span them, and
        ``lat``/``lon``/``elevation`` are their mean). ``time`` is the union of
        all stations' timestamps (naive datetime64, UTC, hourly as ISMN
        delivers), NaN where a station has no kept value. Coordinate
        ``station`` holds the station name (``NETWORK/STATION`` where a name
        occurs in two networks); also ``network``, ``lat``, ``lon``,
        ``elevation``, ``depth_from``, ``depth_to``. Attributes record the
        flags kept, the values dropped per flag and the number of values out
        of the physical range (``valid_min``/``valid_max`` on the variable).

    Raises
    ------
    InputNotFoundError
        If ``path`` does not exist or holds no ``*.stm`` file.
    ISMNFormatError
        If a file is named against the ISMN convention or is in neither layout
        (the message names the file, the line and the expected fields).
    DataFileError
        If a file is larger than ``max_file_bytes``, the files read add up to
        more than ``max_total_bytes``, or a file cannot be decompressed.
    InputError
        If ``depth`` looks like centimetres, no file has ``variable``, no
        sensor lies within ``depth`` (the message lists the depths found), or
        no value is left after the filters (the message counts the values
        dropped per flag).

    Warns
    -----
    InputWarning
        When values with kept flags lie outside the physical range, or
        stations have no value left after the flag filter (they are kept, all
        NaN, and named).

    Examples
    --------
    >>> ds = read_ismn("Data_separate_files_header_20200101_20201231.zip")  # doctest: +SKIP
    >>> ds.soil_moisture.sel(station="Zamarron").plot()  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"{str(path)!r} does not exist")
    top, bottom = _check_depth(depth)
    flags = _check_flags(flags)
    variable = VARIABLES.get(variable, variable)
    valid_range = _check_range(valid_range, variable)
    budget = _Budget(
        _check_limit(max_file_bytes, "max_file_bytes"),
        _check_limit(max_total_bytes, "max_total_bytes"),
    )
    sensors = _read_sensors(path, variable, budget)
    by_station = _select_depth(sensors, path, variable, top, bottom)
    keys = sorted(by_station)
    allowed = None if flags is None else frozenset(flags)
    tally = _Tally(Counter())
    table = pd.concat(
        [_station_series(by_station[k], allowed, valid_range, tally) for k in keys],
        axis=1,
        sort=True,
    )
    _report_filters(table, keys, flags, tally, variable, valid_range)
    return _dataset(table, keys, by_station, (top, bottom), flags, tally, variable, valid_range)


def _dataset(table, keys, by_station, depth, flags, tally: _Tally, variable, valid_range):
    top, bottom = depth
    data_attrs = {
        **_VARIABLE_ATTRS.get(variable, {}),
        "long_name": f"in-situ {variable.replace('_', ' ')} ({top:g}-{bottom:g} m)",
        "cell_methods": "sensor: mean",
        "valid_min": valid_range[0],
        "valid_max": valid_range[1],
        "comment": (
            f"mean of all sensors of a station whose depth interval lies within "
            f"{top:g}-{bottom:g} m; records whose ISMN quality flags are not all in "
            f"{_flags_text(flags)} dropped, values outside {valid_range[0]:g} to "
            f"{valid_range[1]:g} set to NaN"
        ),
    }
    layouts = {s.layout for k in keys for s in by_station[k]}
    values = table.to_numpy(dtype=np.float32).T
    return xr.Dataset(
        {variable: (("station", "time"), values, data_attrs)},
        coords=_coords(keys, by_station, table),
        attrs={
            "title": f"ISMN in-situ {variable.replace('_', ' ')}",
            "source": "International Soil Moisture Network (ISMN), https://ismn.earth",
            "ismn_layouts": ", ".join(sorted(layouts)),
            "ismn_flags_kept": _flags_text(flags),
            "ismn_values_dropped": _format_counts(tally.dropped),
            "ismn_values_out_of_range": tally.out_of_range,
            "depth_interval": f"{top:g}-{bottom:g} m",
            "references": (
                "Dorigo et al. (2021), The International Soil Moisture Network: serving Earth "
                "system science for over a decade, HESS 25, 5749-5804, "
                "doi:10.5194/hess-25-5749-2021"
            ),
        },
    )
