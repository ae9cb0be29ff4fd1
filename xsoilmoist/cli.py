"""The ``xsoilmoist`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["EXIT_CODES", "main"]

EXIT_PROBLEMS, EXIT_INPUT, EXIT_MODEL, EXIT_SCHEDULER, EXIT_COMPUTE = 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
EXIT_CODES = """exit codes:
  0    success
  1    the input has problems (check)
  2    bad arguments or input: missing file, unreadable scene, missing modalities,
       output exists (usage errors too)
  3    the model is not available, fails its hash check, or does not fit its card
  4    the dask scheduler cannot be reached
  5    the computation failed (retrying may help)
  130  interrupted"""


def _demo(args: argparse.Namespace) -> int:
    from xsoilmoist.demo import run_demo

    run_demo(args.output, site=args.site, model=args.model)
    return 0


def _check(args: argparse.Namespace) -> int:
    from xsoilmoist.io import open_scene
    from xsoilmoist.report import check

    report = check(
        open_scene(args.scene),
        processing_baseline=args.processing_baseline,
        valid_fraction=args.valid_fraction,
    )
    print(report)
    return 0 if report.ok else EXIT_PROBLEMS


def _models(args: argparse.Namespace) -> int:
    from xsoilmoist.weights import describe_models

    rows = describe_models()
    if not rows:
        print("no models available: none is bundled with this version and the registry lists none")
        return 0
    print(f"{'name':<16}{'size':>10}  {'config':<10}{'cached':<9}{'modalities':<30}metrics")
    for row in rows:
        metrics = ", ".join(f"{k}={v}" for k, v in row["metrics"].items())
        print(
            f"{row['name']:<16}{row['size'] / 1e6:>8.1f}MB  {row['config']:<10}"
            f"{row['cached']:<9}{','.join(row['modalities']):<30}{metrics}"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from xsoilmoist.inference import predict
    from xsoilmoist.io import open_scene, write_result

    client = None
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout=f"{args.connect_timeout}s")
        except OSError as err:
            print(
                f"xsoilmoist predict: error: cannot reach the dask scheduler at "
                f"{args.scheduler!r} ({err})",
                file=sys.stderr,
            )
            return EXIT_SCHEDULER
    try:
        scene = open_scene(args.input)
        ssm = predict(scene, args.model, tile=args.tile, overlap=args.overlap)
        written = write_result(ssm, args.output, overwrite=args.overwrite, progress=args.progress)
    finally:
        if client is not None:
            client.close()
    print(f"wrote {written}: soil moisture {dict(ssm.sizes)} with model {ssm.attrs['model']}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from xsoilmoist.training import TrainingConfigError, run_training_config

    try:
        weights = run_training_config(args.config, progress=not args.quiet)
    except TrainingConfigError as err:
        print(f"xsoilmoist train: error in {args.config}: {err}", file=sys.stderr)
        return EXIT_INPUT
    print(f"wrote {weights} and its model card {weights.with_suffix('.json')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xsoilmoist`` command."""
    parser = argparse.ArgumentParser(
        prog="xsoilmoist",
        description="10 m surface soil moisture from multimodal satellite data",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demonstration on the real sample data")
    demo.add_argument("--output", default="xsoilmoist-demo", help="output folder")
    demo.add_argument("--site", default=0, help="BigEarthNet site index or patch name")
    demo.add_argument("--model", default="default", help="model name or .safetensors path")
    demo.set_defaults(func=_demo)
    chk = sub.add_parser("check", help="report the modalities and units found in a scene")
    chk.add_argument("scene", help="zarr store, netCDF file, GeoTIFF/VRT or folder of GeoTIFFs")
    chk.add_argument("--processing-baseline", help="Sentinel-2 processing baseline, e.g. 04.00")
    chk.add_argument(
        "--valid-fraction", action="store_true", help="also compute valid pixels per band"
    )
    chk.set_defaults(func=_check)
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
    pred.add_argument("--overwrite", action="store_true", help="replace an existing output")
    pred.set_defaults(func=_predict)
    train = sub.add_parser(
        "train", help="train a model (two stages) as a TOML file describes; see docs/training"
    )
    train.add_argument("config", help="training configuration (TOML)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.set_defaults(func=_train)
    models = sub.add_parser("models", help="list the bundled and registered models")
    models.set_defaults(func=_models)
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
