"""Where and how the model runs: device, precision and compiled kernels.

:func:`plan_runtime` turns ``predict``'s ``device``, ``precision`` and
``compile`` arguments into a :class:`Runtime` once, in the calling process;
tasks carry it (a small frozen dataclass) and ask :func:`tile_runner` for the
function that runs batches of tiles, built once per process, model, runtime
and tile shape.

- ``device="auto"``: the first CUDA GPU if torch sees one, else the CPU.
- ``precision="auto"``: bfloat16 (autocast: matrix products and convolutions
  in bfloat16, reductions and normalisations in float32) on GPUs that support
  it and, for compiled runs, on CPUs with native bfloat16 instructions
  (AVX512-BF16 or AMX); float32 elsewhere. Eager bfloat16 on the CPU is slower
  than eager float32 (autocast converts every weight at every call), so an
  eager CPU run stays in float32.
- ``compile=None``: the model exported (:func:`torch.export.export`) and
  compiled ahead of time by AOTInductor into a package (a shared library with
  the weights frozen into it) for scenes of at least
  :data:`COMPILE_MIN_PIXELS` when the disk cache holds that package, and of
  :data:`COMPILE_MIN_PIXELS_COLD` when it must be built first. Packages are
  cached on disk (:func:`compile_cache_dir`, one folder per torch version and
  model hash, one file per device, precision and tile shape); loading one
  takes milliseconds, so another process or a cluster worker never compiles
  again. A compilation that fails falls back to eager with a
  :class:`~xsoilmoist.errors.ModelWarning`.
- One forward pass at a time per process and model, on all the process's
  cores (:func:`torch_threads`): a compiled package runs its calls one after
  another anyway, and the other scheduler threads meanwhile read, standardize
  and blend blocks.

The CUDA path is the CPU path with the model and tiles placed on the GPU; it is
not measured here (no GPU on the machines the figures come from).
"""

from __future__ import annotations

import copy
import functools
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xsoilmoist.errors import DeviceError, InputError, InputTypeError, ModelWarning

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet

__all__ = [
    "COMPILE_MIN_PIXELS",
    "COMPILE_MIN_PIXELS_COLD",
    "PRECISIONS",
    "Runtime",
    "compile_cache_dir",
    "compiled_where",
    "cpu_bf16_native",
    "package_path",
    "plan_runtime",
    "resolve_device",
    "resolve_precision",
    "tile_runner",
    "torch_threads",
]

#: Values of ``precision``.
PRECISIONS = ("auto", "float32", "bfloat16")
#: Pixels (time steps x scene) from which ``compile=None`` runs the compiled package when
#: the disk cache holds it: the break-even of loading it in a fresh process (5.9 s) against
#: the time bfloat16 compiled saves over float32 eager, 5.2 MP measured by
#: benchmarks/inference.py on 2 idle cores (docs/inference.rst has the run).
COMPILE_MIN_PIXELS = 5_000_000
#: The same when the package must be built first (82 s in that run, 14 times the load).
COMPILE_MIN_PIXELS_COLD = 75_000_000
#: Environment variable overriding :func:`compile_cache_dir`'s base folder.
COMPILE_DIR_ENV = "XSOILMOIST_COMPILE_DIR"
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

_RUNNERS: dict[tuple, _TileRunner] = {}
_PLACED: dict[tuple, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Runtime:
    """How a model runs: torch device, precision and whether it is compiled.

    Examples
    --------
    >>> Runtime("cpu", "bfloat16", compiled=True).describe()
    'cpu, bfloat16, compiled'
    """

    device: str = "cpu"
    precision: str = "float32"
    compiled: bool = False

    def describe(self) -> str:
        """The runtime in words, as recorded in the result's ``runtime`` attribute."""
        return f"{self.device}, {self.precision}, {'compiled' if self.compiled else 'eager'}"


def _cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty off Linux)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.cache
def cpu_bf16_native() -> bool:
    """Whether the CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX).

    From ``/proc/cpuinfo`` on Linux, else from torch's CPU capability.

    Examples
    --------
    >>> isinstance(cpu_bf16_native(), bool)
    True
    """
    flags = _cpu_flags()
    if flags:
        return bool(flags & BF16_CPU_FLAGS)
    import torch

    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    return "AMX" in capability or "BF16" in capability


def _cuda_found() -> str:
    """What torch finds of CUDA, in words."""
    import torch

    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build (no CUDA support)"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds {count} GPU(s)"


def resolve_device(device: str = "auto") -> str:
    """The torch device ``device`` names, checked to be usable here.

    ``"auto"`` is the first CUDA GPU when torch sees one, else ``"cpu"``.

    Raises
    ------
    DeviceError
        If the device is not available (naming what torch finds) or not a
        torch device name.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise DeviceError(
            f"device {device!r} is not a torch device name ({err}); use 'auto', 'cpu', "
            "'cuda' or 'cuda:N'"
        ) from None
    if parsed.type == "cpu":
        return "cpu"
    if parsed.type == "cuda":
        index = parsed.index or 0
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise DeviceError(
                f"device {device!r} was asked for, but {_cuda_found()}; use device='cpu' or "
                "'auto', or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        return f"cuda:{index}"
    try:
        torch.empty(1, device=parsed)
    except (RuntimeError, AssertionError) as err:
        raise DeviceError(
            f"device {device!r} is not usable with torch {torch.__version__} here ({err}); "
            "use device='cpu' or 'auto'"
        ) from None
    return str(parsed)


def resolve_precision(precision: str, device: str, compiled: bool) -> str:
    """``"float32"`` or ``"bfloat16"``: what ``precision`` means on ``device``.

    ``"auto"`` is bfloat16 on a GPU that supports it, and on a CPU with
    native bfloat16 (:func:`cpu_bf16_native`) when the model is compiled;
    float32 otherwise.

    Examples
    --------
    >>> resolve_precision("float32", "cpu", compiled=True)
    'float32'
    >>> resolve_precision("auto", "cpu", compiled=False)
    'float32'
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    if device == "cpu" and compiled and cpu_bf16_native():
        return "bfloat16"
    return "float32"


def _compile_supported(device: str) -> bool:
    """Whether torch.compile's inductor can build kernels for ``device`` here."""
    import shutil

    import torch

    kind = torch.device(device).type
    if kind == "cpu":
        from torch._inductor import config

        return shutil.which(config.cpp.cxx[0] or "g++") is not None
    if kind == "cuda":
        import importlib.util

        return importlib.util.find_spec("triton") is not None
    return False


def plan_runtime(
    precision: str = "auto",
    device: str = "auto",
    compile: bool | None = None,
    pixels: int = 0,
    held: Callable[[Runtime], str | None] | None = None,
) -> Runtime:
    """The :class:`Runtime` of a prediction over ``pixels`` pixels (time steps x scene).

    ``compile=None`` compiles when inductor can build kernels for the device
    and ``held(runtime)`` says ``"process"`` (this process holds that
    compilation already), or ``pixels`` reaches :data:`COMPILE_MIN_PIXELS`
    when it says ``"disk"`` (the disk cache holds it, see :func:`compiled_where`),
    :data:`COMPILE_MIN_PIXELS_COLD` otherwise.

    Examples
    --------
    >>> plan_runtime("float32", "cpu", compile=False)
    Runtime(device='cpu', precision='float32', compiled=False)
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if compile is not None and not isinstance(compile, bool):
        raise InputTypeError(
            f"compile must be True, False or None (decide by scene size), got {compile!r}"
        )
    resolved = resolve_device(device)
    if compile is None:
        compiled = Runtime(resolved, resolve_precision(precision, resolved, True), True)
        where = held(compiled) if held is not None else None
        least = COMPILE_MIN_PIXELS if where == "disk" else COMPILE_MIN_PIXELS_COLD
        compile = (where == "process" or pixels >= least) and _compile_supported(resolved)
    return Runtime(resolved, resolve_precision(precision, resolved, compile), bool(compile))


def compile_cache_dir(sha256: str) -> Path:
    """Folder of the compiled code of the model with weights ``sha256`` for this torch.

    ``$XSOILMOIST_COMPILE_DIR`` (default: ``pooch.os_cache("xsoilmoist")/compiled``)
    / ``torch-<version>`` / the hash's first 16 characters.

    Examples
    --------
    >>> compile_cache_dir("ab" * 32).name
    'abababababababab'
    """
    import pooch
    import torch

    base = os.environ.get(COMPILE_DIR_ENV) or pooch.os_cache("xsoilmoist") / "compiled"
    return Path(base) / f"torch-{torch.__version__}" / sha256[:16]


def torch_threads() -> int:
    """Intra-op threads of this process's forward passes (one runs at a time, see above).

    On a dask-distributed worker, the worker's threads (its share of the
    machine's cores); elsewhere, every core this process may use.

    Examples
    --------
    >>> torch_threads() >= 1
    True
    """
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except (ImportError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _placed(model: SSMNet, key: Any, device: str) -> SSMNet:
    """``model`` on ``device`` (itself on the CPU, a copy elsewhere), once per process."""
    if device == "cpu":
        return model
    placed = _PLACED.get((key, device))
    if placed is None:
        placed = _PLACED[(key, device)] = copy.deepcopy(model).to(device).eval()
    return placed


class _TileRunner:
    """Runs ``(n, bands, tile, tile)`` numpy batches; pads ``n`` up to the compiled batch.

    Calls are serialized (one forward pass at a time, on all the threads torch
    was given): concurrent calls of a compiled package would run one after
    another anyway, and eager ones would only share the same cores.
    """

    def __init__(self, model: SSMNet, runtime: Runtime, batch: int) -> None:
        import torch

        self.model, self.runtime, self.batch = model, runtime, batch
        self.forward: Callable = model
        self.compile_seconds = 0.0
        self.device_type = torch.device(runtime.device).type
        self._lock = threading.Lock()

    def run(self, forward: Callable, tiles: np.ndarray, meta_row: np.ndarray) -> np.ndarray:
        import torch

        n = len(tiles)
        if self.runtime.compiled and n < self.batch:  # the package's one shape
            tiles = np.concatenate([tiles, np.repeat(tiles[-1:], self.batch - n, axis=0)])
        x = torch.from_numpy(np.ascontiguousarray(tiles)).to(self.runtime.device)
        meta = torch.from_numpy(meta_row).to(self.runtime.device).expand(len(tiles), -1)
        bf16 = self.runtime.precision == "bfloat16"
        with (
            self._lock,
            torch.inference_mode(),
            torch.autocast(self.device_type, torch.bfloat16, enabled=bf16),
        ):
            out = forward(x, meta)
        return out[:n, 0].float().cpu().numpy()

    def __call__(self, tiles: np.ndarray, meta_row: np.ndarray) -> np.ndarray:
        """Predictions ``(n, tile, tile)`` float32 for ``tiles`` and the ``(1, m)`` metadata."""
        if self.forward is self.model:
            return self.run(self.model, tiles, meta_row)
        try:
            return self.run(self.forward, tiles, meta_row)
        except Exception as err:  # any failure of the compiled code: fall back to eager
            self._fall_back(err)
            return self.run(self.model, tiles, meta_row)

    def _fall_back(self, err: Exception) -> None:
        self.forward = self.model
        warnings.warn(
            f"the compiled model failed ({type(err).__name__}: {err}); running it eagerly "
            f"({self.runtime.precision} on {self.runtime.device}) instead: same values, "
            "slower. Pass compile=False to skip compiling",
            ModelWarning,
            stacklevel=3,
        )

    def compile(self, sha256: str, tile: int, n_meta: int) -> None:
        """Load the compiled package from the disk cache (building it first if needed) and
        warm it up with a batch of zeros."""
        import torch

        path = package_path(sha256, self.runtime, tile, self.batch)
        start = time.perf_counter()
        try:
            if not path.exists():
                _build_package(self.model, self.runtime, (self.batch, tile, n_meta), path)
            index = torch.device(self.runtime.device).index
            compiled = torch._inductor.aoti_load_package(
                str(path), device_index=-1 if index is None else index
            )
            tiles = np.zeros((self.batch, self.model.config.n_bands, tile, tile), np.float32)
            self.run(compiled, tiles, np.zeros((1, n_meta), np.float32))
            self.forward = compiled
        except Exception as err:  # any compiler failure: fall back to eager
            self._fall_back(err)
        self.compile_seconds = time.perf_counter() - start


def _build_package(model: SSMNet, runtime: Runtime, shape: tuple[int, int, int], path: Path):
    """Export ``model`` for one batch shape and compile it ahead of time into ``path``.

    The precision is part of the exported program (autocast inside it) and the
    weights are frozen into the compiled code. Written beside ``path`` and
    renamed into place, so a process reading the cache never sees half a file.
    """
    import torch

    batch, tile, n_meta = shape
    device_type = torch.device(runtime.device).type
    bf16 = runtime.precision == "bfloat16"

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x, meta):
            with torch.autocast(device_type, torch.bfloat16, enabled=bf16):
                return self.model(x, meta).float()

    x = torch.zeros(batch, model.config.n_bands, tile, tile, device=runtime.device)
    meta = torch.zeros(batch, n_meta, device=runtime.device)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.pt2")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch's own deprecation notices on its internals, nothing the user can act on
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.")
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*treespec")
            program = torch.export.export(Exported().eval(), (x, meta))
            torch._inductor.aoti_compile_and_package(
                program, package_path=str(partial), inductor_configs={"freezing": True}
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def package_path(sha256: str, runtime: Runtime, tile: int, batch: int) -> Path:
    """The compiled package of the model with weights ``sha256`` for that runtime and shape.

    Examples
    --------
    >>> package_path("ab" * 32, Runtime("cpu", "bfloat16", True), 512, 1).name
    'cpu-bfloat16-1x512x512.pt2'
    """
    name = f"{runtime.device}-{runtime.precision}-{batch}x{tile}x{tile}".replace(":", "_")
    return compile_cache_dir(sha256) / f"{name}.pt2"


def compiled_where(key: Any, sha256: str, runtime: Runtime, tile: int, batch: int) -> str | None:
    """``"process"`` if this process holds that compiled runner, ``"disk"`` if the disk
    cache holds its code (a process compiled it before), else None."""
    if (key, runtime, tile, batch) in _RUNNERS:
        return "process"
    return "disk" if package_path(sha256, runtime, tile, batch).exists() else None


def tile_runner(
    model: SSMNet, key: Any, sha256: str, runtime: Runtime, tile: int, batch: int
) -> _TileRunner:
    """The function running batches of at most ``batch`` tiles of ``model`` under ``runtime``.

    Built once per process for each model ``key``, runtime and tile shape
    (compiled ones then hold their compiled code); threads asking at once
    wait for the first to build it.
    """
    cache_key = (key, runtime, tile, batch)
    with _LOCK:
        runner = _RUNNERS.get(cache_key)
        if runner is None:
            placed = _placed(model, key, runtime.device)
            runner = _TileRunner(placed, runtime, batch)
            if runtime.compiled:
                runner.compile(sha256, tile, model.config.n_metadata)
            _RUNNERS[cache_key] = runner
    return runner


def compile_seconds(key: Any, runtime: Runtime, tile: int, batch: int) -> float | None:
    """Seconds this process spent compiling (and warming up) that runner; None if not built."""
    runner = _RUNNERS.get((key, runtime, tile, batch))
    return None if runner is None else runner.compile_seconds
