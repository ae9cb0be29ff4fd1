"""xsoilmoist: 10 m surface soil moisture from multimodal satellite data, for xarray.

Importing the package registers the ``ds.ssm`` accessor. It does not import
torch: torch is imported only when a model is built or run.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xsoilmoist")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
