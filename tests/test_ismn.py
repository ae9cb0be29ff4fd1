"""The ISMN reader, on small files written here in both ISMN layouts (ISMN data may not be
redistributed)."""

import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
import xarray as xr

from xsoilmoist.errors import DataFileError, InputError, InputWarning
from xsoilmoist.ismn import MAX_FILE_BYTES, ISMNFormatError, read_ismn


def _file_name(network, station, variable, depth_from, depth_to, sensor):
    return (
        f"{network}_{network}_{station}_{variable}_{depth_from:.6f}_{depth_to:.6f}_{sensor}"
        "_20200101_20200102.stm"
    )


def write_header_values(folder, network, station, position, depths, sensor, records, var="sm"):
    """An ISMN 'Header+values' file: a header line, then ``date time value flag provider``."""
    lat, lon, elev = position
    path = folder / network / station / _file_name(network, station, var, *depths, sensor)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"{network}     {network}          {station}             {lat:.5f}   {lon:.5f}"
        f"  {elev:.2f}    {depths[0]:.4f}    {depths[1]:.4f} '{sensor}'"
    )
    lines = [f"{time}   {value:.4f} {flag} M" for time, value, flag in records]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def write_ceop(folder, network, station, position, depths, sensor, records):
    """An ISMN 'CEOP formatted' file: 15 fields per record, no header."""
    lat, lon, elev = position
    path = folder / network / station / _file_name(network, station, "sm", *depths, sensor)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{time} {time} {network}     {network}          {station}             {lat:.5f}"
        f"   {lon:.5f}  {elev:.2f}    {depths[0]:.2f}    {depths[1]:.2f}   {value:.4f} {flag} M"
        for time, value, flag in records
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


ALPHA = (41.24100, -5.54300, 855.0)
BETA = (36.60540, -97.48780, 322.0)


@pytest.fixture
def ismn_download(tmp_path):
    """An unzipped ISMN download (folder) and the same as a zip archive."""
    root = tmp_path / "Data_separate_files_header_20200101_20200102"
    # Alpha, Header+values: two sensors at 5 cm, one at 10 cm, and a soil temperature
    write_header_values(
        root,
        "TESTNET",
        "Alpha",
        ALPHA,
        (0.05, 0.05),
        "ThetaProbe-ML2X_A",
        [
            ("2020/01/01 00:00", 0.20, "G"),
            ("2020/01/01 01:00", 0.22, "D01"),
            ("2020/01/01 02:00", 0.24, "D01,D03"),
            ("2020/01/01 03:00", 0.26, "G"),
        ],
    )
    write_header_values(
        root,
        "TESTNET",
        "Alpha",
        ALPHA,
        (0.05, 0.05),
        "ThetaProbe-ML2X_B",
        [("2020/01/01 00:00", 0.30, "G"), ("2020/01/01 04:00", 0.32, "G")],
    )
    write_header_values(
        root,
        "TESTNET",
        "Alpha",
        ALPHA,
        (0.10, 0.10),
        "ThetaProbe-ML2X_A",
        [("2020/01/01 00:00", 0.35, "G"), ("2020/01/01 01:00", 0.36, "G")],
    )
    write_header_values(
        root,
        "TESTNET",
        "Alpha",
        ALPHA,
        (0.05, 0.05),
        "ThetaProbe-ML2X_A",
        [("2020/01/01 00:00", 11.5, "G")],
        var="ts",
    )
    # Beta, CEOP formatted, 0-5 cm, a sensor name with underscores
    write_ceop(
        root,
        "OTHERNET",
        "Beta",
        BETA,
        (0.0, 0.05),
        "Hydraprobe-II_Sdi-12_1",
        [
            ("2020/01/01 01:00", 0.10, "G"),
            ("2020/01/01 02:00", 0.11, "C01"),
            ("2020/01/01 05:00", 0.12, "G"),
        ],
    )
    (root / "TESTNET" / "Alpha" / "TESTNET_TESTNET_Alpha_static_variables.csv").write_text(
        "quantity_name;unit;depth_from[m];depth_to[m];value;description;quantity_source_name\n"
    )
    (root / "Readme.txt").write_text("ISMN download\n")
    archive = tmp_path / "ismn.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in sorted(root.rglob("*")):
            z.write(file, file.relative_to(root).as_posix())
    return root, archive


def test_folder_is_read_with_coords_units_and_sensor_mean(ismn_download):
    folder, _ = ismn_download
    ds = read_ismn(folder)
    sm = ds["soil_moisture"]
    assert sm.dims == ("station", "time")
    assert sm.dtype == np.float32
    assert sm.attrs["units"] == "m3 m-3"
    assert sm.attrs["standard_name"] == "volume_fraction_of_condensed_water_in_soil"
    assert sm.attrs["cell_methods"] == "sensor: mean"
    assert ds["station"].values.tolist() == ["Beta", "Alpha"]  # sorted by network, station
    assert ds["network"].values.tolist() == ["OTHERNET", "TESTNET"]
    np.testing.assert_allclose(ds["lat"], [BETA[0], ALPHA[0]])
    np.testing.assert_allclose(ds["lon"], [BETA[1], ALPHA[1]])
    np.testing.assert_allclose(ds["elevation"], [BETA[2], ALPHA[2]])
    np.testing.assert_allclose(ds["depth_from"], [0.0, 0.05])
    np.testing.assert_allclose(ds["depth_to"], [0.05, 0.05])
    assert ds["n_sensors"].values.tolist() == [1, 2]
    assert ds["sensor"].values.tolist() == [
        "Hydraprobe-II_Sdi-12_1",
        "ThetaProbe-ML2X_A; ThetaProbe-ML2X_B",
    ]
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    # union of the kept timestamps (02:00 is flagged everywhere); the 10 cm sensor and
    # soil temperature are not read
    hours = (ds["time"].values - np.datetime64("2020-01-01")) // np.timedelta64(1, "h")
    assert hours.tolist() == [0, 1, 3, 4, 5]
    nan = np.nan
    expected = [
        [nan, 0.10, nan, nan, 0.12],  # Beta: C01 at 02:00 dropped
        [0.25, nan, 0.26, 0.32, nan],  # Alpha: mean of 0.20 and 0.30 at 00:00; D01 dropped
    ]
    np.testing.assert_allclose(sm.values, np.array(expected, dtype=np.float32))
    assert ds.attrs["ismn_flags_kept"] == "G, U"
    assert ds.attrs["ismn_values_dropped"] == "D01: 2, C01: 1, D03: 1"
    assert ds.attrs["ismn_values_out_of_range"] == 0
    assert (sm.attrs["valid_min"], sm.attrs["valid_max"]) == (0.0, 1.0)
    assert ds.attrs["ismn_layouts"] == "ceop_sep, header_values"


def test_zip_archive_reads_as_the_unzipped_folder(ismn_download):
    folder, archive = ismn_download
    xr.testing.assert_identical(read_ismn(archive), read_ismn(folder))


def test_a_record_is_kept_only_if_all_its_flags_are_allowed(ismn_download):
    folder, _ = ismn_download
    alpha = read_ismn(folder, flags=("G", "D01"))["soil_moisture"].sel(station="Alpha")
    assert float(alpha.sel(time="2020-01-01T01:00")) == pytest.approx(0.22)
    assert np.datetime64("2020-01-01T02:00") not in alpha["time"].values  # D03 not allowed
    alpha = read_ismn(folder, flags=["G", "D01", "D03"])["soil_moisture"].sel(station="Alpha")
    assert float(alpha.sel(time="2020-01-01T02:00")) == pytest.approx(0.24)


def test_depth_selects_sensors_whose_interval_lies_within(ismn_download):
    folder, _ = ismn_download
    deeper = read_ismn(folder, depth=(0.06, 0.10))
    assert deeper["station"].values.tolist() == ["Alpha"]
    np.testing.assert_allclose(deeper["soil_moisture"].values, [[0.35, 0.36]], rtol=1e-6)
    np.testing.assert_allclose(deeper["depth_from"], [0.10])
    both = read_ismn(folder, depth=(0.0, 0.10))
    assert both["n_sensors"].sel(station="Alpha") == 3


def test_single_files_in_each_layout(ismn_download):
    folder, _ = ismn_download
    ceop = next((folder / "OTHERNET" / "Beta").glob("*.stm"))
    beta = read_ismn(ceop)
    assert beta["station"].values.tolist() == ["Beta"]
    assert beta.attrs["ismn_layouts"] == "ceop_sep"
    np.testing.assert_allclose(beta["soil_moisture"].values, [[0.10, 0.12]], rtol=1e-6)
    temperature = read_ismn(folder, variable="ts")
    assert "soil_temperature" in temperature
    assert temperature["soil_temperature"].attrs["units"] == "degC"
    np.testing.assert_allclose(temperature["soil_temperature"], [[11.5]])


def test_same_station_name_in_two_networks_is_qualified(tmp_path):
    records = [("2020/01/01 00:00", 0.2, "G")]
    write_header_values(tmp_path, "NETA", "Farm", ALPHA, (0.05, 0.05), "P", records)
    write_header_values(tmp_path, "NETB", "Farm", BETA, (0.05, 0.05), "P", records)
    write_header_values(tmp_path, "NETB", "Hill", BETA, (0.05, 0.05), "P", records)
    ds = read_ismn(tmp_path)
    assert ds["station"].values.tolist() == ["NETA/Farm", "NETB/Farm", "Hill"]


def test_no_files_or_no_path_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no ISMN data files \(\*\.stm\)"):
        read_ismn(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_ismn(tmp_path / "missing.zip")


def test_a_bad_record_names_the_file_line_and_expected_fields(ismn_download):
    folder, _ = ismn_download
    path = next((folder / "TESTNET" / "Alpha").glob("*_sm_0.050000_0.050000_*_B_*.stm"))
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, "2020/01/01 05:00 wet G M"]) + "\n")
    with pytest.raises(ISMNFormatError, match=r"line 4: expected 'yyyy/mm/dd HH:MM value") as err:
        read_ismn(folder)
    assert path.name in str(err.value) and "'2020/01/01 05:00 wet G M'" in str(err.value)
    for short_or_long in ["2020/01/01 05:00 0.3", "2020/01/01 05:00 0.3 G M x y"]:
        path.write_text("\n".join([*lines[:2], short_or_long, lines[2]]) + "\n")
        with pytest.raises(ISMNFormatError, match="line 3"):
            read_ismn(path)
    path.write_text("TESTNET TESTNET Alpha north west 855 0.05 0.05\n" + "\n".join(lines[1:]))
    with pytest.raises(ISMNFormatError, match=r"line 1: expected .*Header\+values header"):
        read_ismn(path)


def test_a_file_named_against_the_convention_or_in_old_ceop_is_refused(tmp_path):
    bad = tmp_path / "station_data.stm"
    bad.write_text("TESTNET TESTNET Alpha 41.2 -5.5 855 0.05 0.05\n2020/01/01 00:00 0.2 G M\n")
    with pytest.raises(ISMNFormatError, match="ISMN naming convention"):
        read_ismn(tmp_path)
    bad.unlink()
    static = tmp_path / "TESTNET_TESTNET_Alpha_static_variables.csv"
    static.write_text("quantity_name;unit;depth_from[m];depth_to[m];value\n")
    with pytest.raises(ISMNFormatError, match=r"not an ISMN data file \(\*\.stm\)"):
        read_ismn(static)
    old = tmp_path / "TESTNET_TESTNET_Alpha_20200101_20200102.stm"
    old.write_text(" ".join(["x"] * 16) + "\n")
    with pytest.raises(ISMNFormatError, match="old station-wise 'CEOP reference' format"):
        read_ismn(old)


def test_no_sensor_at_the_depth_lists_the_depths_found(ismn_download):
    folder, _ = ismn_download
    with pytest.raises(ValueError, match=r"within 0.2-0.3 m; depth .* 0-0.05, 0.05-0.05, 0.1-0.1"):
        read_ismn(folder, depth=(0.2, 0.3))
    with pytest.raises(ValueError, match=r"no 'snow_depth' files .* soil_moisture \(4 files\)"):
        read_ismn(folder, variable="snow_depth")
    with pytest.raises(ValueError, match="0 <= from <= to"):
        read_ismn(folder, depth=(0.05, 0.0))


def test_nothing_left_after_flags_counts_the_drops_per_flag(ismn_download):
    folder, _ = ismn_download
    with pytest.raises(InputError, match=r"no soil_moisture value is left") as err:
        read_ismn(folder, flags=("M",))
    message = str(err.value)
    assert "G: 6, D01: 2, C01: 1, D03: 1" in message
    assert "flags=('M', 'G')" in message


def _records(values, flag="G"):
    return [(f"2020/01/01 {hour:02d}:00", value, flag) for hour, value in enumerate(values)]


def test_a_zip_bomb_is_refused_before_it_is_decompressed(tmp_path):
    """A 0.25 MB zip holding one 100 MB station file: refused from the archive's directory."""
    archive = tmp_path / "bomb.zip"
    name = "NET/Bomb/" + _file_name("NET", "Bomb", "sm", 0.05, 0.05, "P")
    line = b"2020/01/01 00:00   0.2000 G M\n"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(name, "w", force_zip64=True) as member:
            member.write(b"NET NET Bomb 41.2 -5.5 855.0 0.05 0.05 P\n")
            block = line * (2**20 // len(line))
            for _ in range(100):
                member.write(block)
    assert archive.stat().st_size < 0.3 * 2**20
    assert zipfile.ZipFile(archive).infolist()[0].file_size > 99 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError, match=r"over the limit of 64.0 MiB per ISMN data file"):
            read_ismn(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # nothing was decompressed
    assert MAX_FILE_BYTES == 64 * 2**20


def test_byte_limits_per_file_and_in_total_are_documented_and_overridable(ismn_download):
    folder, archive = ismn_download
    sizes = sorted(p.stat().st_size for p in folder.rglob("*_sm_*.stm"))
    with pytest.raises(DataFileError, match=r"per ISMN data file .* max_file_bytes=") as err:
        read_ismn(archive, max_file_bytes=sizes[-1] - 1)
    assert "ismn.zip!" in str(err.value)
    with pytest.raises(DataFileError, match=r"in total, so it is not read.* max_total_bytes="):
        read_ismn(folder, max_total_bytes=sum(sizes) - 1)
    exact = read_ismn(folder, max_file_bytes=sizes[-1], max_total_bytes=sum(sizes))
    xr.testing.assert_identical(exact, read_ismn(folder))
    with pytest.raises(InputError, match="max_total_bytes must be a positive number of bytes"):
        read_ismn(folder, max_total_bytes=0)


def test_a_damaged_zip_member_is_a_data_file_error(ismn_download):
    _, archive = ismn_download
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = next(i for i in z.infolist() if "Beta" in i.filename and i.filename.endswith("stm"))
    start = info.header_offset + 30 + len(info.filename.encode())
    data[start + 5 : start + 25] = bytes(20)  # stored (not compressed): the CRC no longer matches
    archive.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"cannot be read .* download it again"):
        read_ismn(archive)


def test_depth_is_in_metres_and_centimetres_are_refused_or_explicit(ismn_download):
    folder, _ = ismn_download
    with pytest.raises(InputError, match=r"depth is in metres: \(0, 5\) .* depth=\(0.0, 0.05\)"):
        read_ismn(folder, depth=(0, 5))
    in_cm = read_ismn(folder, depth=("0 cm", "5 cm"))
    xr.testing.assert_identical(in_cm, read_ismn(folder))
    explicit = read_ismn(folder, depth=("0 m", "5 m"))  # units given: 5 m is meant
    assert explicit["n_sensors"].sel(station="Alpha") == 3
    assert read_ismn(folder, depth=(0.0, 0.1))["n_sensors"].sel(station="Alpha") == 3
    for bad in [(0.0,), "0-5 cm", ("0 cm", "5 kg"), (0.0, float("nan"))]:
        with pytest.raises(InputError, match="depth must"):
            read_ismn(folder, depth=bad)


def test_values_outside_the_physical_range_are_dropped_even_if_flagged_good(tmp_path):
    records = _records([0.21, -9999.0, 0.23, 1.2, 0.0, 1.0])
    write_header_values(tmp_path, "NET", "Fill", ALPHA, (0.05, 0.05), "P", records)
    with pytest.warns(InputWarning, match=r"2 soil_moisture values outside .* 0 to 1 m3 m-3"):
        ds = read_ismn(tmp_path)
    np.testing.assert_allclose(ds["soil_moisture"].values, [[0.21, 0.23, 0.0, 1.0]], rtol=1e-6)
    assert ds.attrs["ismn_values_out_of_range"] == 2
    with pytest.warns(InputWarning, match="4 soil_moisture values outside"):
        narrow = read_ismn(tmp_path, valid_range=(0.01, 0.5))
    np.testing.assert_allclose(narrow["soil_moisture"].values, [[0.21, 0.23]], rtol=1e-6)


def test_networks_flagging_u_are_kept_by_default_and_flags_none_keeps_every_value(tmp_path):
    unchecked = _records([0.30, 0.31], flag="U")
    good = [*_records([0.10, 0.12, 0.14]), ("2020/01/01 05:00", 0.2, "D06")]
    write_header_values(tmp_path, "UNET", "Open", ALPHA, (0.05, 0.05), "P", unchecked)
    write_header_values(tmp_path, "GNET", "Good", BETA, (0.05, 0.05), "P", good)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = read_ismn(tmp_path)
    np.testing.assert_allclose(
        ds["soil_moisture"].sel(station="Open").dropna("time").values, [0.30, 0.31], rtol=1e-6
    )
    with pytest.warns(InputWarning, match=r"1 station\(s\) have no .* flags G .*: UNET/Open"):
        only_good = read_ismn(tmp_path, flags="G")
    assert only_good["station"].values.tolist() == ["Good", "Open"]  # kept, all NaN
    assert only_good["soil_moisture"].sel(station="Open").isnull().all()
    everything = read_ismn(tmp_path, flags=None)
    assert everything.attrs["ismn_flags_kept"] == "all (no flag filter)"
    assert int(everything["soil_moisture"].notnull().sum()) == 6
    with pytest.raises(InputError, match=r"flags must be ISMN quality flags.* or None"):
        read_ismn(tmp_path, flags=5)
    with pytest.raises(InputError, match=r"at least one ISMN quality flag"):
        read_ismn(tmp_path, flags=[])


def test_a_member_holding_more_than_its_archive_declares_is_refused(ismn_download):
    """A forged archive that declares a small size to slip under the limit is not trusted."""
    _, archive = ismn_download
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = next(i for i in z.infolist() if "Beta" in i.filename and i.filename.endswith("stm"))
    name = info.filename.encode()
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    for offset in (info.header_offset + 22, central + 24):  # local and central uncompressed size
        data[offset : offset + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises(DataFileError, match=r"Beta.* cannot be read .*CRC"):
        read_ismn(archive)
