"""Fault injection: interrupted and failed runs, bad schedulers, outputs that would destroy inputs.

Every test runs ``xsoilmoist predict`` (in this process, or in a subprocess to be
interrupted) on a tiny scene with the bundled default model, and checks what a
user relies on: the exit code, the message, that an earlier output is untouched
and that nothing partial carries the output's name. docs/guarantees.rst lists
these promises and points here.
"""

import hashlib
import http.server
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_inference import scene

pytest.importorskip("torch")

from xsoilmoist.cli import main
from xsoilmoist.io import is_complete

pytestmark = pytest.mark.filterwarnings("ignore::xsoilmoist.errors.InputWarning")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny scene and an earlier complete output made from it (copied per test)."""
    base = tmp_path_factory.mktemp("faults")
    scene(ny=40, nx=40, nt=2).to_zarr(base / "scene.zarr")
    assert main(["predict", str(base / "scene.zarr"), str(base / "out.zarr")]) == 0
    return base


@pytest.fixture
def work(made, tmp_path):
    for name in ("scene.zarr", "out.zarr"):
        shutil.copytree(made / name, tmp_path / name)
    return tmp_path


def snapshot(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path``: equal snapshots mean an untouched store."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {
        str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".xsoilmoist-" in p.name)


# A harness that slows every dask task down, so that an interrupt lands mid-write.
SLOW_PREDICT = """
import sys, time
from dask.callbacks import Callback
Callback(pretask=lambda key, dsk, state: time.sleep(0.05)).register()
from xsoilmoist.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigint_mid_write_leaves_the_earlier_output_untouched(work):
    before = snapshot(work / "out.zarr")
    args = ["predict", str(work / "scene.zarr"), str(work / "out.zarr"), "--overwrite"]
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_PREDICT, *args],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not any("partial" in name for name in leftovers(work)):  # the write has begun
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.05)
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "interrupted" in err
    assert snapshot(work / "out.zarr") == before
    assert is_complete(work / "out.zarr")
    assert leftovers(work) == []


def test_corrupt_input_chunk_fails_without_touching_the_output(work, capsys):
    chunk = next(
        p
        for p in sorted((work / "scene.zarr" / "vv").rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    )
    chunk.write_bytes(b"\x00garbage" * 7)
    before = snapshot(work / "out.zarr")
    code = main(["predict", str(work / "scene.zarr"), str(work / "out.zarr"), "--overwrite"])
    assert code == 5
    assert "failed while computing" in capsys.readouterr().err
    assert snapshot(work / "out.zarr") == before
    assert leftovers(work) == []


@pytest.mark.parametrize("output", ["out.zarr", "new.zarr", "out.tif"])
def test_memory_error_mid_compute_leaves_no_partial_output(work, output, capsys):
    from dask.callbacks import Callback
    from dask.utils import key_split

    def out_of_memory(key, dsk, state):  # as a block too big for memory fails
        if "ssm-tiles" in key_split(key):
            raise MemoryError("Unable to allocate 671. GiB for an array")

    target = work / output
    before = snapshot(target) if target.exists() else None
    with Callback(pretask=out_of_memory):
        code = main(["predict", str(work / "scene.zarr"), str(target), "--overwrite"])
    assert code == 5
    assert "MemoryError" in capsys.readouterr().err
    assert (snapshot(target) if target.exists() else None) == before
    assert leftovers(work) == []


def test_a_dead_scheduler_fails_fast(work, capsys):
    args = ["predict", str(work / "scene.zarr"), str(work / "o.zarr")]
    start = time.monotonic()
    code = main([*args, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "2"])
    assert code == 4
    assert time.monotonic() - start < 10
    assert "cannot reach the dask scheduler" in capsys.readouterr().err
    assert not (work / "o.zarr").exists()


def test_a_listener_that_is_not_a_dask_scheduler_fails_within_the_timeout(work, capsys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    try:
        start = time.monotonic()
        args = ["predict", str(work / "scene.zarr"), str(work / "o.zarr")]
        code = main([*args, "--scheduler", address, "--connect-timeout", "2"])
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
    assert code == 4
    assert elapsed < 2 + 3, elapsed
    err = capsys.readouterr().err
    assert "no dask scheduler answered within 2 s" in err and address in err


def test_connecting_to_a_listener_that_is_not_a_scheduler_raises_a_package_error():
    from xsoilmoist.cli import _connect
    from xsoilmoist.errors import InputError, SchedulerUnreachableError

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(SchedulerUnreachableError, match="port 8786") as caught:
            _connect(f"tcp://127.0.0.1:{server.server_address[1]}", 1.0)
    finally:
        server.shutdown()
    assert isinstance(caught.value, InputError) and isinstance(caught.value, TimeoutError)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("scene.zarr", "is the input"),
        ("scene.zarr/ssm.zarr", "is inside the input"),
        ("scene.zarr/vv/ssm.tif", "is inside the input"),
    ],
)
def test_the_output_can_never_be_the_input_or_inside_it(work, output, message, capsys):
    before = snapshot(work / "scene.zarr")
    code = main(["predict", str(work / "scene.zarr"), str(work / output), "--overwrite"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert snapshot(work / "scene.zarr") == before


def test_the_output_can_never_contain_the_input(work, capsys):
    nested = work / "out.zarr" / "scene.zarr"
    shutil.copytree(work / "scene.zarr", nested)
    code = main(["predict", str(nested), str(work / "out.zarr"), "--overwrite"])
    assert code == 2
    assert "contains the input" in capsys.readouterr().err
    assert nested.is_dir()


def test_the_same_input_through_a_link_is_recognised(work, capsys):
    (work / "link.zarr").symlink_to(work / "scene.zarr")
    code = main(["predict", str(work / "link.zarr"), str(work / "scene.zarr"), "--overwrite"])
    assert code == 2
    assert "is the input" in capsys.readouterr().err


def test_overwrite_never_replaces_what_xsoilmoist_did_not_write(work, capsys):
    folder = work / "mine.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("my thesis")
    foreign_store = work / "other.zarr"
    xr.Dataset({"a": ("x", np.arange(3))}).to_zarr(foreign_store)
    (work / "photo.tif").write_bytes(b"not a GeoTIFF")
    scene_path = str(work / "scene.zarr")
    for target, why in (
        (folder, "is a folder that is not a zarr store"),
        (foreign_store, "is a zarr store that xsoilmoist did not write"),
        (work / "photo.tif", "is not a GeoTIFF"),
    ):
        before = snapshot(target)
        assert main(["predict", scene_path, str(target), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert why in err and "only replaces an earlier xsoilmoist output" in err
        assert snapshot(target) == before
    shutil.copy(work / "photo.tif", work / "out.zarr" / "photo.tif")  # a stranger in our store
    assert main(["predict", scene_path, str(work / "out.zarr"), "--overwrite"]) == 2
    assert "holds files that are not part of the store (photo.tif)" in capsys.readouterr().err


def test_overwrite_replaces_an_earlier_output(work):
    before = snapshot(work / "out.zarr")
    assert main(["predict", str(work / "scene.zarr"), str(work / "out.zarr")]) == 2
    assert snapshot(work / "out.zarr") == before
    assert main(["predict", str(work / "scene.zarr"), str(work / "out.zarr"), "--overwrite"]) == 0
    assert is_complete(work / "out.zarr")
    assert leftovers(work) == []


def test_a_tif_into_a_missing_folder_fails_before_computing(work, monkeypatch, capsys):
    import xsoilmoist.inference

    def never(*args, **kwargs):
        raise AssertionError("predicted although the output cannot be written")

    monkeypatch.setattr(xsoilmoist.inference, "predict", never)
    target = work / "no" / "such" / "ssm.tif"
    assert main(["predict", str(work / "scene.zarr"), str(target)]) == 2
    err = capsys.readouterr().err
    assert f"the folder {str(target.parent)!r} does not exist" in err
