"""``ds.ssm.check()``: a readable report of what standardization finds and does."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from xsoilmoist.bands import StandardizationPlan, plan_standardization
from xsoilmoist.catalogue import BANDS, MODALITY_BANDS
from xsoilmoist.input_checks import (
    InputFindings,
    ScenePlan,
    inspect_metadata,
    judge_counts,
    value_counts,
)

__all__ = ["CheckReport", "check"]


@dataclass
class CheckReport:
    """What :func:`xsoilmoist.standardize` would find, derive, convert and miss.

    Shown as text by ``repr`` and as a table in Jupyter.

    Attributes
    ----------
    plan
        The standardization plan (sources, derivable bands, problems).
    modalities
        Modality group -> ``"found"``, ``"partial"`` or ``"missing"``.
    findings
        What the input rules of :mod:`xsoilmoist.input_checks` found (errors
        that ``predict`` would raise, warnings it would emit).
    valid_fraction
        Canonical band -> fraction of finite pixels after standardization;
        empty unless requested (it computes the data).
    """

    plan: StandardizationPlan
    modalities: dict[str, str]
    findings: InputFindings = field(default_factory=InputFindings)
    valid_fraction: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when ``predict`` would run on this input without an input error."""
        return not self.problems

    @property
    def problems(self) -> list[str]:
        """Every error found: standardization problems, then the input rules' errors."""
        return self.plan.problems + self.findings.errors

    @property
    def warnings(self) -> list[str]:
        """What ``predict`` would warn about (:class:`~xsoilmoist.errors.InputWarning`)."""
        return self.findings.warnings

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for modality, names in MODALITY_BANDS.items():
            for name in names:
                status, source, units = "missing", "", ""
                if name in self.plan.sources:
                    src = self.plan.sources[name]
                    status, source = "found", src.source
                    units = src.decoding
                elif name in self.plan.derivable:
                    status, source = "derived", self.plan.derivable[name]
                    units = f"in {BANDS[name].units}"
                fraction = self.valid_fraction.get(name)
                valid = "" if fraction is None else f"{fraction:.1%}"
                rows.append((modality, name, status, f"{source} {units}".strip(), valid))
        return rows

    def __repr__(self) -> str:
        lines = ["xsoilmoist input check: " + ("OK" if self.ok else "PROBLEMS FOUND")]
        lines.append("modalities: " + ", ".join(f"{m} {s}" for m, s in self.modalities.items()))
        width = max(len(r[3]) for r in self._rows())
        header = f"  {'modality':<12}{'band':<10}{'status':<9}{'source and units':<{width + 2}}"
        lines.append(header + ("valid" if self.valid_fraction else ""))
        for modality, name, status, detail, valid in self._rows():
            lines.append(f"  {modality:<12}{name:<10}{status:<9}{detail:<{width + 2}}{valid}")
        if self.plan.unrecognised:
            lines.append(f"kept as they are (not bands): {', '.join(self.plan.unrecognised)}")
        for title, items in (("problems", self.problems), ("warnings", self.warnings)):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        status = "OK" if self.ok else "<b style='color:#b00'>problems found</b>"
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in self._rows()
        )
        problems = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
        warned = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        kept = ", ".join(map(html.escape, self.plan.unrecognised))
        return (
            f"<div><p>xsoilmoist input check: {status}</p>"
            "<table><tr><th>modality</th><th>band</th><th>status</th>"
            "<th>source and units</th><th>valid</th></tr>"
            f"{cells}</table>"
            + (f"<p>kept as they are (not bands): {kept}</p>" if kept else "")
            + (f"<p>problems:</p><ul>{problems}</ul>" if problems else "")
            + (f"<p>warnings:</p><ul>{warned}</ul>" if warned else "")
            + "</div>"
        )


def check(
    ds: xr.Dataset,
    *,
    rename: Mapping[str, str] | None = None,
    processing_baseline: str | None = None,
    valid_fraction: bool = False,
) -> CheckReport:
    """Report which modalities are found, derived or missing, and the units conversions.

    Never raises for a bad Dataset: problems are listed in the report. The
    rules are :func:`predict`'s (:mod:`xsoilmoist.input_checks`): a report
    that is ``ok`` means ``predict`` runs, and its ``warnings`` are what
    ``predict`` would warn about. The rules that read values (a band with no
    valid pixel, implausible backscatter, a time step without SAR) run on data
    in memory, and on dask data with ``valid_fraction=True``.

    Parameters
    ----------
    ds
        Raw Dataset.
    rename, processing_baseline
        As for :func:`xsoilmoist.standardize`.
    valid_fraction
        Also compute the fraction of valid (finite, in range) pixels per band,
        and run the value rules on dask data. This reads the data; the rest
        of the report does not (for dask data).

    Examples
    --------
    >>> import numpy as np
    >>> ds = xr.Dataset({"VV": (("y", "x"), np.zeros((2, 2)), {"units": "dB"})},
    ...                 coords={"y": [1.0, 0.0], "x": [0.0, 1.0]})
    >>> check(ds).modalities["sar_c"]
    'partial'
    """
    plan = plan_standardization(ds, rename=rename, processing_baseline=processing_baseline)
    available = set(plan.sources) | set(plan.derivable)
    modalities = {}
    for modality, names in MODALITY_BANDS.items():
        count = len(available.intersection(names))
        modalities[modality] = "found" if count == len(names) else "partial" if count else "missing"
    findings = InputFindings()
    fractions: dict[str, float] = {}
    if not plan.problems:
        findings = inspect_metadata(ds, plan, MODALITY_BANDS, ("sar_c",))
    in_memory = all(v.chunks is None for v in ds.data_vars.values())
    if not plan.problems and not findings.errors and (valid_fraction or in_memory):
        from xsoilmoist.bands import standardize

        std = standardize(ds, rename=rename, processing_baseline=processing_baseline)
        scene = ScenePlan.of(std, list(BANDS))
        counts = np.asarray(value_counts(std, scene.bands, scene))
        findings.extend(judge_counts(counts, scene))
        if valid_fraction:
            totals = counts.sum(axis=1)
            fractions = {b: float(totals[i, 1] / totals[i, 0]) for i, b in enumerate(scene.bands)}
    return CheckReport(plan, modalities, findings, fractions)
