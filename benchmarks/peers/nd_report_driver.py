"""neurodamus with its reports captured: what each report element reads, and its values.

Runs inside the neurodamus venv: nd_driver.py installs it when ND_CAPTURE_REPORTS=1.

Without libsonatareport neurodamus' SonataReport is a no-op, so the `report` object of
each neurodamus Report and the ALU helpers of summation reports are replaced by recorders
that keep what neurodamus hands them: per element the references and the scaling factors
neurodamus chose (its own report.py decides; nothing is re-implemented here). Each
reference is recorded every time step with Vector.record; after the run the element's
value is sum(factor x value), as the ALU computes it. Written to
OUT_DIR/nd_reports_rank<R>.npz: for report R, `R/nodes`, `R/elements`, `R/values`
[steps x elements], `R/terms` (term count per element), `R/factors` (all factors).
A report neurodamus refused makes the run fail (its message is in the log).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPORTS: dict[str, dict] = {}


class CapturedALU:
    """Stands for neurodamus' ALU: keeps addvar(ref, factor) in order."""

    def __init__(self, *_args):
        self.terms: list[tuple[object, float]] = []

    def setop(self, _name):
        pass

    def addvar(self, ref, factor):
        self.terms.append((ref, float(factor)))

    @property
    def _ref_output(self):
        return self


class CapturedReport:
    """Stands for SonataReport: AddNode / AddVar, each variable recorded every step."""

    def __init__(self, name: str):
        self.rows: list[tuple[int, int, list[tuple[object, float]]]] = []
        self.offsets: dict[int, int] = {}
        REPORTS[name] = {"report": self}

    def AddNode(self, gid, _population, offset):  # noqa: N802 (neurodamus' names)
        self.offsets[int(gid)] = int(offset)

    def AddVar(self, ref, element, gid, _population):  # noqa: N802
        from neuron import h

        terms = ref.terms if isinstance(ref, CapturedALU) else [(ref, 1.0)]
        recorded = [(h.Vector().record(r), f) for r, f in terms]
        self.rows.append((int(gid) - self.offsets[int(gid)], int(element), recorded))


def install() -> None:
    from neurodamus import report

    original = report.Report.__init__

    def init(self, params, use_coreneuron):
        original(self, params, use_coreneuron)
        self.report = CapturedReport(str(params.name).removesuffix(".h5"))

    report.Report.__init__ = init
    report.SummationReport.setup_alu_for_summation = lambda self, x: CapturedALU(x)


def save(out_dir: Path, rank: int) -> None:
    data: dict[str, np.ndarray] = {}
    for name, entry in REPORTS.items():
        rows = entry["report"].rows
        data[f"{name}/nodes"] = np.array([r[0] for r in rows], dtype=np.int64)
        data[f"{name}/elements"] = np.array([r[1] for r in rows], dtype=np.int64)
        data[f"{name}/terms"] = np.array([len(r[2]) for r in rows], dtype=np.int64)
        data[f"{name}/factors"] = np.array([f for r in rows for _, f in r[2]], dtype=np.float64)
        columns = []
        for _, _, terms in rows:
            value = 0.0
            for vec, factor in terms:  # the ALU's order: term by term, in double
                value = value + factor * np.asarray(vec.as_numpy())
            columns.append(np.broadcast_to(value, (steps(rows),)))
        data[f"{name}/values"] = np.stack(columns, axis=1) if columns else np.zeros((0, 0))
    np.savez(out_dir / f"nd_reports_rank{rank}.npz", **data)


def steps(rows: list) -> int:
    return max((int(v.size()) for r in rows for v, _ in r[2]), default=0)
