"""xsoilmoist: 10 m surface soil moisture from multimodal satellite data, for xarray.

Importing the package registers the ``ds.ssm`` accessor. It does not import
torch: torch is imported only when a model is built or run.
"""

from importlib.metadata import PackageNotFoundError, version

from xsoilmoist import accessor as _accessor  # noqa: F401  (registers ds.ssm)
from xsoilmoist import errors
from xsoilmoist.assembly import assemble
from xsoilmoist.bands import standardize
from xsoilmoist.errors import InputWarning, StandardizeError, XSoilMoistError, XSoilMoistWarning
from xsoilmoist.inference import predict
from xsoilmoist.report import check
from xsoilmoist.validation import validate
from xsoilmoist.weights import available_models, load_model

try:
    __version__ = version("xsoilmoist")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "InputWarning",
    "StandardizeError",
    "XSoilMoistError",
    "XSoilMoistWarning",
    "__version__",
    "assemble",
    "available_models",
    "check",
    "errors",
    "load_model",
    "predict",
    "standardize",
    "validate",
]
