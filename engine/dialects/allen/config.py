"""The Allen/bmtk config dialect, detected and translated into the SONATA dialect libsonata reads.

libsonata rejects or misreads every Allen example config (sonata-sim-config-keys.md §10-§12):
no `run.random_seed`, `spikes_sort_order: "time"`, input modules `IClamp`/`h5`/`csv`,
reports with `module` instead of `type`, circuit configs whose `nodes` entries have no
`populations` (libsonata then sees an empty circuit), `${configdir}` manifests, and combined
configs with `network` + `simulation` keys. Rather than a second parser, we translate: the
Allen configs are rewritten as BBP-dialect JSON files in `<output_dir>/allen_translated/`
(kept for the user to read) and parsed by libsonata like any other config. Everything
dropped on the way is listed in `AllenTranslation.notes` and logged.

Choices (bmtk behaviour as documented in feature-matrix.md / sonata-sim-config-keys.md §2):
* `run.random_seed` absent -> 0; `run.spike_threshold` absent -> -15 mV (bmtk's default);
  `run.dL` (default 20 um) sets nseg of ctdb:Biophys1 cells; `nsteps_block`, `tsteps_block`
  have no effect here; `tstart` other than 0 is not supported (ignored with a note).
* Relative paths resolve against the folder of the file that holds them (as libsonata).
* Population types come from `model_type` (h5 group, else node types CSV); a population
  mixing model types is rejected (the engine builds one kind of cell per population).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.dialects.allen.config_files import expand_manifest, split_configs
from engine.errors import ConfigError

log = logging.getLogger("sonatasim")

TRANSLATED_DIR = "allen_translated"
DEFAULT_DL = 20.0
BMTK_SPIKE_THRESHOLD = -15.0
SORT_ORDERS = {"time": "by_time", "id": "by_id", "gid": "by_id", "node_id": "by_id"}
SORT_ORDERS.update({v: v for v in ("by_time", "by_id", "none")})
ALLEN_INPUT_MODULES = {"IClamp", "h5", "csv", "sonata", "nwb", "function", "SEClamp", "xstim"}
RUN_KEYS = {"tstop", "dt", "random_seed", "spike_threshold", "integration_method"} | {
    f"{k}_seed" for k in ("stimulus", "ionchannel", "minis", "synapse")
}
CONDITION_KEYS = {
    "celsius",
    "v_init",
    "spike_location",
    "extracellular_calcium",
    "randomize_gaba_rise_time",
    "mechanisms",
    "modifications",
}
OUTPUT_KEYS = {"output_dir", "log_file", "spikes_file", "spikes_sort_order"}
PASS_THROUGH = {
    "node_set",
    "connection_overrides",
    "metadata",
    "beta_features",
    "compartment_sets_file",
    "version",
}


@dataclass
class AllenTranslation:
    """Where the translated configs are, and what the translation left out or chose."""

    source: Path
    simulation_config: Path
    circuit_config: Path
    dL: float = DEFAULT_DL
    tstart: float = 0.0
    notes: list[str] = field(default_factory=list)
    population_types: dict[str, str] = field(default_factory=dict)
    allen_simulation: bool = True
    # compartment set name -> {input, sections, distance_range}: IClamps drawn on built cells
    ranged_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    # bmtk `extracellular` reports (engine/managers/reports/ecp.py), paths absolute
    ecp_reports: list[Any] = field(default_factory=list)


def allen_reasons(raw_sim: dict[str, Any], circuit: dict[str, Any] | None) -> list[str]:
    """Why a config is in the Allen dialect (empty: it is plain SONATA for libsonata)."""
    reasons = []
    if "simulation" in raw_sim or isinstance(raw_sim.get("network"), dict) or "networks" in raw_sim:
        reasons.append("combined network + simulation config")
    run = raw_sim.get("run", {}) if isinstance(raw_sim.get("run"), dict) else {}
    if run and "random_seed" not in run:
        reasons.append("run.random_seed missing")
    order = (raw_sim.get("output") or {}).get("spikes_sort_order")
    if order is not None and order not in ("by_time", "by_id", "none"):
        reasons.append(f"spikes_sort_order {order!r}")
    for name, block in (raw_sim.get("inputs") or {}).items():
        if isinstance(block, dict) and block.get("module") in ALLEN_INPUT_MODULES:
            reasons.append(f"input {name} module {block.get('module')!r}")
    for name, block in (raw_sim.get("reports") or {}).items():
        if isinstance(block, dict) and "module" in block and "type" not in block:
            reasons.append(f"report {name} with 'module'")
    if "node_sets" in raw_sim:
        reasons.append("inline node_sets")
    if "${" in json.dumps(raw_sim.get("manifest", {})):
        reasons.append("${...} manifest")
    if circuit is not None:
        networks = circuit.get("networks", {}) or {}
        entries = (networks.get("nodes") or []) + (networks.get("edges") or [])
        if any(isinstance(e, dict) and not e.get("populations") for e in entries):
            reasons.append("circuit entries without 'populations'")
        if "edges" not in networks:
            reasons.append("circuit config without edges")
    return reasons


def raw_circuit(path: Path) -> dict[str, Any] | None:
    """The circuit config a simulation config names, unexpanded, for detection only."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    network = raw.get("network") if isinstance(raw, dict) else None
    if isinstance(network, dict):
        return network
    if isinstance(network, str) and "$" in network:
        try:
            network = expand_manifest(raw, path.resolve()).get("network")
        except ConfigError:
            return None
    if isinstance(network, str):
        candidate = (path.parent / network).resolve()
    elif network is None:
        candidate = path.parent / "circuit_config.json"
    else:
        return None
    try:
        data = json.loads(candidate.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def translate_if_allen(path: Path, output_dir: Path | None = None) -> AllenTranslation | None:
    """Translate `path` when it (or its circuit config) is Allen-dialect; else None."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # config.py reports the problem with the usual message
    if not isinstance(raw, dict):
        return None
    reasons = allen_reasons(raw, raw_circuit(Path(path)))
    if not reasons:
        return None
    translation = translate(Path(path), output_dir, reasons, bool(allen_reasons(raw, None)))
    return translation


def translate(
    path: Path, output_dir: Path | None, reasons: list[str], allen_simulation: bool = True
) -> AllenTranslation:
    """Write the SONATA-dialect configs; `allen_simulation`: the simulation config itself
    (not only its circuit) is bmtk-style, so bmtk's run defaults apply."""
    from engine.dialects.allen import iclamp as allen_iclamp
    from engine.dialects.allen import inputs as allen_inputs
    from engine.dialects.allen.circuit import translate_circuit
    from engine.io.sonata_writer import write_json

    path = Path(path).resolve()
    sim, circuit, circuit_path = split_configs(path)
    if circuit is None:
        raise ConfigError(
            "the circuit config named by 'network' was not found", file=path, key="network"
        )
    out_dir = Path(output_dir).resolve() if output_dir else _output_dir(sim, path)
    folder = out_dir / TRANSLATED_DIR
    notes = [f"Allen/bmtk dialect ({'; '.join(reasons)}); translated into {folder}"]
    run = dict(sim.get("run") or {})
    translation = AllenTranslation(
        source=path,
        simulation_config=folder / "simulation_config.json",
        circuit_config=folder / "circuit_config.json",
        dL=_number(run, "dL", DEFAULT_DL, path),
        tstart=_number(run, "tstart", 0.0, path),
        notes=notes,
        allen_simulation=allen_simulation,
    )
    bbp_circuit, storages = translate_circuit(circuit, circuit_path, notes)
    translation.population_types = {
        pop: props["type"]
        for entry in bbp_circuit["networks"]["nodes"]
        for pop, props in entry["populations"].items()
    }
    node_sets = allen_inputs.translate_node_sets(sim, circuit, storages, translation, notes)
    bbp_circuit["node_sets_file"] = str(folder / "node_sets.json")
    bbp_sim = _translate_simulation(sim, translation, out_dir, notes)
    bbp_sim["node_sets_file"] = str(folder / "node_sets.json")
    compartment_sets: dict[str, Any] = {}
    morphologies = (bbp_circuit.get("components") or {}).get("morphologies_dir")
    place = allen_iclamp.placer(
        node_sets, storages, morphologies, compartment_sets, translation.ranged_sets
    )
    bbp_sim["inputs"] = allen_inputs.translate_inputs(
        sim.get("inputs") or {}, translation, node_sets, folder, bbp_sim["run"]["tstop"], notes,
        place, storages, bbp_sim["run"],
    )  # fmt: skip
    if compartment_sets:
        write_json(folder / "compartment_sets.json", compartment_sets)
        bbp_sim["compartment_sets_file"] = str(folder / "compartment_sets.json")
    bbp_sim["reports"] = allen_inputs.translate_reports(
        sim.get("reports") or {}, translation, sim, notes, out_dir
    )
    write_json(folder / "node_sets.json", node_sets)
    write_json(translation.circuit_config, bbp_circuit)
    write_json(translation.simulation_config, bbp_sim)
    return translation


def _number(run: dict[str, Any], key: str, default: float, path: Path) -> float:
    value = run.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(
            f"must be a non-negative number, got {value!r}", file=path, key=f"run.{key}"
        )
    if key == "dL" and value == 0:
        raise ConfigError("must be positive", file=path, key="run.dL")
    return float(value)


def _output_dir(sim: dict[str, Any], path: Path) -> Path:
    out = (sim.get("output") or {}).get("output_dir", "output")
    return (path.parent / out).resolve()


def _translate_simulation(
    sim: dict[str, Any], translation: AllenTranslation, out_dir: Path, notes: list[str]
) -> dict[str, Any]:
    path = translation.source
    run = dict(sim.get("run") or {})
    for key in ("tstop", "dt"):
        if key not in run:
            raise ConfigError(f"run.{key} is required", file=path, key=f"run.{key}")
    if "random_seed" not in run:
        run["random_seed"] = 0
        notes.append("run.random_seed missing: using 0 (bmtk configs often omit it)")
    if "spike_threshold" not in run and translation.allen_simulation:
        run["spike_threshold"] = BMTK_SPIKE_THRESHOLD
        notes.append(f"run.spike_threshold missing: using bmtk's {BMTK_SPIKE_THRESHOLD} mV")
    if translation.tstart:
        notes.append(f"run.tstart={translation.tstart} ignored: simulations start at 0 ms")
    for key in sorted(set(run) - RUN_KEYS):
        if key not in ("dL", "tstart"):
            notes.append(f"run.{key} ignored (no effect in sonatasim)")
    bbp: dict[str, Any] = {
        "network": str(translation.circuit_config),
        "run": {k: v for k, v in run.items() if k in RUN_KEYS},
    }
    conditions = dict(sim.get("conditions") or {})
    _note_dropped(conditions, CONDITION_KEYS, "conditions", notes)
    bbp["conditions"] = {k: v for k, v in conditions.items() if k in CONDITION_KEYS}
    output = dict(sim.get("output") or {})
    _note_dropped(output, OUTPUT_KEYS, "output", notes)
    bbp["output"] = {k: v for k, v in output.items() if k in OUTPUT_KEYS}
    bbp["output"]["output_dir"] = str(out_dir)
    order = output.get("spikes_sort_order")
    if order is not None:
        if order not in SORT_ORDERS:
            raise ConfigError(
                f"spikes_sort_order {order!r} is not one of {sorted(SORT_ORDERS)}",
                file=path,
                key="output.spikes_sort_order",
            )
        bbp["output"]["spikes_sort_order"] = SORT_ORDERS[order]
    target = sim.get("target_simulator")
    if target in ("NEURON", "CORENEURON"):
        bbp["target_simulator"] = target
    elif target is not None:
        notes.append(f"target_simulator {target!r} ignored: sonatasim runs NEURON")
    bbp.update({k: sim[k] for k in PASS_THROUGH if k in sim})
    known = {"run", "conditions", "output", "inputs", "reports", "network", "simulation"}
    known |= {"target_simulator", "node_sets_file", "node_sets", "networks", "components"}
    for key in sorted(set(sim) - known - PASS_THROUGH):
        notes.append(f"{key} ignored (not a simulation key sonatasim uses)")
    return bbp


def _note_dropped(block: dict[str, Any], kept: set[str], where: str, notes: list[str]) -> None:
    for key in sorted(set(block) - kept):
        notes.append(f"{where}.{key} ignored (no effect in sonatasim)")


def log_notes(translation: AllenTranslation) -> None:
    """Log the translation notes once (rank 0 by the launcher's environment)."""
    rank = os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or "0"
    if rank != "0":
        return
    lines = "\n  - ".join(translation.notes)
    log.warning("%s:\n  - %s", translation.source, lines)
