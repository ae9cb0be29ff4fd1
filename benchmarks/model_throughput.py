"""Forward throughput of the SSMNet configurations on this machine.

For each configuration, on batches of 256 x 256 tiles (L-band absent, a quarter
of the optical bands clouded), prints: parameters, FLOPs per pixel
(``torch.utils.flop_counter``: convolutions and matrix products, 2 per
multiply-add), forward throughput in megapixels per second under
``torch.inference_mode`` (fp32, and bf16 autocast when the CPU supports it;
optionally ``torch.compile`` with inductor freezing), and the achieved GFLOP/s
as a fraction of the fp32 matrix-multiply peak measured in the same run.

Other processes may share the cores. Every case is therefore timed in
``--rounds`` interleaved rounds of ``--repeats`` runs (after two warm-up runs)
and keeps its best run, as does the matmul peak: the best run is the one least
disturbed, and ratios within one run are what count.

Usage::

    python benchmarks/model_throughput.py                      # all configurations
    python benchmarks/model_throughput.py --compile atto       # + torch.compile for atto
    python benchmarks/model_throughput.py --tune-malloc        # glibc malloc: keep freed memory
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch._inductor.config
from torch.utils.flop_counter import FlopCounterMode

from xsoilmoist.model import CONFIGS, DEFAULT_CONFIG, SSMNet, build_model, random_inputs

#: Goals of the model issue for the default configuration.
GOAL_MEGAPIXELS_PER_SECOND = 1.0
GOAL_FRACTION_OF_PEAK = 0.40


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


@dataclass
class Case:
    """One configuration run one way, with its best throughput so far."""

    config: str
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


def prepare(name: str, args: argparse.Namespace, use_bf16: bool) -> list[Case]:
    """The cases of one configuration (compiling it when asked)."""
    torch.manual_seed(0)
    model = build_model(name).eval()
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
    return [
        Case(name, f"{kind} {'bf16' if bf16 else 'fp32'}", runner, bf16, **common)
        for kind, runner in runners
        for bf16 in ((False, True) if use_bf16 else (False,))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument(
        "--compile", nargs="*", default=[], metavar="CONFIG", help="also run torch.compile"
    )
    parser.add_argument("--tune-malloc", action="store_true", help="see tune_malloc()")
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
        f"{'config':7} {'params':>8} {'encoder':>8} {'kFLOP/px':>9} {'variant':14}"
        f" {'MP/s':>6} {'GFLOP/s':>8} {'% peak':>7}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        gflops = case.flops_per_pixel * case.megapixels_per_second / 1e3
        print(
            f"{case.config:7} {case.parameters['total'] / 1e6:7.2f}M"
            f" {case.parameters['encoder'] / 1e6:7.2f}M {case.flops_per_pixel / 1e3:9.1f}"
            f" {case.variant:14} {case.megapixels_per_second:6.2f} {gflops:8.1f}"
            f" {100 * gflops / peak:6.1f}%"
        )
    default = [case for case in cases if case.config == DEFAULT_CONFIG]
    if default:
        best = max(default, key=lambda case: case.megapixels_per_second)
        fraction = best.flops_per_pixel * best.megapixels_per_second / 1e3 / peak
        print(
            f"\ndefault {DEFAULT_CONFIG}: best {best.variant} "
            f"{best.megapixels_per_second:.2f} MP/s (goal {GOAL_MEGAPIXELS_PER_SECOND}), "
            f"{100 * fraction:.0f} % of fp32 peak "
            f"(goal {100 * GOAL_FRACTION_OF_PEAK:.0f} %)"
        )


if __name__ == "__main__":
    main()
