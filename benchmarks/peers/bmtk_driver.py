"""Run one simulation config through bmtk bionet or through sonatasim in process, then dump
the built NEURON model (sections, segments, NetCons) of each rank for the comparison.

    <bmtk venv>/bin/python bmtk_driver.py bmtk-run CONFIG MECHDIR DUMP.json
    .venv/bin/python bmtk_driver.py sonatasim-run CONFIG OUTPUT_DIR DUMP.json

The bmtk mode runs in the bmtk venv and imports nothing from the engine. The only
mechanism bmtk needs that is not a NEURON built-in is `VecStim` (virtual cells); bmtk is
given our own `SonataVecStim` (mod/sonatasim_vecstim.mod, same `play()` interface) instead,
by replacing the `h` that bmtk.simulator.bionet.virtualcell uses with a proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
HH = ["gnabar_hh", "gkbar_hh", "gl_hh", "el_hh"]
SEG_PARAMS = ["diam", "cm", "g_pas", "e_pas", *HH, "ena", "ek"]


def _cell_of(sec):
    cell = sec.cell()
    return cell.hname() if cell is not None else ""


def dump_state(h, path: Path, rank: int, gid_of_cell: dict[str, int], threshold: float) -> None:
    """Sections, segments and NetCons of this process; `gid_of_cell`: template name -> node id.

    (Spike-detector NetCons made in Python and handed to pc.cell are not in h.List("NetCon"),
    so the cells are named by the caller.)"""
    netcons = list(h.List("NetCon"))
    cells: dict[int, dict] = {}
    for sec in h.allsec():
        owner = _cell_of(sec)
        if owner not in gid_of_cell:
            continue
        gid = gid_of_cell[owner]
        cell = cells.setdefault(gid, {"template": owner, "sections": [], "threshold": threshold})
        parent = sec.parentseg()
        segs = []
        for seg in sec:
            values = {"x": seg.x, "area": seg.area()}
            for name in SEG_PARAMS:
                with contextlib.suppress(AttributeError, NameError, ValueError):
                    values[name] = float(getattr(seg, name))
            segs.append(values)
        cell["sections"].append(
            {
                "name": sec.name().split(".")[-1],
                "L": sec.L,
                "Ra": sec.Ra,
                "nseg": sec.nseg,
                "n3d": int(sec.n3d()),
                "parent": None
                if parent is None
                else [parent.sec.name().split(".")[-1], parent.x, sec.orientation()],
                "segments": segs,
            }
        )
    connections = []
    for nc in netcons:
        syn = nc.syn()
        if syn is None or not syn.has_loc():  # artificial cells (IntFire1, our samplers)
            continue
        seg = syn.get_segment()
        owner = _cell_of(seg.sec)
        if owner not in gid_of_cell:
            continue
        item = {
            "gid": gid_of_cell[owner],
            "section": seg.sec.name().split(".")[-1],
            "x": seg.x,
            "mech": syn.hname().split("[")[0],
            "weight": nc.weight[0],
            "delay": nc.delay,
            "srcgid": int(nc.srcgid()),
            "pre": nc.pre().hname().split("[")[0] if nc.pre() is not None else None,
        }
        for name in ("tau1", "tau2", "e"):
            if hasattr(syn, name):
                item[name] = getattr(syn, name)
        connections.append(item)
    clamps = []
    for clamp in h.List("IClamp"):
        seg = clamp.get_segment()
        owner = _cell_of(seg.sec)
        clamps.append(
            {
                "gid": gid_of_cell.get(owner, -1),
                "section": seg.sec.name().split(".")[-1],
                "x": seg.x,
                "amp": clamp.amp,
                "delay": clamp.delay,
                "dur": clamp.dur,
            }
        )
    state = {
        "rank": rank,
        "celsius": h.celsius,
        "v_init": h.v_init,
        "dt": h.dt,
        "t_end": h.t,
        "secondorder": h.secondorder,
        "cells": {str(k): v for k, v in sorted(cells.items())},
        "connections": connections,
        "iclamps": clamps,
    }
    Path(path).write_text(json.dumps(state))


class _VecStimProxy:
    """`h` for bmtk's virtualcell.py: VecStim -> our SonataVecStim, all else unchanged."""

    def __init__(self, h):
        self._h = h

    def __getattr__(self, name):
        return getattr(self._h, name)

    def VecStim(self):  # noqa: N802 (bmtk's name)
        return self._h.SonataVecStim()


def bmtk_main(config: str, mech_dir: str, dump: str) -> None:
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h

    if os.environ.get("PEER_MPI") == "1":
        h.nrnmpi_init()
    import neuron

    neuron.load_mechanisms(mech_dir)
    from bmtk.simulator import bionet
    from bmtk.simulator.bionet import virtualcell

    virtualcell.h = _VecStimProxy(h)
    conf = bionet.Config.from_json(config, validate=True)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    started = time.perf_counter()
    sim.run()
    pc = h.ParallelContext()
    rank = int(pc.id())
    names = {cell.hobj.hname(): int(cell.node_id) for cell in net.get_local_cells().values()}
    dump_state(h, Path(f"{dump}.{rank}"), rank, names, float(conf.spike_threshold))
    if rank == 0:
        print(f"bmtk run {time.perf_counter() - started:.2f} s", flush=True)
    pc.barrier()


def sonatasim_main(config: str, output_dir: str, dump: str) -> None:
    sys.path.insert(0, str(REPO))
    from engine import simulator
    from engine.config import load_setup
    from engine.logs import setup_logging
    from engine.simulation import RunOptions, Simulation

    setup = load_setup(Path(config), Path(output_dir))
    sim = simulator.start()
    setup_logging(sim.rank, sim.nranks, 0)
    simulation = Simulation(setup, sim, RunOptions(progress=False))
    simulation.build()
    driver = os.environ.get("PEER_DRIVER", "")
    if driver:  # diagnosis only: drive NEURON the way bmtk does instead of psolve chunks
        h = sim.h
        h.load_file("stdrun.hoc")
        sim.pc.set_maxstep(10)
        h.stdinit()
        if driver == "hrun":
            h.run(setup.run.tstop)
        else:  # "fadvance"
            while h.t < setup.run.tstop - 0.5 * setup.run.dt:
                h.fadvance()
        simulation.reports.flush()
    else:
        simulation.run()
    simulation.write_outputs()
    names = {}
    for manager in simulation.circuit.node_managers.values():
        for cell in manager.cells.values():
            hoc = getattr(cell, "hoc", None)
            if hoc is not None and hasattr(hoc, "hname"):
                names[hoc.hname()] = int(cell.node_id)
    dump_state(sim.h, Path(f"{dump}.{sim.rank}"), sim.rank, names, float(setup.run.spike_threshold))
    sim.barrier()


if __name__ == "__main__":
    modes = {"bmtk-run": bmtk_main, "sonatasim-run": sonatasim_main}
    if len(sys.argv) != 5 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](*sys.argv[2:5])
