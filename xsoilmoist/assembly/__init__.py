"""Products on their own grids and times -> one model-ready scene.

:func:`assemble` takes per-band product GeoTIFFs, stackstac/odc-stac arrays,
ERA5, MODIS and DEM files as they are, and returns one standardized Dataset on
one grid that :func:`xsoilmoist.predict` takes as it is.
:func:`dataset_from_band_array` turns a band-dimension DataArray into one
variable per band. The time rules are in :mod:`xsoilmoist.assembly.timing`.
"""

from xsoilmoist.assembly.core import assemble
from xsoilmoist.assembly.sources import dataset_from_band_array
from xsoilmoist.assembly.timing import RULES

__all__ = ["RULES", "assemble", "dataset_from_band_array"]
