"""neurodamus peer circuits: BBP-style circuits written for both tools (compare_neurodamus.py;
the scenarios are in scenarios_neurodamus.py).

Each scenario writes a circuit (BBP hoc templates with _NeededAttributes that load their
own morphology with Import3d, BBP edge attributes, a virtual population replayed through
synapse_replay) and a `mechanisms_dir` holding copies of OUR mod/sonatasim_prob_ampanmda.mod
and mod/sonatasim_prob_gabaab.mod renamed to ProbAMPANMDA_EMS / ProbGABAAB_EMS, used by
both tools (nothing from neurodamus is copied into the repository). Morphologies: the real
C060114A7 of ../shared when present (tests/conftest.shared_path), else a generated cell of
the same section counts; scenario `obi_layout` always uses generated cells laid out as OBI
releases are (see its doc).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.generate.base import add_edges, new_circuit, poisson_spikes  # noqa: E402
from engine.generate.morphologies import (  # noqa: E402
    obi_morphology_name,
    synthetic_cell,
    write_obi_morphologies,
)
from engine.generate.realistic import compound_node_sets, use_manifest  # noqa: E402
from engine.io.sonata_writer import (  # noqa: E402
    write_circuit_config,
    write_node_sets,
    write_nodes,
    write_simulation_config,
)
from engine.io.spike_file import write_spike_file  # noqa: E402
from tests.bbp_templates import template_text as bbp_template_text  # noqa: E402
from tests.conftest import shared_path  # noqa: E402

MORPHOLOGY = "C060114A7"  # soma 1, axon 128, dend 66, apic 130 sections (Import3d order)
GENERATED = "synthetic_L5_pyramidal"  # its stand-in without ../shared, same section counts
N_SOMA, N_AXON, N_DEND, N_APIC = 1, 128, 66, 130
FIRST_DEND = N_SOMA + N_AXON
FIRST_APIC = FIRST_DEND + N_DEND
TEMPLATES = {"PeerNeededCell": True, "PeerPlainCell": False}  # name: _NeededAttributes
OUR_MODS = {
    "ProbAMPANMDA_EMS": ("sonatasim_prob_ampanmda.mod", "SonataProbAMPANMDA"),
    "ProbGABAAB_EMS": ("sonatasim_prob_gabaab.mod", "SonataProbGABAAB"),
}


def template_text(name: str, *, needed: bool, delete_sections: bool = False) -> str:
    """The tests' BBP-style template (tests/test_bbp_support.py), indexed, plus what
    neurodamus also needs: `synlist`, `synHelperList` and `clear()` (it appends every
    synapse and helper object to the lists; METype.__del__ calls clear()), and
    `re_init_rng` (stores the seed as `channel_seed`). `delete_sections`: init starts
    with `forall delete_section()`, as BBP emodel templates do; without it a cell whose
    file has no apical inherits as many unconnected `apic` sections as an earlier cell of
    the template had (hoc keeps a template's section-array size across its objects)."""
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
    if delete_sections:
        extra["proc init() {\n"] = "proc init() {\n    forall delete_section()\n"
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
    obi_layout: bool = False  # generated morphologies, manifest paths, $regex node sets


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


def morphology_names(sc: Scenario) -> list[str]:
    """One name for all cells (the real C060114A7, or its generated stand-in), or with
    `obi_layout` OBI names: dotted, no extension, one 180 characters long, two clones."""
    if not sc.obi_layout:
        return [MORPHOLOGY if _real_morphologies() else GENERATED] * sc.n_cells
    names = [obi_morphology_name(k // 2, length=180 if k == 2 else 0) for k in range(sc.n_cells)]
    return names


def _real_morphologies() -> Path | None:
    found = shared_path("morphologies")
    return found if found is not None and (found / f"{MORPHOLOGY}.asc").exists() else None


def write_morphologies(root: Path, sc: Scenario) -> dict[str, object]:
    """The components' morphology keys; generated files are written under root."""
    real = _real_morphologies()
    if real is not None and not sc.obi_layout:
        return {
            "morphologies_dir": str(real),
            "alternate_morphologies": {"neurolucida-asc": str(real)},
        }
    cells = {
        name: synthetic_cell(seed=k) for k, name in enumerate(dict.fromkeys(morphology_names(sc)))
    }
    formats = ("swc", "asc", "h5") if sc.obi_layout else ("asc",)
    components = write_obi_morphologies(
        root / "components" / "morphologies", cells, formats=formats
    )
    if not sc.obi_layout:  # the stand-in: one asc directory, as the real files are used
        asc = components["alternate_morphologies"]["neurolucida-asc"]
        return {"morphologies_dir": asc, "alternate_morphologies": {"neurolucida-asc": asc}}
    return components


def write_templates(models: Path, delete_sections: bool = False) -> Path:
    """PeerNeededCell (with _NeededAttributes) and PeerPlainCell (one extra argument 0)."""
    models.mkdir(parents=True)
    for name, needed in TEMPLATES.items():
        text = template_text(name, needed=needed, delete_sections=delete_sections)
        (models / f"{name}.hoc").write_text(text)
    return models


def write_mechanisms(mechs: Path) -> Path:
    """Our ProbAMPANMDA / ProbGABAAB mod files under the BBP names (OUR_MODS), fresh."""
    mechs.mkdir(parents=True)
    for name, (ours, our_name) in OUR_MODS.items():
        text = (REPO / "mod" / ours).read_text()
        kind = "POINT_PROCESS"
        assert f"{kind} {our_name}" in text, f"{ours} does not declare {kind} {our_name}"
        (mechs / f"{name}.mod").write_text(text.replace(f"{kind} {our_name}", f"{kind} {name}"))
    return mechs


def replay_input(spike_file: Path, tstop: float, delay: float = 0.0) -> dict:
    """The fibres' synapse_replay input block on node set `Cortex`."""
    return {"module": "synapse_replay", "input_type": "spikes", "delay": delay,
            "duration": tstop, "node_set": "Cortex", "spike_file": str(spike_file)}  # fmt: skip


def write_circuit(root: Path, sc: Scenario) -> dict[str, Path]:
    rng = np.random.default_rng(sc.seed)
    if root.exists():
        shutil.rmtree(root)
    circuit = new_circuit(root)
    n = sc.n_cells
    fib = sc.fibre_pop
    circuit.populations = {"cortex": n, fib: sc.n_fibres}
    models = write_templates(root / "templates")
    mechs = write_mechanisms(root / "mechanisms")

    names = np.array(
        [f"hoc:{'PeerNeededCell' if i % 2 == 0 else 'PeerPlainCell'}" for i in range(n)],
        dtype=object,
    )
    inh = np.arange(n) >= n - sc.n_inh
    x, y, z = rng.uniform(0.0, 200.0, (3, n))
    attrs = {
        "model_type": np.full(n, "biophysical", dtype=object),
        "model_template": names,
        "morphology": np.array(morphology_names(sc), dtype=object),
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

    node_sets = compound_node_sets("cortex", "mtype", "L4_") if sc.obi_layout else {}
    write_node_sets(
        root / "node_sets.json",
        node_sets
        | {
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
            **write_morphologies(root, sc),
            "biophysical_neuron_models_dir": str(models),
            "mechanisms_dir": str(mechs),
        },
        node_sets_file=str(root / "node_sets.json"),
    )
    if sc.obi_layout:  # paths through manifest variables, as OBI circuit configs write them
        use_manifest(
            root / "circuit_config.json",
            {"$COMPONENTS": "components", "$TEMPLATES": "templates", "$MECHANISMS": "mechanisms"},
        )
    inputs: dict = {"fibres": replay_input(root / "input_spikes.h5", sc.tstop, sc.replay_delay)}
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
