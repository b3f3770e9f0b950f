"""Run real neurodamus (installed in its own venv) on a SONATA config and dump its results.

Runs inside the neurodamus venv, never imports sonatasim. Launched by
compare_neurodamus.py as

    [mpiexec -n N] <ndvenv>/bin/python nd_driver.py CONFIG OUT_DIR

with NRNMECH_LIB_PATH (neurodamus' own mods compiled with -DDISABLE_REPORTINGLIB plus the
circuit's mechanisms_dir) and HOC_LIBRARY_PATH (the wheel's data/hoc) set by the caller.

Without libsonatareport neurodamus' spike file and reports are no-ops, so this driver:
  * records the soma voltage soma[0](0.5) of every local cell with Vector.record, set up
    right before neurodamus' own stdinit (a hook on Node._finalize_model; recording
    changes no numerics);
  * with ND_DUMP_MODEL=1 set, writes OUT_DIR/model_rank<R>.json (model_dump.py) after
    the build instead of running;
  * after the run, writes the spikes neurodamus recorded itself (pc.spike_record vectors
    in Node._spike_vecs) and the voltages to OUT_DIR/nd_rank<R>.npz;
  * with ND_CAPTURE_REPORTS=1 set, also what neurodamus' reports read
    (nd_report_driver.py) to OUT_DIR/nd_reports_rank<R>.npz.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np


def main(config: str, out_dir: str) -> int:
    from neurodamus import Neurodamus
    from neurodamus.core import MPI
    from neurodamus.core import NeuronWrapper as Nd
    from neurodamus.node import Node

    recorders: list[tuple[str, int, int, object]] = []  # (population, offset, final gid, vec)
    original = Node._finalize_model

    def finalize_with_recording(self, *args, **kwargs):
        for mgr in self._circuits.all_node_managers():
            pop = mgr.population_name
            if pop is None or not mgr.local_nodes or not getattr(mgr, "cells", None):
                continue
            offset = int(mgr.local_nodes.offset)
            for gid in mgr.local_nodes.gids(raw_gids=False):
                gid = int(gid)
                cell = mgr.get_cellref(gid)
                if not hasattr(cell, "soma"):
                    continue
                vec = Nd.h.Vector()
                vec.record(cell.soma[0](0.5)._ref_v)
                recorders.append((pop, offset, gid, vec))
        return original(self, *args, **kwargs)

    Node._finalize_model = finalize_with_recording
    nd = Neurodamus(config, logging_level=0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if os.environ.get("ND_DUMP_MODEL"):  # describe the built model instead of running it
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import model_dump

        gids = [int(g) for m in nd._circuits.all_node_managers() if m.local_nodes
                for g in m.local_nodes.gids(raw_gids=False)]  # fmt: skip
        model_dump.write(str(out / f"model_rank{int(MPI.rank)}.json"),
                         model_dump.dump(Nd.h, Nd.h.ParallelContext(), gids))  # fmt: skip
        return 0
    nd.run(cleanup=False)

    data: dict[str, np.ndarray] = {}
    pops, offsets, times, gids = [], [], [], []
    for (pop, offset), (tvec, idvec) in zip(nd._spike_populations, nd._spike_vecs, strict=True):
        t = np.array(tvec.as_numpy(), dtype=np.float64)
        g = np.array(idvec.as_numpy(), dtype=np.int64)
        pops += [pop] * t.size
        offsets += [offset] * t.size
        times.append(t)
        gids.append(g)
    data["spike_pop"] = np.array(pops, dtype=object).astype(str)
    data["spike_offset"] = np.array(offsets, dtype=np.int64)
    data["spike_time"] = np.concatenate(times) if times else np.zeros(0)
    data["spike_gid"] = np.concatenate(gids) if gids else np.zeros(0, np.int64)
    if recorders:
        data["v_pop"] = np.array([r[0] for r in recorders]).astype(str)
        data["v_node"] = np.array([r[2] - r[1] for r in recorders], dtype=np.int64)
        data["v"] = np.array([np.asarray(r[3].as_numpy()) for r in recorders])
    data["dt"] = np.array(float(Nd.h.dt))
    data["tstop"] = np.array(float(Nd.h.tstop))
    np.savez(out / f"nd_rank{int(MPI.rank)}.npz", **data)
    return 0


if __name__ == "__main__":
    capture = bool(os.environ.get("ND_CAPTURE_REPORTS"))  # report_variables.py sets it
    if capture:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import nd_report_driver

        nd_report_driver.install()
    rc = main(sys.argv[1], sys.argv[2])
    if capture:
        from neurodamus.core import MPI

        nd_report_driver.save(Path(sys.argv[2]), int(MPI.rank))
    from neuron import h

    h.quit(rc)
