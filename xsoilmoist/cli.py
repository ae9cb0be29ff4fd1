"""The ``xsoilmoist`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["EXIT_CODES", "main"]

EXIT_PROBLEMS, EXIT_INPUT, EXIT_MODEL, EXIT_SCHEDULER, EXIT_COMPUTE = 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
EXIT_CODES = """exit codes:
  0    success
  1    the input has problems (check)
  2    bad arguments or input: missing file, unreadable scene, missing modalities,
       output exists or may not be replaced (usage errors too)
  3    the model is not available, fails its hash check, or does not fit its card
  4    the dask scheduler cannot be reached
  5    the computation failed (retrying may help)
  130  interrupted"""


def _demo(args: argparse.Namespace) -> int:
    from xsoilmoist.demo import run_demo

    run_demo(args.output, site=args.site, model=args.model)
    return 0


def _rename_pair(text: str) -> tuple[str, str]:
    """One ``--rename OLD=NEW`` argument."""
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise argparse.ArgumentTypeError(f"takes OLD=NEW, got {text!r}")
    return old, new


def _no_bands(report, source: str) -> str | None:
    """Why a scene in which no band of any modality was recognised cannot be used, or None."""
    from xsoilmoist.catalogue import MODALITY_BANDS, lookup_alias

    if report.plan.problems or any(s != "missing" for s in report.modalities.values()):
        return None  # the report names what was found and what is wrong
    known = report.plan.sources.keys() | report.plan.derivable.keys()
    missing = [name for names in MODALITY_BANDS.values() for name in names if name not in known]
    found = report.plan.unrecognised
    products = [n for n in found if lookup_alias(str(n).rsplit("_", 1)[-1]) is not None]
    message = (
        f"no band of any modality was recognised in {source!r} (missing: {', '.join(missing)}; "
        f"variables found: {', '.join(map(str, found)) or 'none'})"
    )
    if products:
        bands = sorted({str(n).rsplit("_", 1)[-1] for n in products})
        return (
            f"{message}. Its files look like per-band product files ({', '.join(bands)}): "
            f"build one scene from them with `xsoilmoist assemble {source} scene.zarr`, "
            "or name the bands with --rename OLD=NEW"
        )
    return f"{message}; name the bands with --rename OLD=NEW (e.g. --rename sigma0=vv)"


def _check(args: argparse.Namespace) -> int:
    from xsoilmoist.io import open_scene
    from xsoilmoist.report import check

    report = check(
        open_scene(args.scene),
        rename=dict(args.rename or []) or None,
        processing_baseline=args.processing_baseline,
        valid_fraction=args.valid_fraction,
    )
    print(report)
    problem = _no_bands(report, args.scene)
    if problem is not None:
        print(f"xsoilmoist check: {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    return 0 if report.ok else EXIT_PROBLEMS


def _models(args: argparse.Namespace) -> int:
    from xsoilmoist.weights import describe_models

    rows = describe_models()
    if not rows:
        print("no models available: none is bundled with this version and the registry lists none")
        return 0
    table = [("name", "size", "config", "cached", "modalities", "metrics")]
    for row in rows:
        table.append(
            (
                row["name"],
                f"{row['size'] / 1e6:.1f} MB",
                row["config"],
                row["cached"],
                ",".join(row["modalities"]),
                _headline_metrics(row["metrics"]),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]) - 1)]
    for line in table:
        cells = [
            f"{cell:>{w}}" if i == 1 else f"{cell:<{w}}"
            for i, (cell, w) in enumerate(zip(line, widths, strict=False))
        ]
        print("  ".join([*cells, line[-1]]))
    return 0


def _headline_metrics(metrics: dict) -> str:
    """``truth R2 0.934 RMSE 0.0241; stations ...``: the scores of each evaluated target."""
    parts = [
        f"{target} R2 {scores['r2']:.3f} RMSE {scores['rmse']:.4f}"
        for target, scores in metrics.items()
        if isinstance(scores, dict) and {"r2", "rmse"} <= scores.keys()
    ]
    return "; ".join(parts) or "-"


def _connect(address: str, timeout: float):
    """A dask-distributed client; OSError if connect and handshake take over ``timeout`` s.

    ``Client(timeout=...)`` bounds the TCP connect but not the dask handshake
    that follows (a listener that is not a scheduler, such as the dashboard or
    any HTTP server, accepts the connection and never answers: dask/distributed
    issue 8071). So the handshake is tried first under a wall-clock deadline,
    and the client gets the time left.
    """
    import asyncio

    from distributed import Client
    from distributed.comm import connect
    from distributed.security import Security

    from xsoilmoist.errors import SchedulerUnreachableError

    tls = Security().get_connection_args("client")  # as the client will: dask's TLS config

    async def handshake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=timeout, **tls), timeout)
        await comm.close()

    start = time.monotonic()
    try:
        asyncio.run(handshake())
    except asyncio.TimeoutError:
        raise SchedulerUnreachableError(
            f"no dask scheduler answered within {timeout:g} s: something may listen there "
            "but does not speak dask's protocol (the dashboard, another service?); a "
            "scheduler usually listens on port 8786"
        ) from None
    remaining = max(timeout - (time.monotonic() - start), 1.0)
    return Client(address, timeout=f"{remaining}s")


def _predict(args: argparse.Namespace) -> int:
    from xsoilmoist.errors import InputError
    from xsoilmoist.inference import predict
    from xsoilmoist.io import check_output, open_scene, write_result
    from xsoilmoist.report import check

    check_output(args.output, overwrite=args.overwrite, inputs=[args.input])
    client = None
    if args.scheduler:
        try:
            client = _connect(args.scheduler, args.connect_timeout)
        except OSError as err:
            print(
                f"xsoilmoist predict: error: cannot reach the dask scheduler at "
                f"{args.scheduler!r} ({err})",
                file=sys.stderr,
            )
            return EXIT_SCHEDULER
    try:
        scene = open_scene(args.input)
        options = {
            "rename": dict(args.rename or []) or None,
            "processing_baseline": args.processing_baseline,
        }
        problem = _no_bands(check(scene, **options), args.input)
        if problem is not None:
            raise InputError(problem)
        ssm = predict(
            scene,
            args.model,
            tile=args.tile,
            overlap=args.overlap,
            date=args.date,
            precision=args.precision,
            device=args.device,
            mask_conditions=not args.keep_conditions,
            **options,
        )
        written = write_result(
            ssm,
            args.output,
            overwrite=args.overwrite,
            progress=args.progress,
            inputs=[args.input],
        )
    finally:
        if client is not None:
            client.close()
    print(f"wrote {written}: soil moisture {dict(ssm.sizes)} with model {ssm.attrs['model']}")
    return 0


def _assemble(args: argparse.Namespace) -> int:
    from xsoilmoist.assembly import assemble
    from xsoilmoist.errors import InputError
    from xsoilmoist.io import write_result

    if not args.output.lower().endswith(".zarr"):
        raise InputError(f"assemble writes a .zarr store, got {args.output!r}")
    scene = assemble(
        *args.sources,
        time_tolerance=args.time_tolerance,
        rename=dict(args.rename or []) or None,
        processing_baseline=args.processing_baseline,
        units=dict(args.units or []) or None,
    )
    written = write_result(
        scene, args.output, overwrite=args.overwrite, progress=args.progress, inputs=args.sources
    )
    print(f"wrote {written}: {len(scene.data_vars)} bands {dict(scene.sizes)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from xsoilmoist.training import TrainingConfigError, run_training_recipe

    try:
        weights = run_training_recipe(
            args.recipe, progress=not args.quiet, overwrite=args.overwrite
        )
    except TrainingConfigError as err:
        print(f"xsoilmoist train: error in {args.recipe}: {err}", file=sys.stderr)
        return EXIT_INPUT
    print(f"wrote {weights} and its model card {weights.with_suffix('.json')}")
    return 0


def _add_standardize_options(parser: argparse.ArgumentParser, *, date: bool) -> None:
    """The options of :func:`xsoilmoist.standardize` that ``check`` and ``predict`` pass on."""
    parser.add_argument("--processing-baseline", help="Sentinel-2 processing baseline, e.g. 04.00")
    parser.add_argument(
        "--rename",
        action="append",
        metavar="OLD=NEW",
        type=_rename_pair,
        help="read variable OLD as band NEW, e.g. --rename sigma0=vv (repeatable)",
    )
    if date:
        parser.add_argument(
            "--date", help="acquisition date (YYYY-MM-DD) of a scene without a time coordinate"
        )


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="run the demonstration on the real sample data")
    demo.add_argument("--output", default="xsoilmoist-demo", help="output folder")
    demo.add_argument("--site", default=0, help="BigEarthNet site index or patch name")
    demo.add_argument("--model", default="default", help="model name or .safetensors path")
    demo.set_defaults(func=_demo)


def _add_check(sub) -> None:
    chk = sub.add_parser("check", help="report the modalities and units found in a scene")
    chk.add_argument("scene", help="zarr store, netCDF file, GeoTIFF/VRT or folder of GeoTIFFs")
    _add_standardize_options(chk, date=False)
    chk.add_argument(
        "--valid-fraction", action="store_true", help="also compute valid pixels per band"
    )
    chk.set_defaults(func=_check)


def _add_predict(sub) -> None:
    pred = sub.add_parser(
        "predict",
        help="predict soil moisture for a scene",
        description="Predict surface soil moisture for a scene and write it to zarr or a COG.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pred.add_argument("input", help="zarr store, netCDF file, GeoTIFF/VRT or folder of GeoTIFFs")
    pred.add_argument("output", help="output .zarr store or .tif (Cloud-Optimized GeoTIFF)")
    pred.add_argument("--model", default="default", help="model name or .safetensors path")
    pred.add_argument("--scheduler", help="address of a dask-distributed scheduler")
    pred.add_argument(
        "--connect-timeout", type=float, default=20.0, help="seconds to reach the scheduler"
    )
    pred.add_argument("--tile", type=int, help="tile size in pixels (default: model card)")
    pred.add_argument("--overlap", type=int, help="tile overlap in pixels (default: model card)")
    pred.add_argument("--progress", action="store_true", help="show a progress bar")
    pred.add_argument(
        "--precision",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="model arithmetic (auto: bfloat16 where the hardware has it natively)",
    )
    pred.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N ...")
    pred.add_argument(
        "--keep-conditions",
        action="store_true",
        help="predict over frozen ground, snow and open water too (left empty by default)",
    )
    pred.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier xsoilmoist output at OUTPUT (never anything else)",
    )
    _add_standardize_options(pred, date=True)
    pred.set_defaults(func=_predict)


def _add_train(sub) -> None:
    train = sub.add_parser(
        "train", help="train a model (two stages) as a TOML file describes; see docs/training"
    )
    train.add_argument("recipe", help="training recipe (TOML file)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.add_argument(
        "--overwrite", action="store_true", help="replace an existing model file at the output"
    )
    train.set_defaults(func=_train)


def _add_assemble(sub) -> None:
    asm = sub.add_parser("assemble", help="products on their own grids and times -> one scene")
    asm.add_argument("sources", nargs="+", help="GeoTIFFs, folders of GeoTIFFs, .zarr, .nc, .grib")
    asm.add_argument("output", help="output .zarr store (the scene predict takes)")
    asm.add_argument("--time-tolerance", default="3D", help="optical vs SAR time, e.g. 3D, 36h")
    asm.add_argument(
        "--units",
        action="append",
        metavar="NAME=UNITS",
        type=_rename_pair,
        help="units of a variable, band or modality the files do not state, e.g. sar_c=dB",
    )
    asm.add_argument("--progress", action="store_true", help="show a progress bar")
    asm.add_argument("--overwrite", action="store_true", help="replace an earlier output")
    _add_standardize_options(asm, date=False)
    asm.set_defaults(func=_assemble)


def _add_models(sub) -> None:
    models = sub.add_parser("models", help="list the bundled and registered models")
    models.set_defaults(func=_models)


#: One function per subcommand, each adding its parser with its options and handler.
_SUBCOMMANDS = (_add_demo, _add_check, _add_predict, _add_train, _add_assemble, _add_models)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xsoilmoist`` command."""
    parser = argparse.ArgumentParser(
        prog="xsoilmoist",
        description="10 m surface soil moisture from multimodal satellite data",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_subcommand in _SUBCOMMANDS:
        add_subcommand(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code (see ``EXIT_CODES``)."""
    from xsoilmoist.weights import ModelError

    args = build_parser().parse_args(argv)
    if isinstance(getattr(args, "site", None), str) and args.site.isdigit():
        args.site = int(args.site)
    try:
        return args.func(args)
    except ModelError as err:
        print(f"xsoilmoist {args.command}: model error: {err}", file=sys.stderr)
        return EXIT_MODEL
    except (FileNotFoundError, FileExistsError, ValueError, KeyError) as err:
        print(f"xsoilmoist {args.command}: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(f"xsoilmoist {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a failure while computing: report it for the batch system
        print(
            f"xsoilmoist {args.command}: failed while computing: {type(err).__name__}: {err}",
            file=sys.stderr,
        )
        return EXIT_COMPUTE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
