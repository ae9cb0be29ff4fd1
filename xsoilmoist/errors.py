"""Every exception and warning xsoilmoist raises, in one family.

Catch :class:`XSoilMoistError` for any problem the package reports, or one of
its three branches for a kind of problem:

- :class:`InputError`: something the caller passed (a scene, bands, units, a
  grid, a training setting, an output path) cannot be used as it is;
- :class:`ModelError`: a model, its weights or its card cannot be used;
- :class:`DataFileError`: a data file (station files, sample data) is not
  what its format promises.

Every error is also a :class:`ValueError` (as the package's errors always
were), so ``except ValueError`` in existing code keeps working.

Input problems that do not stop a prediction but that a user should know
about (a partial modality, values outside what the model was trained on) are
reported with :class:`InputWarning`, a :class:`XSoilMoistWarning`. Filter or
escalate them with the standard :mod:`warnings` machinery.

Examples
--------
>>> import warnings
>>> import xsoilmoist
>>> try:
...     raise xsoilmoist.errors.GridError("x spacing is irregular")
... except xsoilmoist.XSoilMoistError as err:
...     print(type(err).__name__, "-", err)
GridError - x spacing is irregular
>>> with warnings.catch_warnings():
...     warnings.simplefilter("error", xsoilmoist.InputWarning)  # make input warnings errors
...     pass
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "DeviceError",
    "GridError",
    "ISMNFormatError",
    "InputError",
    "InputNotFoundError",
    "InputTypeError",
    "InputWarning",
    "ModelCardError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotAvailableError",
    "ModelWarning",
    "OutputExistsError",
    "OutputPathError",
    "SampleDataError",
    "SchedulerUnreachableError",
    "StandardizeError",
    "TrainingConfigError",
    "UnitError",
    "XSoilMoistError",
    "XSoilMoistWarning",
]


class XSoilMoistError(ValueError):
    """Base of every error xsoilmoist raises; the message names the problem and its fix."""


# --- input ------------------------------------------------------------------


class InputError(XSoilMoistError):
    """Something the caller passed cannot be used as it is."""


class InputTypeError(InputError, TypeError):
    """An argument of the wrong type (also a :class:`TypeError`)."""


class StandardizeError(InputError):
    """The Dataset cannot be standardized; the message lists every problem and its fix."""


class UnitError(InputError):
    """Units that cannot be parsed, or that do not convert to the band's units."""


class GridError(InputError):
    """Spatial dims, coordinates or CRS that do not make one regular grid."""


class DeviceError(InputError):
    """A torch device that is not available here (names what torch finds)."""


class TrainingConfigError(InputError):
    """A training setting (or configuration file) that cannot be used; names the field."""


class InputNotFoundError(InputError, FileNotFoundError):
    """A path given as input does not exist (also a :class:`FileNotFoundError`)."""


class SchedulerUnreachableError(InputError, TimeoutError):
    """No dask scheduler answers at the address given (also a :class:`TimeoutError`)."""


class OutputPathError(InputError):
    """An output location that cannot be written safely (is the input, is not ours, ...)."""


class OutputExistsError(OutputPathError, FileExistsError):
    """The output exists and replacing it was not asked for (also a :class:`FileExistsError`)."""


# --- model ------------------------------------------------------------------


class ModelError(XSoilMoistError):
    """A model, its weights or its card cannot be used."""


class ModelIntegrityError(ModelError):
    """A model file whose sha256 does not match the registry: refused, never loaded."""


class ModelNotAvailableError(ModelError):
    """The model asked for is not bundled, not cached and cannot be downloaded."""


class ModelCardError(ModelError):
    """A model card that is malformed or holds values outside what is allowed."""


# --- data files -------------------------------------------------------------


class DataFileError(XSoilMoistError):
    """A data file that is not what its format promises."""


class ISMNFormatError(DataFileError):
    """An ISMN file that does not follow the ISMN formats; names the file and the line."""


class SampleDataError(DataFileError):
    """A sample file that cannot be fetched (offline, upstream gone) or fails its sha256 check."""


# --- warnings ---------------------------------------------------------------


class XSoilMoistWarning(UserWarning):
    """Base of every warning xsoilmoist emits."""


class InputWarning(XSoilMoistWarning):
    """The input will be used, but part of it is ignored or outside what the model knows."""


class ModelWarning(XSoilMoistWarning):
    """The model will be used, but its results are not what a user would expect (untrained)."""
