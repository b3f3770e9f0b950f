#!/usr/bin/env python
"""Peer comparison: the same generated Allen/bmtk circuit through bmtk 1.2.0 bionet and sonatasim.

Usage (from the repository root, with the project venv):

  .venv/bin/python benchmarks/peers/compare_bmtk.py setup          # bmtk venv + our mechanisms
  .venv/bin/python benchmarks/peers/compare_bmtk.py run [SCENARIO ...] [--work DIR]
  .venv/bin/python benchmarks/peers/compare_bmtk.py list

`run` with no scenario runs them all. Per scenario it writes the circuit under
`<work>/<scenario>/net` (engine.generate.allen, possibly edited afterwards), runs bmtk
bionet in its own venv (`$BMTK_VENV`, default /tmp/bmtkvenv) and sonatasim (in-process,
or the CLI under MPI), and compares spikes bit for bit, soma-v reports at float32, and the
built model (sections, segments, parameters, NetCons) from a dump of the NEURON state
taken after each run. The results go to `<work>/results.json` and to stdout.

Nothing from bmtk is copied here: bmtk runs from its PyPI install. The only mechanism bmtk
needs that is not a NEURON built-in is `VecStim` (virtual cells); bmtk is given our own
`SonataVecStim` (mod/sonatasim_vecstim.mod, same `play()` interface) instead, by replacing
the `h` that bmtk.simulator.bionet.virtualcell uses with a proxy. Our mod/ directory is
compiled with the bmtk venv's nrnivmodl into `<work>/mech`.

The same file is the bmtk runner (`bmtk-run CONFIG MECHDIR DUMP.json`, executed by the bmtk
venv's python); that mode imports nothing from the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
BMTK_VENV = Path(os.environ.get("BMTK_VENV", "/tmp/bmtkvenv")).resolve()
DEFAULT_WORK = Path(os.environ.get("BMTK_PEER_WORK", "/tmp/bmtk_peer"))
PROJECT_VENV = REPO / ".venv"
MPI_LIB = PROJECT_VENV / "lib" / "libmpi.so.12"
HH = ["gnabar_hh", "gkbar_hh", "gl_hh", "el_hh"]
SEG_PARAMS = ["diam", "cm", "g_pas", "e_pas", *HH, "ena", "ek"]


# --------------------------------------------------------------------------------------------
# NEURON state dump (both sides; only uses neuron)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# bmtk side (runs in the bmtk venv)
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# sonatasim side, in process (project venv): the CLI's run sequence, then the state dump
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# Scenarios (project venv)
# --------------------------------------------------------------------------------------------
def _edit_types(path: Path, key: str, changes: dict[int, dict]) -> None:
    """Change/add columns of a bmtk types CSV (space separated, quoted)."""
    with open(path) as f:
        rows = list(csv.DictReader(f, delimiter=" ", quotechar='"'))
    for row in rows:
        for col, value in changes.get(int(row[key]), {}).items():
            row[col] = value
    fields = list(rows[0])
    for row in rows:
        fields += [c for c in row if c not in fields]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, delimiter=" ", quotechar='"')
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "NULL") for c in fields})


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data, indent=2))


def _add_node_column(path: Path, pop: str, name: str, values) -> None:
    import h5py
    import numpy as np

    with h5py.File(path, "r+") as f:
        f[f"nodes/{pop}/0"].create_dataset(name, data=np.asarray(values))


def scenario_circuit(name: str, root: Path):
    sys.path.insert(0, str(REPO))
    import numpy as np

    from engine.generate.allen import EXC_EDGE_TYPE, INH_EDGE_TYPE, LGN_EDGE_TYPE
    from engine.generate.allen import generate_allen_network as gen

    iclamp = {"amp": 0.3, "delay": 20.0, "duration": 50.0}
    small = {"n_exc": 2, "n_inh": 1, "n_lgn": 3, "lgn_rate_hz": 10.0, "tstop": 200.0}
    net = {"n_exc": 12, "n_inh": 4, "n_lgn": 10, "lgn_rate_hz": 30.0, "tstop": 300.0, "seed": 3}
    if name == "iclamp_only":
        c = gen(root, **{**small, "lgn_rate_hz": 0.0}, iclamp=iclamp)
    elif name == "small":
        c = gen(root, **small, iclamp=iclamp)
    elif name == "csv_spikes":
        c = gen(root, **small, iclamp=iclamp, spike_format="csv")
        # bmtk 1.2.0's csv reader (spike_train_readers.py:458) needs a `population` column;
        # the generator writes only `timestamps node_ids`. Both runs read this file.
        ids, times = c.lgn_spikes
        lines = ["timestamps population node_ids"] + [
            f"{float(t)!r} lgn {int(i)}" for i, t in zip(ids, times, strict=True)
        ]
        (root / "inputs" / "lgn_spikes.csv").write_text("\n".join(lines) + "\n")
    elif name in ("network", "mpi2"):
        c = gen(root, **net)
    elif name == "dL5":
        c = gen(root, **small, iclamp=iclamp, dL=5.0)
    elif name == "iclamp_offgrid":
        c = gen(root, **small, iclamp={"amp": 0.3, "delay": 20.0125, "duration": 50.0125})
    elif name == "iclamp_train":
        c = gen(
            root,
            **small,
            iclamp={"amp": [0.3, 0.5], "delay": [20.0, 120.0], "duration": [30.0, 20.0]},
        )
    elif name == "delay_offgrid":
        c = gen(root, **net)
        changes = {LGN_EDGE_TYPE: {"delay": "2.0125"}}
        _edit_types(root / "network" / "lgn_to_cortex_edge_types.csv", "edge_type_id", changes)
        changes = {EXC_EDGE_TYPE: {"delay": "1.51"}, INH_EDGE_TYPE: {"delay": "0.99"}}
        _edit_types(root / "network" / "cortex_to_cortex_edge_types.csv", "edge_type_id", changes)
    elif name == "gaussianLL":
        c = gen(root, **net)
        rng = np.random.default_rng(7)
        n = c.populations["cortex"]
        _add_node_column(
            root / "network" / "cortex_nodes.h5", "cortex", "tuning_angle", rng.uniform(0, 360, n)
        )
        _add_node_column(
            root / "network" / "lgn_nodes.h5",
            "lgn",
            "tuning_angle",
            rng.uniform(0, 360, c.populations["lgn"]),
        )
        g = {"weight_function": "gaussianLL", "weight_sigma": "50.0"}
        _edit_types(
            root / "network" / "lgn_to_cortex_edge_types.csv",
            "edge_type_id",
            {LGN_EDGE_TYPE: {**g, "syn_weight": "0.006"}},
        )
        _edit_types(
            root / "network" / "cortex_to_cortex_edge_types.csv",
            "edge_type_id",
            {EXC_EDGE_TYPE: g, INH_EDGE_TYPE: g},
        )
    elif name == "placed":
        c = gen(root, **net, preselected=False)
    elif name == "threshold_celsius":
        c = gen(root, **small, iclamp=iclamp)

        def change(sim):
            sim["run"]["spike_threshold"] = 0.0
            sim["conditions"] = {"celsius": 16.3, "v_init": -70.0}

        _edit_json(c.simulation_config, change)
    else:
        raise SystemExit(f"unknown scenario {name}")
    return c


SCENARIOS = {
    "iclamp_only": "2 exc + 1 inh cells, IClamp 0.3 nA 20-70 ms on exc, no input spikes",
    "small": "3 cells, IClamp + h5 virtual spikes (legacy /spikes/gids), recurrent Exp2Syn, preselected",
    "csv_spikes": "as small, input spikes from the csv file",
    "dL5": "as small, run.dL = 5 (nseg 31 on the 300 um dendrite)",
    "threshold_celsius": "as small, run.spike_threshold 0, celsius 16.3, v_init -70",
    "iclamp_offgrid": "IClamp delay/duration not on the dt grid (20.0125 / 50.0125)",
    "iclamp_train": "IClamp amp/delay/duration as lists (2 pulses)",
    "network": "16 cells (12 exc, 4 inh), 10 lgn at 30 Hz, 300 ms, preselected",
    "delay_offgrid": "as network, delays 2.0125 / 1.51 / 0.99 (off the 0.025 grid)",
    "gaussianLL": "as network, weight_function gaussianLL (tuning_angle, weight_sigma 50)",
    "placed": "as network, nsyns 1-3, target_sections + distance_range placement",
    "mpi2": "as network, both simulators on 2 MPI ranks",
}


def add_node_ids(circuit) -> list[str]:
    """bmtk 1.2.0 reads /nodes/<pop>/node_id (population.py:166) and fails without it; our
    generator does not write it (SONATA makes it optional). Added to both runs' files."""
    import h5py
    import numpy as np

    added = []
    for path in sorted((circuit.root / "network").glob("*_nodes.h5")):
        with h5py.File(path, "r+") as f:
            for pop, group in f["nodes"].items():
                if "node_id" not in group:
                    n = group["node_type_id"].shape[0]
                    group.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))
                    added.append(f"{path.name}:{pop}")
    # bmtk 1.2.0 (utils/sonata/population.py:441) wants the index dataset under its own
    # name `node_id_to_range`; SONATA/libsonata (and our writer) call it `node_id_to_ranges`.
    # A hard link to the same data gives both names.
    for path in sorted((circuit.root / "network").glob("*_edges.h5")):
        with h5py.File(path, "r+") as f:
            for pop, group in f["edges"].items():
                for index in group.get("indices", {}).values():
                    if "node_id_to_ranges" in index and "node_id_to_range" not in index:
                        index["node_id_to_range"] = index["node_id_to_ranges"]
                        added.append(f"{path.name}:{pop}:{index.name.split('/')[-1]}")
    return added


def _bmtk_config(circuit, out_dir: Path) -> Path:
    """A copy of the simulation config with bmtk's outputs under out_dir."""
    sim = json.loads(circuit.simulation_config.read_text())
    sim["manifest"]["$OUTPUT_DIR"] = str(out_dir)
    sim["network"] = str(circuit.circuit_config)
    path = circuit.root / "simulation_config_bmtk.json"
    path.write_text(json.dumps(sim, indent=2))
    return path


def _env(mpi: bool) -> dict:
    env = dict(os.environ)
    env["NEURON_MODULE_OPTIONS"] = "-nogui"
    env.pop("PYTHONPATH", None)
    if mpi:
        env["MPI_LIB_NRN_PATH"] = str(MPI_LIB)
        env["HDF5_USE_FILE_LOCKING"] = "FALSE"
        env["PEER_MPI"] = "1"
    return env


def _run(cmd: list[str], log: Path, env: dict) -> float:
    started = time.perf_counter()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-25:]
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}); {log}:\n" + "\n".join(tail))
    return time.perf_counter() - started


def run_scenario(name: str, work: Path) -> dict:
    base = work / name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    circuit = scenario_circuit(name, base / "net")
    added = add_node_ids(circuit)
    mpi = name == "mpi2"
    ranks = ["/work/main/.venv/bin/mpiexec", "-n", "2"] if mpi else []
    bmtk_out, ours_out = base / "bmtk", base / "sonatasim"
    bmtk_out.mkdir()
    ours_out.mkdir()
    config = _bmtk_config(circuit, bmtk_out)
    bmtk_py = str(BMTK_VENV / "bin" / "python")
    t_bmtk = _run(
        [*ranks, bmtk_py, str(HERE), "bmtk-run", str(config), str(work / "mech"), str(base / "bmtk_state.json")],
        base / "bmtk.log", _env(mpi),
    )  # fmt: skip
    ours_py = str(PROJECT_VENV / "bin" / "python")
    t_ours = _run(
        [*ranks, ours_py, str(HERE), "sonatasim-run", str(circuit.simulation_config), str(ours_out), str(base / "ours_state.json")],
        base / "sonatasim.log", _env(mpi),
    )  # fmt: skip
    result = {"scenario": name, "description": SCENARIOS[name], "bmtk_s": round(t_bmtk, 2)}
    result["node_id_added"] = added
    result["sonatasim_s"] = round(t_ours, 2)
    result.update(compare(base, bmtk_out, ours_out, circuit))
    return result


# --------------------------------------------------------------------------------------------
# Comparison (project venv)
# --------------------------------------------------------------------------------------------
def read_spikes(path: Path, population: str = "cortex"):
    import h5py
    import numpy as np

    with h5py.File(path) as f:
        group = f[f"spikes/{population}"]
        ids = group["node_ids"][...].astype(np.int64)
        times = group["timestamps"][...].astype(np.float64)
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in group.attrs.items()
        }
    return ids, times, attrs


def compare_spikes(bmtk_file: Path, ours_file: Path) -> dict:
    import numpy as np

    bi, bt, battrs = read_spikes(bmtk_file)
    oi, ot, oattrs = read_spikes(ours_file)
    out = {"bmtk_spikes": int(bi.size), "ours_spikes": int(oi.size)}
    out["file_order_identical"] = bool(np.array_equal(bi, oi) and np.array_equal(bt, ot))
    out["sorting_attr"] = {"bmtk": battrs.get("sorting"), "ours": oattrs.get("sorting")}
    bo, oo = np.lexsort((bi, bt)), np.lexsort((oi, ot))
    bi, bt, oi, ot = bi[bo], bt[bo], oi[oo], ot[oo]
    out["identical"] = bool(np.array_equal(bi, oi) and np.array_equal(bt, ot))
    if out["identical"]:
        return out
    # bmtk writes every spike time as text ('{}'.format, spike_train_buffer.py:481) and reads it
    # back with pandas.read_csv's default (not round-trip) float parser (:526): the last bit
    # or two can change. Same ids, same order and times within 4 ulp = identical up to that.
    if bi.size == oi.size and np.array_equal(bi, oi):
        ulps = np.abs(bt - ot) / np.spacing(np.maximum(np.abs(bt), np.abs(ot)))
        out["max_ulps"] = float(ulps.max())
        out["identical_up_to_bmtk_text_roundtrip"] = bool(ulps.max() <= 4)
    ids = sorted(set(bi.tolist()) | set(oi.tolist()))
    per_cell = {}
    first = None
    for gid in ids:
        b, o = bt[bi == gid], ot[oi == gid]
        n = min(b.size, o.size)
        diff = np.abs(b[:n] - o[:n])
        mism = np.nonzero(diff > 0)[0]
        entry = {"bmtk": int(b.size), "ours": int(o.size)}
        if n:
            entry["max_abs_dt"] = float(diff.max())
        if mism.size or b.size != o.size:
            k = int(mism[0]) if mism.size else n
            t_first = min(b[k] if k < b.size else np.inf, o[k] if k < o.size else np.inf)
            entry["first_mismatch"] = [
                k,
                float(b[k]) if k < b.size else None,
                float(o[k]) if k < o.size else None,
            ]
            if first is None or t_first < first[1]:
                first = (gid, float(t_first))
        per_cell[str(gid)] = entry
    out["per_cell"] = per_cell
    out["first_divergence"] = {"node_id": first[0], "t": first[1]} if first else None
    tmax = max(bt.max(initial=0), ot.max(initial=0))
    out["rate_hz"] = {"bmtk": float(bi.size / len(ids) / (tmax / 1000.0)) if ids else 0.0}
    out["rate_hz"]["ours"] = float(oi.size / len(ids) / (tmax / 1000.0)) if ids else 0.0
    return out


def read_report(path: Path, population: str = "cortex"):
    import h5py
    import numpy as np

    with h5py.File(path) as f:
        g = f[f"report/{population}"]
        data = g["data"][...]
        node_ids = g["mapping/node_ids"][...].astype(np.int64)
        time_ = g["mapping/time"][...]
    return data, node_ids, time_


def compare_reports(bmtk_file: Path, ours_file: Path) -> dict:
    import numpy as np

    if not bmtk_file.exists() or not ours_file.exists():
        return {"missing": [str(p) for p in (bmtk_file, ours_file) if not p.exists()]}
    bd, bn, btime = read_report(bmtk_file)
    od, on, otime = read_report(ours_file)
    out = {"shape": {"bmtk": list(bd.shape), "ours": list(od.shape)}}
    out["time"] = {"bmtk": btime.tolist(), "ours": otime.tolist()}
    out["dtype"] = {"bmtk": str(bd.dtype), "ours": str(od.dtype)}
    out["node_ids"] = {"bmtk": bn.tolist(), "ours": on.tolist()}
    common = [n for n in bn.tolist() if n in on.tolist()]
    b = bd[:, [bn.tolist().index(n) for n in common]].astype(np.float32)
    o = od[:, [on.tolist().index(n) for n in common]].astype(np.float32)
    best = None
    for shift in (-1, 0, 1):  # ours row k+shift vs bmtk row k
        lo, hi = max(0, -shift), min(b.shape[0], o.shape[0] - shift)
        d = np.abs(b[lo:hi] - o[lo + shift : hi + shift])
        entry = {
            "rows": int(hi - lo),
            "max_abs": float(d.max()),
            "exact_rows": int(np.all(d == 0, axis=1).sum()),
        }
        bad = np.nonzero(np.any(d > 0, axis=1))[0]
        entry["first_bad_row"] = int(bad[0] + lo) if bad.size else None
        out[f"shift_{shift}"] = entry
        if best is None or entry["max_abs"] < out[f"shift_{best}"]["max_abs"]:
            best = shift
    out["best_shift"] = best
    out["identical_at_best_shift"] = out[f"shift_{best}"]["max_abs"] == 0.0
    out["v0"] = {"bmtk_row0": b[0].tolist(), "ours_row0": o[0].tolist()}
    return out


def _load_states(base: Path, stem: str) -> dict:
    cells, conns, clamps, glob = {}, [], [], None
    for part in sorted(base.glob(f"{stem}.json.*")):
        state = json.loads(part.read_text())
        cells.update(state["cells"])
        conns += state["connections"]
        clamps += state["iclamps"]
        glob = glob or {k: state[k] for k in ("celsius", "v_init", "dt", "t_end", "secondorder")}
    return {"cells": cells, "connections": conns, "iclamps": clamps, "globals": glob}


def _close(a, b, rel=1e-12):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= rel * max(abs(a), abs(b))
    return a == b


def compare_models(base: Path) -> dict:
    """Differences between the NEURON models both built (first few of each kind)."""
    b, o = _load_states(base, "bmtk_state"), _load_states(base, "ours_state")
    diffs: dict[str, list] = {}

    def note(kind, item):
        diffs.setdefault(kind, [])
        if len(diffs[kind]) < 6:
            diffs[kind].append(item)
        diffs.setdefault(f"{kind}_count", [0])[0] += 1

    for k in b["globals"]:
        if not _close(b["globals"][k], o["globals"][k]):
            note("globals", {k: [b["globals"][k], o["globals"][k]]})
    if set(b["cells"]) != set(o["cells"]):
        note("cells", {"bmtk": sorted(b["cells"]), "ours": sorted(o["cells"])})
    for gid in sorted(set(b["cells"]) & set(o["cells"]), key=int):
        bc, oc = b["cells"][gid], o["cells"][gid]
        if bc.get("threshold") != oc.get("threshold") or bc.get("detector") != oc.get("detector"):
            note(
                "detector",
                {
                    "gid": gid,
                    "bmtk": [bc.get("threshold"), bc.get("detector")],
                    "ours": [oc.get("threshold"), oc.get("detector")],
                },
            )
        bs = {s["name"]: s for s in bc["sections"]}
        os_ = {s["name"]: s for s in oc["sections"]}
        if [s["name"] for s in bc["sections"]] != [s["name"] for s in oc["sections"]]:
            note("section_order", {"gid": gid, "bmtk": list(bs), "ours": list(os_)})
        for name in sorted(set(bs) & set(os_)):
            sb, so = bs[name], os_[name]
            for key in ("L", "Ra", "nseg", "parent", "n3d"):
                if not _close(sb[key], so[key]):
                    note(
                        f"section.{key}",
                        {"gid": gid, "section": name, "bmtk": sb[key], "ours": so[key]},
                    )
            for segb, sego in zip(sb["segments"], so["segments"], strict=False):
                for key in set(segb) | set(sego):
                    if not _close(segb.get(key), sego.get(key), 1e-9):
                        note(
                            f"segment.{key}",
                            {
                                "gid": gid,
                                "section": name,
                                "x": segb["x"],
                                "bmtk": segb.get(key),
                                "ours": sego.get(key),
                            },
                        )

    def conn_key(c):
        return (
            c["gid"],
            c["section"],
            round(c["x"], 9),
            round(c.get("tau1", 0), 9),
            round(c.get("tau2", 0), 9),
            c.get("e"),
            c["srcgid"] >= 0,
        )

    def by_key(conns):
        out = {}
        for c in conns:
            out.setdefault(conn_key(c), []).append((c["weight"], c["delay"]))
        return {k: sorted(v) for k, v in out.items()}

    cb, co = by_key(b["connections"]), by_key(o["connections"])
    summary = {"bmtk_netcons": len(b["connections"]), "ours_netcons": len(o["connections"])}
    summary["bmtk_mechs"] = sorted({c["mech"] for c in b["connections"]})
    summary["ours_mechs"] = sorted({c["mech"] for c in o["connections"]})
    for key in sorted(set(cb) | set(co), key=str):
        if cb.get(key) != co.get(key):
            note(
                "netcons",
                {
                    "where": list(key),
                    "bmtk (w, delay)": cb.get(key),
                    "ours (w, delay)": co.get(key),
                },
            )

    def placement(conns):
        import numpy as np

        kinds: dict[str, int] = {}
        for c in conns:
            kinds[c["section"].split("[")[0]] = kinds.get(c["section"].split("[")[0], 0) + 1
        dend_x = [c["x"] for c in conns if c["section"].startswith("dend")]
        return {
            "per_section_type": kinds,
            "dend_x_mean": float(np.mean(dend_x)) if dend_x else None,
            "dend_x_hist": np.histogram(dend_x, bins=5, range=(0, 1))[0].tolist(),
        }

    summary["placement"] = {
        "bmtk": placement(b["connections"]),
        "ours": placement(o["connections"]),
    }

    def cl(s):
        return sorted((c["gid"], c["section"], c["x"], c["amp"], c["delay"], c["dur"]) for c in s)

    if cl(b["iclamps"]) != cl(o["iclamps"]):
        note(
            "iclamps",
            {
                "bmtk": cl(b["iclamps"])[:4],
                "ours": cl(o["iclamps"])[:4],
                "n": [len(b["iclamps"]), len(o["iclamps"])],
            },
        )
    return {"summary": summary, "differences": diffs}


def compare(base: Path, bmtk_out: Path, ours_out: Path, circuit) -> dict:
    out = {"spikes": compare_spikes(bmtk_out / "spikes.h5", ours_out / "spikes.h5")}
    out["report"] = compare_reports(
        bmtk_out / "membrane_potential.h5", ours_out / "membrane_potential.h5"
    )
    out["model"] = compare_models(base)
    return out


def setup(work: Path) -> None:
    if not (BMTK_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(BMTK_VENV)], check=True)
        pip = str(BMTK_VENV / "bin" / "pip")
        subprocess.run(  # pandas 3 empties bmtk 1.2's node sets; mpi4py for 2 ranks
            [pip, "install", "bmtk==1.2.0", "neuron==9.0.2", "pandas<3", "mpi4py", "mpich"],
            check=True,
        )
    mech = work / "mech"
    if mech.exists():
        shutil.rmtree(mech)
    mech.mkdir(parents=True)
    for mod in (REPO / "mod").glob("*.mod"):
        shutil.copy(mod, mech / mod.name)
    subprocess.run(
        [str(BMTK_VENV / "bin" / "nrnivmodl"), "."], cwd=mech, check=True, capture_output=True
    )
    print(f"bmtk venv {BMTK_VENV}; mechanisms compiled in {mech}")


def headline(r: dict) -> str:
    s, rep, m = r["spikes"], r["report"], r["model"]
    verdict = "IDENTICAL" if s["identical"] else "DIFFER"
    if s.get("identical_up_to_bmtk_text_roundtrip"):
        verdict = f"IDENTICAL up to bmtk's csv round trip (<= {s['max_ulps']:.0f} ulp)"
    parts = [f"spikes {verdict} ({s['bmtk_spikes']} bmtk / {s['ours_spikes']} ours)"]
    if (
        not s["identical"]
        and not s.get("identical_up_to_bmtk_text_roundtrip")
        and s.get("first_divergence")
    ):
        parts.append(
            f"first divergence node {s['first_divergence']['node_id']} t={s['first_divergence']['t']:.3f}"
        )
    if "best_shift" in rep:
        best = rep[f"shift_{rep['best_shift']}"]["max_abs"]
        parts.append(f"v best shift {rep['best_shift']} max|dv| {best:.3g}")
    kinds = [k for k in m["differences"] if not k.endswith("_count")]
    parts.append(
        "model diffs: "
        + (", ".join(f"{k}x{m['differences'][k + '_count'][0]}" for k in kinds) or "none")
    )
    return "; ".join(parts)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "bmtk-run":
        bmtk_main(*sys.argv[2:5])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "sonatasim-run":
        sonatasim_main(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["setup", "run", "list"])
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()
    work = args.work.resolve()
    if args.command == "list":
        for k, v in SCENARIOS.items():
            print(f"{k:18s} {v}")
        return
    if args.command == "setup":
        setup(work)
        return
    if not (work / "mech").exists():
        setup(work)
    names = args.scenarios or list(SCENARIOS)
    results_file = work / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for name in names:
        try:
            r = run_scenario(name, work)
        except Exception as exc:  # noqa: BLE001 (report and go on)
            r = {"scenario": name, "error": str(exc)}
            print(f"{name:18s} ERROR {exc}", flush=True)
        else:
            print(f"{name:18s} {headline(r)}", flush=True)
        results[name] = r
        results_file.write_text(json.dumps(results, indent=1))
    print(f"details: {results_file}")


if __name__ == "__main__":
    main()
