"""Forward throughput of the SSMNet configurations on this machine.

For each configuration, on batches of 256 x 256 tiles (L-band absent, a quarter
of the optical bands clouded), prints: parameters, FLOPs per pixel
(``torch.utils.flop_counter``: convolutions and matrix products, 2 per
multiply-add), forward throughput in megapixels per second under
``torch.inference_mode`` (fp32, and bf16 autocast when the CPU supports it;
optionally ``torch.compile`` with inductor freezing), and the achieved GFLOP/s
as a fraction of the fp32 matrix-multiply peak measured in the same run.

``--configs shipped`` measures the configuration of the model that ships with
the package (``load_card("default")``, random weights: speed does not depend on
them). The goals of the model issue are stated for the default configuration,
:data:`xsoilmoist.model.DEFAULT_CONFIG`.

With ``--statistics`` it also compares, for the default configuration, the
tile-wide statistics of the reference (``statistics_window=None``) with local
ones over several windows: eager fp32 throughput (the local statistics' window
sums are depthwise convolutions with kernels of ones, so they count as FLOPs),
and tile consistency. For the latter one structured scene (a ramp, a cloud bank
over the optical bands in one corner, L-band only in a strip at the far side)
is predicted from two 512 px tiles offset by 128 px on both axes (a multiple of
the stride 32), and the max and mean absolute difference of the two
predictions are reported over the pixels of their common part that lie at
least ``d`` px from every edge of both tiles. All variants share one set of
random weights (the initial ones, except GRN's ``gamma`` and ``beta``, drawn
from N(0, 0.5^2): at initialisation they are zero and GRN is the identity,
which would hide its statistics); the local variants drop the metadata
branch's presence inputs.

Other processes may share the cores. Every case is therefore timed in
``--rounds`` interleaved rounds of ``--repeats`` runs (after two warm-up runs)
and keeps its best run, as does the matmul peak: the best run is the one least
disturbed, and ratios within one run are what count.

Usage::

    python benchmarks/model_throughput.py                      # all configurations
    python benchmarks/model_throughput.py --configs atto shipped   # + the shipped model's
    python benchmarks/model_throughput.py --compile atto       # + torch.compile for atto
    python benchmarks/model_throughput.py --tune-malloc        # glibc malloc: keep freed memory
    python benchmarks/model_throughput.py --configs atto --statistics   # statistics windows
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch._inductor.config
from torch.utils.flop_counter import FlopCounterMode

from xsoilmoist.model import (
    CONFIGS,
    DEFAULT_CONFIG,
    SSMNet,
    SSMNetConfig,
    build_model,
    get_config,
    random_inputs,
    receptive_field,
)
from xsoilmoist.weights import load_card

#: Goals of the model issue for the default configuration.
GOAL_MEGAPIXELS_PER_SECOND = 1.0
GOAL_FRACTION_OF_PEAK = 0.40
#: ``--configs`` name of the configuration of the model that ships with the package.
SHIPPED = "shipped"
#: Statistics windows compared by ``--statistics`` (None: tile-wide, the reference).
COMPARED_WINDOWS = (None, 64, 96, 128)


def best_seconds(run: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``run`` after two warm-up calls."""
    run()
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak_gflops(
    dtype: torch.dtype = torch.float32, size: int = 2048, repeats: int = 10
) -> float:
    """Measured ``torch.matmul`` throughput on ``size x size`` matrices (GFLOP/s)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dtype)
    b = torch.randn(size, size, generator=generator).to(dtype)
    seconds = best_seconds(lambda: torch.matmul(a, b), repeats)
    return 2 * size**3 / seconds / 1e9


def bf16_supported() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def tune_malloc() -> bool:
    """Ask glibc to keep freed memory instead of returning it to the kernel at once.

    Large activations are otherwise ``mmap``-ed and unmapped at every forward, and
    the page faults on the fresh memory cost as much as some of the layers.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    m_trim_threshold, m_mmap_threshold = -1, -3
    trim_ok = libc.mallopt(m_trim_threshold, 1 << 30)
    mmap_ok = libc.mallopt(m_mmap_threshold, 32 << 20)  # the glibc maximum on 64-bit
    return bool(trim_ok and mmap_ok)


def flops_per_pixel(model: SSMNet, x: torch.Tensor, meta: torch.Tensor) -> float:
    """FLOPs of one forward pass divided by the number of input pixels."""
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(x, meta)
    return counter.get_total_flops() / (x.shape[0] * x.shape[2] * x.shape[3])


def window_label(window: int | None) -> str:
    """``"tile"`` for tile-wide statistics, else the window in pixels."""
    return "tile" if window is None else f"{window} px"


def structured_scene(config: SSMNetConfig, size: int, seed: int = 0) -> tuple:
    """A scene whose content changes across it: a ramp, a cloud bank, an L-band strip."""
    x, meta = random_inputs(config, 1, size, size, seed=seed)
    std = torch.tensor(config.band_std).view(1, -1, 1, 1)
    x = x + 2.0 * std * torch.linspace(-1.0, 1.0, size).view(1, 1, 1, -1)
    x[:, config.modality_slices["sar_l"], :, : size - size // 5] = float("nan")
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    clouds = (rows - size) ** 2 + (cols - size) ** 2 < (size // 3) ** 2  # the far corner
    x[:, config.modality_slices["optical"], clouds] = float("nan")
    return x, meta


def statistics_variants(config: SSMNetConfig, windows: tuple) -> dict[int | None, SSMNet]:
    """One random network with each statistics window, all sharing the same weights."""
    torch.manual_seed(0)
    reference = SSMNet(dataclasses.replace(config, statistics_window=None)).eval()
    with torch.no_grad():
        for name, parameter in reference.named_parameters():
            if ".grn." in name:
                parameter.normal_(0.0, 0.5)
    variants = {}
    for window in windows:
        model = SSMNet(dataclasses.replace(config, statistics_window=window)).eval()
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        # Local statistics: the metadata branch's first layer has no presence columns.
        state = {
            k: v[:, : shapes[k][1]] if v.shape != shapes[k] else v
            for k, v in reference.state_dict().items()
        }
        model.load_state_dict(state)
        variants[window] = model
    return variants


def tile_consistency(
    model: SSMNet, distances: tuple[int, ...], tile: int = 512, offset: int = 128
) -> list[tuple[float, float]]:
    """Max and mean |difference| of two overlapping tiles' predictions, by distance to edges.

    Tile A covers ``[0, tile)`` of :func:`structured_scene` on both axes, tile B
    ``[offset, offset + tile)``. For each ``d`` in ``distances``: the pixels of
    their common part ``[offset, tile)`` at least ``d`` px from every tile edge.
    """
    x, meta = structured_scene(model.config, tile + offset)
    with torch.inference_mode():
        a = model(x[..., :tile, :tile], meta)[0, 0, offset:, offset:]
        b = model(x[..., offset:, offset:], meta)[0, 0, : tile - offset, : tile - offset]
    difference = (a - b).abs()
    results = []
    for d in distances:
        inner = difference[d : difference.shape[0] - d, d : difference.shape[1] - d]
        results.append((float(inner.max()), float(inner.mean())))
    return results


@dataclass
class Case:
    """One configuration run one way, with its best throughput so far."""

    config: str
    statistics: str
    variant: str
    runner: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    bf16: bool
    x: torch.Tensor
    meta: torch.Tensor
    parameters: dict[str, int]
    flops_per_pixel: float
    megapixels_per_second: float = 0.0

    def measure(self, repeats: int) -> None:
        """Time the forward pass; keep the best throughput seen."""

        def run() -> None:
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                self.runner(self.x, self.meta)

        pixels = self.x.shape[0] * self.x.shape[2] * self.x.shape[3]
        mpx = pixels / best_seconds(run, repeats) / 1e6
        self.megapixels_per_second = max(self.megapixels_per_second, mpx)


def prepare(
    name: str, args: argparse.Namespace, use_bf16: bool, config: SSMNetConfig | None = None
) -> list[Case]:
    """The cases of one configuration (compiling it when asked); ``config`` overrides ``name``."""
    torch.manual_seed(0)
    if config is None and name == SHIPPED:
        config = SSMNetConfig.from_dict(load_card("default").config)
    model = build_model(config or name).eval()
    x, meta = random_inputs(model.config, args.batch, args.tile, args.tile, absent=("sar_l",))
    half = args.tile // 2
    x[:, model.config.modality_slices["optical"], :half, :half] = float("nan")  # clouds
    common = {
        "x": x,
        "meta": meta,
        "parameters": model.parameter_counts(),
        "flops_per_pixel": flops_per_pixel(model, x, meta),
    }
    runners = [("eager", model)]
    if name in args.compile:
        # Freezing folds the weights into the graph and pre-packs them for oneDNN.
        torch._inductor.config.freezing = True
        compiled = torch.compile(model)
        for bf16 in (False, True) if use_bf16 else (False,):
            start = time.perf_counter()
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                compiled(x, meta)
            seconds = time.perf_counter() - start
            print(f"{name}: torch.compile warm-up ({'bf16' if bf16 else 'fp32'}) {seconds:.0f} s")
        runners.append(("compiled", compiled))
    statistics = window_label(model.config.statistics_window)
    return [
        Case(name, statistics, f"{kind} {'bf16' if bf16 else 'fp32'}", runner, bf16, **common)
        for kind, runner in runners
        for bf16 in ((False, True) if use_bf16 else (False,))
    ]


def print_tile_consistency(distances: tuple[int, ...] = (32, 64, 128, 176)) -> None:
    """The ``--statistics`` table: tile consistency of each statistics window."""
    config = get_config(DEFAULT_CONFIG)
    print(
        f"\ntile consistency ({DEFAULT_CONFIG}, shared random weights): 512 px tiles offset by "
        "128 px;\nmax / mean |difference| (m3/m3) over their common part, >= d px from every edge"
    )
    print(f"{'stats':>6} {'radius':>7}" + "".join(f"{f'd >= {d}':>21}" for d in distances))
    for window, model in statistics_variants(config, COMPARED_WINDOWS).items():
        field = receptive_field(model.config)
        radius = "tile" if field.tile_wide_statistics else str(field.radius)
        cells = "".join(
            f"{worst:11.1e} /{mean:8.1e}" for worst, mean in tile_consistency(model, distances)
        )
        print(f"{window_label(window):>6} {radius:>7}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = [*CONFIGS, SHIPPED]
    parser.add_argument("--configs", nargs="+", default=names, choices=names)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument(
        "--compile", nargs="*", default=[], choices=names, help="also run torch.compile"
    )
    parser.add_argument("--tune-malloc", action="store_true", help="see tune_malloc()")
    parser.add_argument(
        "--statistics",
        action="store_true",
        help=f"compare statistics windows {[window_label(w) for w in COMPARED_WINDOWS]} "
        f"for {DEFAULT_CONFIG} (eager fp32 throughput and tile consistency)",
    )
    args = parser.parse_args()

    malloc = "tuned" if args.tune_malloc and tune_malloc() else "default"
    use_bf16 = bf16_supported()
    peak = matmul_peak_gflops()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{torch.backends.cpu.get_cpu_capability()}, bf16 {'yes' if use_bf16 else 'no'}, "
        f"malloc {malloc}"
    )
    print(
        f"batch {args.batch} x {args.tile} x {args.tile} px, "
        f"best of {args.rounds} rounds x {args.repeats} runs"
    )

    cases = [case for name in args.configs for case in prepare(name, args, use_bf16)]
    if args.statistics:
        default = get_config(DEFAULT_CONFIG)
        for window in COMPARED_WINDOWS:
            if window != default.statistics_window:
                config = dataclasses.replace(default, statistics_window=window)
                cases += prepare(DEFAULT_CONFIG, args, False, config)
    peaks = [matmul_peak_gflops()]
    for _ in range(args.rounds):  # interleaved, so a burst of load cannot spoil one case only
        for case in cases:
            case.measure(args.repeats)
        peaks.append(matmul_peak_gflops())
    peak = max(peaks)
    print(f"fp32 matmul peak (2048 x 2048, best of {len(peaks)} x 10): {peak:.0f} GFLOP/s")
    if use_bf16:  # context only: the goal is stated against the fp32 peak
        bf16_peak = matmul_peak_gflops(torch.bfloat16)
        print(f"bf16 matmul peak (for comparison, not the reference): {bf16_peak:.0f} GFLOP/s")
    print()

    header = (
        f"{'config':7} {'stats':>6} {'params':>8} {'encoder':>8} {'kFLOP/px':>9} {'variant':14}"
        f" {'MP/s':>6} {'GFLOP/s':>8} {'% peak':>7}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        gflops = case.flops_per_pixel * case.megapixels_per_second / 1e3
        print(
            f"{case.config:7} {case.statistics:>6} {case.parameters['total'] / 1e6:7.2f}M"
            f" {case.parameters['encoder'] / 1e6:7.2f}M {case.flops_per_pixel / 1e3:9.1f}"
            f" {case.variant:14} {case.megapixels_per_second:6.2f} {gflops:8.1f}"
            f" {100 * gflops / peak:6.1f}%"
        )
    default_window = window_label(get_config(DEFAULT_CONFIG).statistics_window)
    default = [
        case
        for case in cases
        if case.config == DEFAULT_CONFIG and case.statistics == default_window
    ]
    if default:
        best = max(default, key=lambda case: case.megapixels_per_second)
        fraction = best.flops_per_pixel * best.megapixels_per_second / 1e3 / peak
        print(
            f"\ndefault {DEFAULT_CONFIG}: best {best.variant} "
            f"{best.megapixels_per_second:.2f} MP/s (goal {GOAL_MEGAPIXELS_PER_SECOND}), "
            f"{100 * fraction:.0f} % of fp32 peak "
            f"(goal {100 * GOAL_FRACTION_OF_PEAK:.0f} %)"
        )
    if args.statistics:
        print_tile_consistency()


if __name__ == "__main__":
    main()
