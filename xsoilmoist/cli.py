"""The ``xsoilmoist`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from xsoilmoist.demo import run_demo

    run_demo(args.output, site=args.site)
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
    return 0 if report.ok else 1


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``xsoilmoist`` command."""
    parser = argparse.ArgumentParser(
        prog="xsoilmoist", description="10 m surface soil moisture from multimodal satellite data"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demonstration on the real sample data")
    demo.add_argument("--output", default="xsoilmoist-demo", help="output folder")
    demo.add_argument("--site", default=0, help="BigEarthNet site index or patch name")
    demo.set_defaults(func=_demo)
    chk = sub.add_parser("check", help="report the modalities and units found in a scene")
    chk.add_argument("scene", help="zarr store, netCDF file, GeoTIFF/VRT or folder of GeoTIFFs")
    chk.add_argument("--processing-baseline", help="Sentinel-2 processing baseline, e.g. 04.00")
    chk.add_argument(
        "--valid-fraction", action="store_true", help="also compute valid pixels per band"
    )
    chk.set_defaults(func=_check)
    models = sub.add_parser("models", help="list the bundled and registered models")
    models.set_defaults(func=_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 problems, 2 usage or input error)."""
    args = build_parser().parse_args(argv)
    if isinstance(getattr(args, "site", None), str) and args.site.isdigit():
        args.site = int(args.site)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"xsoilmoist {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
