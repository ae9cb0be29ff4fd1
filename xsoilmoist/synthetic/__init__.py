"""The observing-system simulator: multimodal scenes with known soil-moisture truth.

No openly redistributable 10 m soil-moisture truth exists, so the package
simulates it: terrain, soil, weather, a daily water balance, vegetation, then
what radar, optical sensors, coarse satellite products and stations would
observe. Everything it makes is labelled as simulated. See
:func:`simulate_scene` and :doc:`/simulator`.
"""

from __future__ import annotations

from xsoilmoist.synthetic.regions import REGIONS, LandCoverClass, ObservingSystem, Region
from xsoilmoist.synthetic.scene import simulate_scene

__all__ = ["REGIONS", "LandCoverClass", "ObservingSystem", "Region", "simulate_scene"]
