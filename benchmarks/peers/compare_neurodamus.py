"""Peer comparison: the same generated BBP-style circuit through neurodamus and sonatasim.

    .venv/bin/python benchmarks/peers/compare_neurodamus.py [--scenario NAME ...]
        [--workdir /tmp/ndpeer] [--nd-venv /tmp/ndvenv] [--nd-ranks 1] [--ss-ranks 1]

Needs neurodamus in its own venv (see benchmarks/peers/README.md):
    python3 -m venv /tmp/ndvenv && /tmp/ndvenv/bin/pip install neurodamus==4.2.9 neuron==9.0.2

For every scenario this script
  1. writes a circuit (BBP hoc templates with _NeededAttributes, the C060114A7 morphology,
     BBP edge attributes, a virtual population replayed through synapse_replay) and a
     `mechanisms_dir` holding copies of OUR mod/sonatasim_prob_ampanmda.mod and
     mod/sonatasim_prob_gabaab.mod renamed to ProbAMPANMDA_EMS / ProbGABAAB_EMS, used by
     both tools (nothing from neurodamus is copied into the repository);
  2. compiles neurodamus' own data/mod (from the installed wheel) with the circuit's
     mechanisms and -DDISABLE_REPORTINGLIB (no libsonatareport on PyPI), cached by content;
  3. runs neurodamus through nd_driver.py (spikes from its pc.spike_record vectors, soma
     voltages from Vector.record, since its SONATA writers are no-ops without the library);
  4. runs `sonatasim run` on the same config plus a soma-voltage compartment report;
  5. compares (node_id, time) spike pairs bit for bit and soma voltages at float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.generate.base import add_edges, new_circuit, poisson_spikes  # noqa: E402
from engine.io.sonata_writer import (  # noqa: E402
    write_circuit_config,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import write_spike_file  # noqa: E402
from tests.test_bbp_support import template_text as bbp_template_text  # noqa: E402

HERE = Path(__file__).resolve().parent
MORPHOLOGIES = REPO.parent / "shared" / "data" / "morphologies"
MORPHOLOGY = "C060114A7"  # soma 1, axon 128, dend 66, apic 130 sections (Import3d order)
N_SOMA, N_AXON, N_DEND, N_APIC = 1, 128, 66, 130
FIRST_DEND = N_SOMA + N_AXON
FIRST_APIC = FIRST_DEND + N_DEND
SS_VENV = REPO / ".venv"
MPIEXEC = SS_VENV / "bin" / "mpiexec"
LIBMPI = SS_VENV / "lib" / "libmpi.so.12"
OUR_MODS = {
    "ProbAMPANMDA_EMS": ("sonatasim_prob_ampanmda.mod", "SonataProbAMPANMDA"),
    "ProbGABAAB_EMS": ("sonatasim_prob_gabaab.mod", "SonataProbGABAAB"),
}

# --------------------------------------------------------------------------------------
# circuit
# --------------------------------------------------------------------------------------


def template_text(name: str, *, needed: bool) -> str:
    """The tests' BBP-style template (tests/test_bbp_support.py), indexed, plus what
    neurodamus also needs: `synlist`, `synHelperList` and `clear()` (it appends every
    synapse and helper object to the lists; METype.__del__ calls clear()), and
    `re_init_rng` (stores the seed as `channel_seed`)."""
    text = bbp_template_text(name, needed=needed, indexed=True)
    extra = {
        "public ais_scaler, soma_scaler\n": "public ais_scaler, soma_scaler, re_init_rng,"
        " channel_seed\npublic synlist, synHelperList, clear\n",
        "objref all, somatic, axonal, basal, apical, this\n": "objref all, somatic, axonal,"
        " basal, apical, this, synlist, synHelperList\n",
        "    soma_scaler = 1\n": "    soma_scaler = 1\n    channel_seed = 0\n"
        "    synlist = new List()\n    synHelperList = new List()\n",
        f"endtemplate {name}": "proc re_init_rng() { channel_seed = $1 }\n\n"
        "// neurodamus appends every synapse and helper to these lists and calls clear()\n"
        "proc clear() {\n    synlist = new List()\n    synHelperList = new List()\n}\n"
        f"endtemplate {name}",
    }
    for old, replacement in extra.items():
        assert text.count(old) == 1, old
        text = text.replace(old, replacement)
    return text


@dataclass
class Scenario:
    name: str
    doc: str
    n_cells: int = 10
    n_inh: int = 2  # the last n_inh cells are inhibitory
    n_fibres: int = 10
    fibre_rate: float = 30.0
    syn_per_cell: int = 14
    recurrent_per_cell: int = 6
    tstop: float = 300.0
    dt: float = 0.025
    deterministic: bool = False  # u_syn 1, Fac 0, Dep tiny, Nrrp 1: releases never random
    minis: bool = False
    noise: bool = False
    run: dict = field(default_factory=dict)
    conditions: dict = field(default_factory=dict)
    fibre_pop: str = "thalamus"
    replay_delay: float = 0.0  # synapse_replay `delay`: earlier spikes are dropped
    node_set: str = "Cortex"  # simulated node set
    extra_inputs: dict = field(default_factory=dict)
    extra_config: dict = field(default_factory=dict)  # e.g. connection_overrides
    nd_ranks: int = 1
    ss_ranks: int = 1
    seed: int = 11
    expected_to_differ: bool = False  # a documented, intended deviation


def _section_ids(rng: np.random.Generator, n: int, removed_axon: bool) -> np.ndarray:
    """Soma, dendrites, apicals, replacement-axon ids 1-2 (and a removed axon id)."""
    pool = [
        np.zeros(4, np.int64),
        rng.choice(np.arange(FIRST_DEND, FIRST_APIC), 8, replace=False),
        rng.choice(np.arange(FIRST_APIC, FIRST_APIC + N_APIC), 8, replace=False),
        np.array([1, 2]),
    ]
    if removed_axon:
        pool.append(np.array([40]))
    return rng.choice(np.concatenate(pool), n)


def _bbp_attributes(
    rng: np.random.Generator, n: int, syn_type: np.ndarray, sc: Scenario, with_optional: bool
) -> dict[str, np.ndarray]:
    if sc.deterministic:
        u = np.ones(n)
        dep = np.full(n, 1e-3)
        fac = np.zeros(n)
        nrrp = np.ones(n, np.int64)
    else:
        u = np.round(rng.uniform(0.3, 0.8, n), 3) * rng.choice([1.0, -1.0], n)
        dep = np.round(rng.uniform(100.0, 600.0, n), 2)
        fac = np.round(rng.uniform(5.0, 50.0, n), 2) * rng.choice([1.0, -1.0], n)
        nrrp = rng.choice([-1, 1, 2, 3], n).astype(np.int64)
    attrs = {
        "conductance": np.round(rng.uniform(4.0, 10.0, n), 3),
        "u_syn": u,
        "depression_time": dep,
        "facilitation_time": fac,
        "decay_time": np.where(syn_type < 100, 8.0, np.round(rng.uniform(1.5, 2.5, n), 3)),
        "n_rrp_vesicles": nrrp,
        "syn_type_id": syn_type.astype(np.int64),
        # not multiples of dt on purpose (delay truncation)
        "delay": np.round(rng.uniform(0.5, 3.0, n), 4),
        "afferent_section_id": _section_ids(rng, n, removed_axon=not sc.deterministic),
        "afferent_section_pos": np.round(rng.uniform(-0.1, 1.1, n), 3),
    }
    if with_optional and not sc.deterministic:
        attrs["conductance_scale_factor"] = rng.choice([0.4, 0.7, -1.0], n)
        attrs["u_hill_coefficient"] = np.round(rng.uniform(1.0, 3.0, n), 3)
    return attrs


def write_circuit(root: Path, sc: Scenario) -> dict[str, Path]:
    rng = np.random.default_rng(sc.seed)
    if root.exists():
        shutil.rmtree(root)
    circuit = new_circuit(root)
    n = sc.n_cells
    fib = sc.fibre_pop
    circuit.populations = {"cortex": n, fib: sc.n_fibres}
    models = root / "templates"
    models.mkdir()
    templates = {"PeerNeededCell": True, "PeerPlainCell": False}
    for name, needed in templates.items():
        (models / f"{name}.hoc").write_text(template_text(name, needed=needed))
    mechs = root / "mechanisms"
    mechs.mkdir()
    for name, (ours, our_name) in OUR_MODS.items():
        text = (REPO / "mod" / ours).read_text()
        kind = "POINT_PROCESS"
        assert f"{kind} {our_name}" in text, f"{ours} does not declare {kind} {our_name}"
        (mechs / f"{name}.mod").write_text(text.replace(f"{kind} {our_name}", f"{kind} {name}"))

    names = np.array(
        [f"hoc:{'PeerNeededCell' if i % 2 == 0 else 'PeerPlainCell'}" for i in range(n)],
        dtype=object,
    )
    inh = np.arange(n) >= n - sc.n_inh
    x, y, z = rng.uniform(0.0, 200.0, (3, n))
    attrs = {
        "model_type": np.full(n, "biophysical", dtype=object),
        "model_template": names,
        "morphology": np.full(n, MORPHOLOGY, dtype=object),
        "mtype": np.where(inh, "L4_BC", "L4_PC").astype(object),
        "etype": np.where(inh, "cNAC", "cADpyr").astype(object),
        "x": x,
        "y": y,
        "z": z,
    }
    if sc.minis:
        attrs["exc_mini_frequency"] = np.round(rng.uniform(1.0, 4.0, n), 2)
        attrs["inh_mini_frequency"] = np.round(rng.uniform(1.0, 4.0, n), 2)
    dynamics = {
        "AIS_scaler": np.round(rng.uniform(1.0, 2.0, n), 3),
        "soma_scaler": np.full(n, 1.5),
        "threshold_current": np.round(rng.uniform(0.05, 0.15, n), 4),
        "holding_current": np.round(rng.uniform(-0.05, 0.0, n), 4),
        "input_resistance": np.round(rng.uniform(50.0, 150.0, n), 2),  # conductance inputs
    }
    write_nodes(root / "nodes.h5", "cortex", attrs, dynamics=dynamics)
    write_nodes(root / "nodes.h5", fib, {"model_type": np.full(sc.n_fibres, "virtual")})

    tgt = np.repeat(np.arange(n), sc.syn_per_cell)
    src = rng.integers(0, sc.n_fibres, tgt.size)
    exc = np.full(tgt.size, 113)
    add_edges(circuit, f"{fib}__cortex", fib, "cortex", src, tgt,
              _bbp_attributes(rng, tgt.size, exc, sc, with_optional=True))  # fmt: skip
    tgt = np.repeat(np.arange(n), sc.recurrent_per_cell)
    src = (tgt + rng.integers(1, n, tgt.size)) % n
    syn_type = np.where(inh[src], 13, 120)
    add_edges(circuit, "cortex__cortex", "cortex", "cortex", src, tgt,
              _bbp_attributes(rng, tgt.size, syn_type, sc, with_optional=False))  # fmt: skip
    spikes = poisson_spikes(sc.n_fibres, sc.fibre_rate, sc.tstop, rng)
    write_spike_file(root / "input_spikes.h5", {fib: spikes})

    write_node_sets(
        root / "node_sets.json",
        {
            "Cortex": {"population": "cortex"},
            "Thalamus": {"population": fib},
            "Even": {"population": "cortex", "node_id": list(range(0, n, 2))},
            "Odd": {"population": "cortex", "node_id": list(range(1, n, 2))},
            "First8": {"population": "cortex", "node_id": list(range(min(8, n)))},
            "Single": {"population": "cortex", "node_id": [3]},
        },
    )
    write_circuit_config(
        root / "circuit_config.json",
        nodes=[
            {
                "nodes_file": str(root / "nodes.h5"),
                "populations": {
                    "cortex": {"type": "biophysical"},
                    fib: {"type": "virtual"},
                },
            }
        ],
        edges=[
            {
                "edges_file": str(root / "edges.h5"),
                "populations": {
                    f"{fib}__cortex": {"type": "chemical"},
                    "cortex__cortex": {"type": "chemical"},
                },
            }
        ],
        components={
            "morphologies_dir": str(MORPHOLOGIES),
            "alternate_morphologies": {"neurolucida-asc": str(MORPHOLOGIES)},
            "biophysical_neuron_models_dir": str(models),
            "mechanisms_dir": str(mechs),
        },
        node_sets_file=str(root / "node_sets.json"),
    )
    inputs: dict = {
        "fibres": {
            "module": "synapse_replay",
            "input_type": "spikes",
            "delay": sc.replay_delay,
            "duration": sc.tstop,
            "node_set": "Cortex",
            "spike_file": str(root / "input_spikes.h5"),
        }
    }
    if sc.noise:
        inputs["noise_a"] = {
            "module": "noise",
            "input_type": "current_clamp",
            "delay": 20.0,
            "duration": 200.0,
            "node_set": "Cortex",
            "mean": 0.02,
            "variance": 0.002,
        }
        inputs["shot_a"] = {
            "module": "shot_noise",
            "input_type": "current_clamp",
            "delay": 10.0,
            "duration": 250.0,
            "node_set": "Cortex",
            "rise_time": 0.4,
            "decay_time": 4.0,
            "rate": 200.0,
            "amp_mean": 0.03,
            "amp_var": 0.0004,
        }
    inputs.update(sc.extra_inputs)
    run = {"tstop": sc.tstop, "dt": sc.dt, "random_seed": 3, "spike_threshold": -30.0}
    run.update(sc.run)
    conditions = {"celsius": 6.3, "v_init": -65.0}
    conditions.update(sc.conditions)
    configs = {}
    for tool in ("nd", "ss"):
        reports = None
        if tool == "ss":
            reports = {
                "soma_v": {
                    "type": "compartment",
                    "cells": sc.node_set,
                    "sections": "soma",
                    "variable_name": "v",
                    "dt": sc.dt,
                    "start_time": 0.0,
                    "end_time": sc.tstop,
                }
            }
        path = root / f"simulation_config_{tool}.json"
        write_simulation_config(
            path,
            network=str(root / "circuit_config.json"),
            run=run,
            conditions=conditions,
            output={"output_dir": str(root / f"out_{tool}"), "spikes_file": "spikes.h5"},
            inputs=inputs,
            reports=reports,
            node_sets_file=str(root / "node_sets.json"),
            node_set=sc.node_set,
            extra=sc.extra_config or None,
        )
        configs[tool] = path
    return configs


# --------------------------------------------------------------------------------------
# running the tools
# --------------------------------------------------------------------------------------


def nd_package(nd_venv: Path) -> Path:
    out = subprocess.run(
        [str(nd_venv / "bin" / "python"), "-c",
         "import neurodamus, os; print(os.path.dirname(neurodamus.__file__))"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


def build_nd_mechanisms(nd_venv: Path, mech_dir: Path, workdir: Path) -> Path:
    """neurodamus' data/mod + the circuit's mechanisms, no libsonatareport; cached."""
    nd_mods = nd_package(nd_venv) / "data" / "mod"
    files = sorted(nd_mods.glob("*.mod")) + sorted(mech_dir.glob("*.mod"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    build = workdir / f"ndbuild-{digest.hexdigest()[:16]}"
    lib = build / "x86_64" / "libnrnmech.so"
    if lib.exists():
        return lib
    if build.exists():
        shutil.rmtree(build)
    (build / "mods").mkdir(parents=True)
    for f in files:
        shutil.copy(f, build / "mods" / f.name)
    env = {**os.environ, "PATH": f"{nd_venv / 'bin'}:{os.environ['PATH']}"}
    with open(build / "build.log", "w") as log:
        subprocess.run(
            [str(nd_venv / "bin" / "nrnivmodl"), "-incflags", "-DDISABLE_REPORTINGLIB", "mods"],
            cwd=build, env=env, stdout=log, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip
    return lib


def run_neurodamus(nd_venv: Path, config: Path, lib: Path, ranks: int) -> tuple[Path, float]:
    out = config.parent / "out_nd"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    env = {
        **os.environ,
        "NRNMECH_LIB_PATH": str(lib),
        "HOC_LIBRARY_PATH": str(nd_package(nd_venv) / "data" / "hoc"),
        "MPI_LIB_NRN_PATH": str(LIBMPI),
        "PATH": f"{nd_venv / 'bin'}:{os.environ['PATH']}",
    }
    env.pop("VIRTUAL_ENV", None)
    cmd = [str(MPIEXEC), "-n", str(ranks), str(nd_venv / "bin" / "python"),
           str(HERE / "nd_driver.py"), str(config), str(out)]  # fmt: skip
    t0 = time.perf_counter()
    with open(out / "nd.log", "w") as log:
        rc = subprocess.run(cmd, cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc:
        raise RuntimeError(f"neurodamus failed (rc {rc}), see {out / 'nd.log'}")
    return out, time.perf_counter() - t0


def dump_models(nd_venv: Path, configs: dict[str, Path], lib: Path, patches: str = "") -> dict:
    """Build (not run) the model in both tools, describe it with model_dump.py, diff."""
    root = configs["nd"].parent
    out = root / "dump"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    env = {
        **os.environ,
        "ND_DUMP_MODEL": "1",
        "NRNMECH_LIB_PATH": str(lib),
        "HOC_LIBRARY_PATH": str(nd_package(nd_venv) / "data" / "hoc"),
        "MPI_LIB_NRN_PATH": str(LIBMPI),
    }
    env.pop("VIRTUAL_ENV", None)
    with open(out / "nd.log", "w") as log:
        subprocess.run([str(MPIEXEC), "-n", "1", str(nd_venv / "bin" / "python"),
                        str(HERE / "nd_driver.py"), str(configs["nd"]), str(out)],
                       cwd=out, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    ss_env = {**os.environ, "SS_PATCH": patches}
    with open(out / "ss.log", "w") as log:
        subprocess.run([str(SS_VENV / "bin" / "python"), str(HERE / "ss_dump.py"),
                        str(configs["ss"]), str(out / "ss_model.json")],
                       cwd=out, env=ss_env, stdout=log, stderr=subprocess.STDOUT, check=True)  # fmt: skip
    a = json.loads((out / "model_rank0.json").read_text())
    b = json.loads((out / "ss_model.json").read_text())
    return diff_models(a, b)


def diff_models(a: dict, b: dict) -> dict:
    """Per field: how many synapses / NetCons differ, with the first example."""
    sa, sb = a["synapses"], b["synapses"]
    res: dict = {
        "globals": {
            k: (a["globals"].get(k), b["globals"].get(k))
            for k in set(a["globals"]) | set(b["globals"])
            if a["globals"].get(k) != b["globals"].get(k)
        },  # fmt: skip
        "synapses": (len(sa), len(sb)),
        "only_neurodamus": sorted(set(sa) - set(sb))[:5],
        "only_sonatasim": sorted(set(sb) - set(sa))[:5],
        "fields": {},
        "stimuli": (len(a["stimuli"]), len(b["stimuli"])),
    }
    fields: dict[str, list] = {}

    def note(name: str, example: tuple) -> None:
        entry = fields.setdefault(name, [0, example])
        entry[0] += 1

    for key in sorted(set(sa) & set(sb)):
        x, y = sa[key], sb[key]
        for p in sorted((set(x) | set(y)) - {"netcons"}):
            if x.get(p) != y.get(p):
                note(p, (key, x.get(p), y.get(p)))
        nx, ny = x["netcons"], y["netcons"]
        if len(nx) != len(ny):
            note("netcon_count", (key, [n["kind"] for n in nx], [n["kind"] for n in ny]))
        for p, q in zip(nx, ny, strict=False):
            for f in sorted((set(p) | set(q)) - {"kind"}):
                if p.get(f) != q.get(f):
                    note(f"netcon.{f}", (key, p["kind"], q["kind"], p.get(f), q.get(f)))
    res["fields"] = {k: {"count": v[0], "example": v[1]} for k, v in fields.items()}
    return res


def run_sonatasim(config: Path, ranks: int, patches: str = "") -> tuple[Path, float]:
    out = config.parent / "out_ss"
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ)
    if patches:  # proposed fixes as monkeypatches (ss_patched.py); engine/ is untouched
        cmd = [str(SS_VENV / "bin" / "python"), str(HERE / "ss_patched.py"), patches, "--"]
    else:
        cmd = [str(SS_VENV / "bin" / "sonatasim")]
    cmd += ["run", str(config), "--no-progress"]
    if ranks > 1:
        env["MPI_LIB_NRN_PATH"] = str(LIBMPI)
        cmd = [str(MPIEXEC), "-n", str(ranks), *cmd]
    t0 = time.perf_counter()
    log_path = config.parent / "ss.log"
    with open(log_path, "w") as log:
        rc = subprocess.run(
            cmd, cwd=config.parent, env=env, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    if rc:
        raise RuntimeError(f"sonatasim failed (rc {rc}), see {log_path}")
    return out, time.perf_counter() - t0


# --------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------


def nd_results(out: Path) -> tuple[dict, dict]:
    spikes: dict[str, list] = {}
    volts: dict[tuple[str, int], np.ndarray] = {}
    for f in sorted(out.glob("nd_rank*.npz")):
        d = np.load(f, allow_pickle=False)
        for pop, off, t, g in zip(d["spike_pop"], d["spike_offset"], d["spike_time"],
                                  d["spike_gid"], strict=True):  # fmt: skip
            spikes.setdefault(str(pop), []).append((int(g) - int(off), float(t)))
        if "v" in d:
            for pop, node, v in zip(d["v_pop"], d["v_node"], d["v"], strict=True):
                volts[(str(pop), int(node))] = v
    return {p: sorted(s) for p, s in spikes.items()}, volts


def ss_results(out: Path) -> tuple[dict, dict]:
    spikes: dict[str, list] = {}
    with h5py.File(out / "spikes.h5", "r") as f:
        for pop, grp in f["spikes"].items():
            ids, ts = grp["node_ids"][()], grp["timestamps"][()]
            spikes[pop] = sorted(zip(ids.astype(int).tolist(), ts.astype(float).tolist(),
                                     strict=True))  # fmt: skip
    volts = {}
    rep = out / "soma_v.h5"
    if rep.exists():
        with h5py.File(rep, "r") as f:
            for pop, grp in f["report"].items():
                data = grp["data"][()]
                nodes = grp["mapping/node_ids"][()]
                ptr = grp["mapping/index_pointers"][()]
                for i, node in enumerate(nodes):
                    volts[(pop, int(node))] = data[:, ptr[i]]
    return spikes, volts


def compare(nd: tuple[dict, dict], ss: tuple[dict, dict]) -> dict:
    (nd_sp, nd_v), (ss_sp, ss_v) = nd, ss
    res: dict = {"spikes": {}, "voltages": {}}
    for pop in sorted(set(nd_sp) | set(ss_sp)):
        a, b = nd_sp.get(pop, []), ss_sp.get(pop, [])
        sa, sb = set(a), set(b)
        entry = {"neurodamus": len(a), "sonatasim": len(b), "identical": a == b}
        if a != b:
            entry["only_neurodamus"] = sorted(sa - sb)[:10]
            entry["only_sonatasim"] = sorted(sb - sa)[:10]
            first = [(x, y) for x, y in zip(a, b, strict=False) if x != y][:1]
            entry["first_difference"] = first
            per_node = {}
            for node in sorted({s[0] for s in a} | {s[0] for s in b}):
                ta = [t for n_, t in a if n_ == node]
                tb = [t for n_, t in b if n_ == node]
                if ta != tb:
                    k = next((i for i, (x, y) in enumerate(zip(ta, tb, strict=False)) if x != y),
                             min(len(ta), len(tb)))  # fmt: skip
                    per_node[node] = {
                        "n": (len(ta), len(tb)),
                        "first_diff_index": k,
                        "nd": ta[k : k + 2],
                        "ss": tb[k : k + 2],
                    }
            entry["per_node"] = per_node
        res["spikes"][pop] = entry
    for key in sorted(set(nd_v) & set(ss_v)):
        a, b = nd_v[key], ss_v[key]
        n = min(a.size, b.size)
        a32, b32 = a[:n].astype(np.float32), b[:n].astype(np.float32)
        bad = np.nonzero(a32 != b32)[0]
        res["voltages"][f"{key[0]}/{key[1]}"] = {
            "frames": int(n),
            "lengths": (int(a.size), int(b.size)),
            "identical_f32": bool(bad.size == 0),
            "first_bad_frame": int(bad[0]) if bad.size else None,
            "max_abs_diff_mV": float(np.max(np.abs(a[:n] - b[:n].astype(np.float64)))),
        }
    res["voltages_missing"] = {
        "only_neurodamus": [f"{p}/{k}" for p, k in sorted(set(nd_v) - set(ss_v))],
        "only_sonatasim": [f"{p}/{k}" for p, k in sorted(set(ss_v) - set(nd_v))],
    }
    return res


# --------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------

INPUTS_EXTRA = {
    "rel_shot": {
        "module": "relative_shot_noise", "input_type": "current_clamp", "delay": 30.0,
        "duration": 200.0, "node_set": "Even", "rise_time": 0.5, "decay_time": 5.0,
        "mean_percent": 20.0, "sd_percent": 10.0, "relative_skew": 0.6, "dt": 0.25,
    },
    "abs_shot": {
        "module": "absolute_shot_noise", "input_type": "current_clamp", "delay": 5.0,
        "duration": 250.0, "node_set": "Odd", "rise_time": 0.5, "decay_time": 5.0,
        "mean": 0.02, "sigma": 0.01, "dt": 0.25,
    },
    "ou": {
        "module": "ornstein_uhlenbeck", "input_type": "current_clamp", "delay": 0.0,
        "duration": 280.0, "node_set": "Cortex", "tau": 3.0, "mean": 0.01, "sigma": 0.01,
        "dt": 0.25,
    },
    "rel_ou_g": {
        "module": "relative_ornstein_uhlenbeck", "input_type": "conductance", "delay": 40.0,
        "duration": 150.0, "node_set": "Even", "tau": 2.0, "mean_percent": 1.0,
        "sd_percent": 0.5, "reversal": 0.0, "dt": 0.25,
    },
    "rel_noise": {
        "module": "noise", "input_type": "current_clamp", "delay": 0.0, "duration": 290.0,
        "node_set": "Odd", "mean_percent": 10.0, "variance": 0.5,
    },
    "pulse": {
        "module": "pulse", "input_type": "current_clamp", "delay": 50.0, "duration": 103.0,
        "node_set": "Even", "amp_start": 0.05, "width": 3.0, "frequency": 40.0,
    },
    "sine": {
        "module": "sinusoidal", "input_type": "current_clamp", "delay": 60.0, "duration": 100.0,
        "node_set": "Odd", "amp_start": 0.03, "frequency": 15.0, "dt": 0.025,
    },
    "ramp": {
        "module": "linear", "input_type": "current_clamp", "delay": 100.0, "duration": 80.0,
        "node_set": "Cortex", "amp_start": 0.0, "amp_end": 0.04,
    },
    "rel_ramp": {
        "module": "relative_linear", "input_type": "current_clamp", "delay": 200.0,
        "duration": 50.0, "node_set": "Even", "percent_start": 10.0, "percent_end": 30.0,
    },
    "sub": {
        "module": "subthreshold", "input_type": "current_clamp", "delay": 150.0,
        "duration": 40.0, "node_set": "Odd", "percent_less": 80.0,
    },
    "pulse_electrode": {
        "module": "pulse", "input_type": "current_clamp", "delay": 20.0, "duration": 60.0,
        "node_set": "Odd", "amp_start": 0.04, "width": 2.0, "frequency": 50.0,
        "represents_physical_electrode": True,
    },
    "clamp": {
        "module": "seclamp", "input_type": "voltage_clamp", "delay": 0.0, "duration": 20.0,
        "node_set": "Single", "voltage": -60.0, "series_resistance": 0.05,
    },
    "hyper": {
        "module": "hyperpolarizing", "input_type": "current_clamp", "delay": 0.0,
        "duration": 300.0, "node_set": "Cortex",
    },
}  # fmt: skip

OVERRIDES = [
    {"name": "vpm_all", "source": "Thalamus", "target": "Cortex", "weight": 1.3},
    {"name": "vpm_even", "source": "Thalamus", "target": "Even", "weight": 1.1,
     "synapse_delay_override": 1.0, "synapse_configure": "%s.tau_d_AMPA = 2.2"},
    {"name": "rec", "source": "Cortex", "target": "Cortex", "spont_minis": 3.0},
]  # fmt: skip

SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "deterministic",
            "u_syn 1, Fac 0, Dep 1 us, Nrrp 1: every release certain; replay + recurrent "
            "synapses, soma spike detection, no Ca scaling, no minis, no noise",
            deterministic=True,
        ),
        Scenario(
            "stochastic",
            "random TM parameters and Nrrp, conductance_scale_factor, extracellular_calcium, "
            "randomize_gaba_rise_time, synapse_seed, AIS detection, a removed-axon section id",
            run={"synapse_seed": 7},
            conditions={
                "spike_location": "AIS",
                "extracellular_calcium": 1.6,
                "randomize_gaba_rise_time": True,
            },
        ),
        Scenario(
            "minis",
            "stochastic + exc/inh_mini_frequency node attributes (minis_seed 5)",
            run={"synapse_seed": 7, "minis_seed": 5},
            conditions={"extracellular_calcium": 1.6, "randomize_gaba_rise_time": True},
            minis=True,
        ),
        Scenario(
            "noise",
            "stochastic + a `noise` and a `shot_noise` input (stimulus_seed 9)",
            run={"synapse_seed": 7, "stimulus_seed": 9},
            conditions={"extracellular_calcium": 1.6},
            noise=True,
        ),
        Scenario(
            "inputs",
            "stochastic + every other input family: relative/absolute shot noise, OU "
            "(current, and relative in conductance mode, reversal 0), relative noise from "
            "t=0, pulse (also as a physical electrode), sinusoidal, linear, relative_linear, "
            "subthreshold, hyperpolarizing, seclamp (libsonata refuses a seclamp delay)",
            run={"synapse_seed": 7, "stimulus_seed": 4},
            conditions={"extracellular_calcium": 1.6},
            noise=True,
            extra_inputs=INPUTS_EXTRA,
        ),
        Scenario(
            "overrides",
            "virtual population 'VPM' (sorts before 'cortex': cortex offset 1000), simulated "
            "node set First8 (subset), connection_overrides (weight, spont_minis, "
            "synapse_delay_override, synapse_configure), conditions.mechanisms "
            "(init_depleted, minis_single_vesicle), minis, replay delay 20 ms",
            run={"synapse_seed": 7, "minis_seed": 5},
            conditions={
                "extracellular_calcium": 1.6,
                "randomize_gaba_rise_time": True,
                "mechanisms": {
                    "ProbAMPANMDA_EMS": {"minis_single_vesicle": True},
                    "ProbGABAAB_EMS": {"init_depleted": True, "minis_single_vesicle": True},
                },
            },
            minis=True,
            fibre_pop="VPM",
            fibre_rate=60.0,
            replay_delay=20.0,
            node_set="First8",
            extra_config={"connection_overrides": OVERRIDES},
        ),
        Scenario(
            "numerics",
            "integration_method crank_nicolson_ion, dt 0.0125 (other delay truncation), "
            "spike_threshold -20, v_init -70, celsius 8, ionchannel_seed, minis",
            tstop=200.0,
            dt=0.0125,
            run={
                "synapse_seed": 7,
                "minis_seed": 5,
                "integration_method": "crank_nicolson_ion",
                "spike_threshold": -20.0,
                "ionchannel_seed": 3,
            },
            conditions={"celsius": 8.0, "v_init": -70.0, "extracellular_calcium": 1.6},
            minis=True,
        ),  # fmt: skip
        Scenario(
            "cond_reversal",
            "known, intended deviation: conductance-mode OU with reversal +20 mV (neurodamus "
            "keeps g = reversal value outside the window, sonatasim 0 uS)",
            expected_to_differ=True,
            run={"synapse_seed": 7, "stimulus_seed": 4},
            extra_inputs={
                "ou_g": {
                    "module": "ornstein_uhlenbeck",
                    "input_type": "conductance",
                    "delay": 50.0,
                    "duration": 100.0,
                    "node_set": "Even",
                    "tau": 2.0,
                    "mean": 0.001,
                    "sigma": 0.0005,
                    "reversal": 20.0,
                    "dt": 0.25,
                }
            },  # fmt: skip
        ),
        Scenario(
            "mpi2",
            "minis + noise, neurodamus on 2 ranks, sonatasim on 2 ranks",
            run={"synapse_seed": 7, "minis_seed": 5, "stimulus_seed": 9},
            conditions={"extracellular_calcium": 1.6, "randomize_gaba_rise_time": True},
            minis=True,
            noise=True,
            nd_ranks=2,
            ss_ranks=2,
        ),
    ]
}


def run_scenario(sc: Scenario, args: argparse.Namespace) -> dict:
    root = args.workdir / sc.name
    configs = write_circuit(root, sc)
    lib = build_nd_mechanisms(args.nd_venv, root / "mechanisms", args.workdir)
    nd_ranks = args.nd_ranks or sc.nd_ranks
    ss_ranks = args.ss_ranks or sc.ss_ranks
    nd_out, nd_time = run_neurodamus(args.nd_venv, configs["nd"], lib, nd_ranks)
    ss_out, ss_time = run_sonatasim(configs["ss"], ss_ranks, args.ss_patch)
    res = compare(nd_results(nd_out), ss_results(ss_out))
    if args.dump:
        res["model_diff"] = dump_models(args.nd_venv, configs, lib, args.ss_patch)
    res["scenario"] = sc.name
    res["doc"] = sc.doc
    res["ranks"] = {"neurodamus": nd_ranks, "sonatasim": ss_ranks}
    res["ss_patch"] = args.ss_patch
    res["seconds"] = {"neurodamus": round(nd_time, 1), "sonatasim": round(ss_time, 1)}
    res["dir"] = str(root)
    spikes_ok = all(e["identical"] for e in res["spikes"].values())
    volts_ok = bool(res["voltages"]) and all(v["identical_f32"] for v in res["voltages"].values())
    res["verdict"] = "identical" if spikes_ok and volts_ok else "differs"
    return res


def summary_line(res: dict) -> str:
    sp = ", ".join(
        f"{p}: nd {e['neurodamus']} / ss {e['sonatasim']} {'==' if e['identical'] else '!='}"
        for p, e in res["spikes"].items()
    )
    vs = res["voltages"]
    n_ok = sum(v["identical_f32"] for v in vs.values())
    worst = max((v["max_abs_diff_mV"] for v in vs.values()), default=float("nan"))
    return (
        f"{res['scenario']:14s}{' [patched ' + res['ss_patch'] + ']' if res['ss_patch'] else ''} "
        f"{res['verdict']:9s} spikes [{sp}]  soma v {n_ok}/{len(vs)} "
        f"cells identical (f32), max |dv| {worst:.3g} mV  "
        f"(nd {res['seconds']['neurodamus']} s, ss {res['seconds']['sonatasim']} s)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ndpeer"))
    p.add_argument("--nd-venv", type=Path, default=Path("/tmp/ndvenv"))
    p.add_argument("--nd-ranks", type=int, default=0, help="override the scenario's")
    p.add_argument("--ss-ranks", type=int, default=0, help="override the scenario's")
    p.add_argument("--json", type=Path, help="write all results here")
    p.add_argument(
        "--ss-patch",
        default="",
        help="run sonatasim with these proposed fixes (ss_patched.py names or all)",
    )
    p.add_argument(
        "--dump",
        action="store_true",
        help="also build both models without running and diff synapses/NetCons",
    )
    args = p.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.nd_venv = args.nd_venv.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.scenario or list(SCENARIOS):
        try:
            res = run_scenario(SCENARIOS[name], args)
        except (RuntimeError, subprocess.CalledProcessError) as err:
            res = {"scenario": name, "verdict": "error", "error": str(err)}
            print(f"{name:14s} ERROR {err}", flush=True)
        else:
            print(summary_line(res), flush=True)
            if "model_diff" in res:
                md = res["model_diff"]
                print(
                    f"    model: synapses nd/ss {md['synapses']}, stimuli {md['stimuli']}, "
                    f"globals differing {md['globals']}"
                )
                for name, f in md["fields"].items():
                    print(f"    differs: {name} on {f['count']}, e.g. {f['example']}")
        results.append(res)
    out = args.json or args.workdir / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"details: {out}")
    # the exit code: every scenario identical, but for the documented deviations
    return (
        0
        if all(
            r["verdict"] == "identical"
            or (SCENARIOS[r["scenario"]].expected_to_differ and r["verdict"] == "differs")
            for r in results
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
