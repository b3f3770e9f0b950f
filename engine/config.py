"""The simulation and circuit configs, parsed once with libsonata into plain dataclasses.

Everything downstream reads these dataclasses (or the libsonata objects they keep for the
input and report blocks), never the JSON, so a config problem is found and reported here,
with the file and the key, before NEURON builds anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libsonata

from engine.config_files import load_circuit_config, load_simulation_config
from engine.errors import ConfigError
from engine.io.attributes import TypesSource, register_types_source
from engine.io.hdf5_check import check_hdf5

SORT_ORDERS = {"none", "by_id", "by_time"}
POPULATION_TYPES_WITH_CELLS = {"biophysical", "point_neuron", "point_process", "single_compartment"}


@dataclass(frozen=True)
class RunSettings:
    tstop: float
    dt: float
    random_seed: int
    spike_threshold: float = -30.0
    integration_method: int = 0  # NEURON secondorder: euler 0, crank_nicolson 1, _ion 2
    stimulus_seed: int = 0
    ionchannel_seed: int = 0
    minis_seed: int = 0
    synapse_seed: int = 0
    dL: float = 20.0  # bmtk's run.dL (um): nseg of ctdb:Biophys1 cells
    tstart: float = 0.0

    @property
    def steps(self) -> float:
        return (self.tstop - self.tstart) / self.dt


# A run with more time steps than this gets a warning with an estimate before it starts:
# 1e8 steps of even one compartment take minutes; tstop in s or dt in s are typical slips.
LARGE_RUN_STEPS = 1e8
SECONDS_PER_COMPARTMENT_STEP = 1e-7  # fixed-step NEURON with hh, one core (order of magnitude)


def large_run_warning(run: RunSettings, compartments: int | None = None) -> str | None:
    """The warning for a run of more than LARGE_RUN_STEPS steps (None when it is smaller)."""
    if run.steps <= LARGE_RUN_STEPS:
        return None
    text = f"run.tstop / run.dt = {run.tstop:g} / {run.dt:g} ms = {run.steps:.3g} time steps"
    if compartments:
        seconds = run.steps * compartments * SECONDS_PER_COMPARTMENT_STEP
        text += (
            f"; with {compartments} compartments that is roughly {_duration(seconds)} of"
            " computing (about 0.1 us per compartment and step)"
        )
    return text + "; check the units of tstop and dt (both in ms)"


def _duration(seconds: float) -> str:
    for unit, size in (("years", 3.15e7), ("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


@dataclass(frozen=True)
class Conditions:
    celsius: float = 34.0
    v_init: float = -80.0
    spike_location: str = "soma"
    extracellular_calcium: float | None = None
    randomize_gaba_rise_time: bool = False
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputSettings:
    output_dir: Path
    spikes_file: Path
    spikes_sort_order: str = "by_time"
    log_file: Path | None = None


@dataclass(frozen=True)
class NodePopulationInfo:
    """Where a node population lives and which directories its cells need."""

    name: str
    type: str
    nodes_file: Path
    morphologies_dir: Path | None = None
    alternate_morphologies: dict[str, Path] = field(default_factory=dict)
    biophysical_neuron_models_dir: Path | None = None
    point_neuron_models_dir: Path | None = None
    mechanisms_dir: Path | None = None
    types_file: Path | None = None  # node types CSV (Allen dialect), merged by AttributeReader
    dialect: str = "sonata"  # "allen" when translated from bmtk (engine.dialects.allen.config)
    dL: float = 20.0
    templates_dir: Path | None = None  # bmtk's components.templates_dir (hoc templates)

    @property
    def is_virtual(self) -> bool:
        return self.type == "virtual"


@dataclass(frozen=True)
class EdgePopulationInfo:
    name: str
    type: str
    edges_file: Path
    source: str
    target: str
    types_file: Path | None = None
    synaptic_models_dir: Path | None = None
    dialect: str = "sonata"


@dataclass
class SimulationSetup:
    """Everything the engine needs from the two configs."""

    config_path: Path
    circuit_config_path: Path
    run: RunSettings
    conditions: Conditions
    output: OutputSettings
    node_populations: dict[str, NodePopulationInfo]
    edge_populations: dict[str, EdgePopulationInfo]
    node_set: str | None
    node_sets_files: list[Path]
    target_simulator: str
    libsonata_config: Any = field(repr=False, default=None)
    circuit_config: Any = field(repr=False, default=None)
    beta_features: dict[str, Any] = field(default_factory=dict)
    dialect: str = "sonata"
    translation: Any = None  # engine.dialects.allen.config.AllenTranslation for Allen configs
    notes: list[str] = field(default_factory=list)
    restart_time: float = 0.0  # a run restored from a checkpoint starts here (ms)

    @property
    def input_names(self) -> list[str]:
        return list(self.libsonata_config.list_input_names)

    def input(self, name: str) -> Any:
        return self.libsonata_config.input(name)

    @property
    def mechanism_dirs(self) -> list[Path]:
        dirs = {p.mechanisms_dir for p in self.node_populations.values() if p.mechanisms_dir}
        return sorted(dirs)


def _enum_name(value: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(value).split(".")[-1]


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _components(circuit: libsonata.CircuitConfig, path: Path) -> dict[str, Any]:
    """The circuit config as libsonata expanded it (for keys libsonata does not parse)."""
    try:
        return json.loads(circuit.expanded_json)
    except (AttributeError, json.JSONDecodeError):
        return json.loads(path.read_text())


def _path_in(value: str | None, base: Path) -> Path | None:
    return (base / value).resolve() if value else None


def _node_populations(
    circuit: libsonata.CircuitConfig, path: Path, dialect: str, dL: float
) -> dict[str, Any]:
    populations = {}
    raw = (_components(circuit, path).get("components") or {}) if dialect == "allen" else {}
    templates_dir = _path_in(raw.get("templates_dir"), path.parent)
    for name in sorted(circuit.node_populations):
        try:
            props = circuit.node_population_properties(name)
        except libsonata.SonataError as exc:
            raise ConfigError(str(exc), file=path, key=f"networks.nodes.{name}") from None
        alternates = {k: Path(v) for k, v in dict(props.alternate_morphology_formats).items()}
        info = NodePopulationInfo(
            name=name,
            type=props.type or "biophysical",
            nodes_file=Path(props.elements_path),
            morphologies_dir=_optional_path(props.morphologies_dir),
            alternate_morphologies=alternates,
            biophysical_neuron_models_dir=_optional_path(props.biophysical_neuron_models_dir),
            point_neuron_models_dir=_optional_path(getattr(props, "point_neuron_models_dir", "")),
            mechanisms_dir=_optional_path(getattr(props, "mechanisms_dir", "")),
            types_file=_optional_path(getattr(props, "types_path", "")),
            dialect=dialect,
            dL=dL,
            templates_dir=templates_dir,
        )
        models = (info.biophysical_neuron_models_dir, info.point_neuron_models_dir)
        source = TypesSource(info.types_file, tuple(d for d in models if d is not None))
        register_types_source(info.nodes_file, name, source)
        populations[name] = info
    return populations


def _synaptic_models_dirs(circuit: libsonata.CircuitConfig, path: Path) -> dict[str, Path]:
    """`synaptic_models_dir` per edge population (components default, entry override)."""
    raw = _components(circuit, path)
    base = path.parent
    default = _path_in((raw.get("components") or {}).get("synaptic_models_dir"), base)
    dirs = {}
    for entry in (raw.get("networks") or {}).get("edges") or []:
        for name, props in (entry.get("populations") or {}).items():
            own = _path_in((props or {}).get("synaptic_models_dir"), base)
            if own or default:
                dirs[name] = own or default
    return dirs


def _edge_populations(circuit: libsonata.CircuitConfig, path: Path, dialect: str) -> dict[str, Any]:
    populations = {}
    synaptic_dirs = _synaptic_models_dirs(circuit, path)
    for name in sorted(circuit.edge_populations):
        key = f"networks.edges.{name}"
        try:
            props = circuit.edge_population_properties(name)
            check_hdf5(Path(props.elements_path), key)
            storage = circuit.edge_population(name)
            source, target = storage.source, storage.target
        except (libsonata.SonataError, RuntimeError) as exc:
            raise ConfigError(f"cannot open edge population: {exc}", file=path, key=key) from None
        info = EdgePopulationInfo(
            name=name,
            type=props.type or "chemical",
            edges_file=Path(props.elements_path),
            source=source,
            target=target,
            types_file=_optional_path(getattr(props, "types_path", "")),
            synaptic_models_dir=synaptic_dirs.get(name),
            dialect=dialect,
        )
        models = (info.synaptic_models_dir,) if info.synaptic_models_dir else ()
        register_types_source(info.edges_file, name, TypesSource(info.types_file, models))
        populations[name] = info
    return populations


def _check_run(run: Any, path: Path, extras: dict[str, Any]) -> RunSettings:
    if not run.dt > 0:
        raise ConfigError(f"dt must be positive, got {run.dt}", file=path, key="run.dt")
    if not run.tstop > 0:
        raise ConfigError(f"tstop must be positive, got {run.tstop}", file=path, key="run.tstop")
    return RunSettings(
        tstop=float(run.tstop),
        dt=float(run.dt),
        random_seed=int(run.random_seed),
        spike_threshold=float(run.spike_threshold),
        integration_method=int(run.integration_method.value)
        if hasattr(run.integration_method, "value")
        else int(run.integration_method),
        stimulus_seed=int(run.stimulus_seed),
        ionchannel_seed=int(run.ionchannel_seed),
        minis_seed=int(run.minis_seed),
        synapse_seed=int(run.synapse_seed),
        dL=float(extras.get("dL", 20.0)),
        tstart=float(extras.get("tstart", 0.0)),
    )


def _run_extras(sim: libsonata.SimulationConfig, translation: Any) -> dict[str, Any]:
    """bmtk run keys libsonata ignores (dL, tstart), from the translation or the raw JSON."""
    if translation is not None:
        return {"dL": translation.dL, "tstart": translation.tstart}
    try:
        run = json.loads(sim.expanded_json).get("run", {})
    except (AttributeError, json.JSONDecodeError):
        return {}
    dL = run.get("dL")
    valid = isinstance(dL, int | float) and not isinstance(dL, bool) and dL > 0
    return {"dL": float(dL)} if valid else {}


def load_setup(config_path: str | Path, output_dir: str | Path | None = None) -> SimulationSetup:
    """Parse and check the simulation config and the circuit config it names.

    Allen/bmtk-dialect configs are first translated into SONATA files libsonata reads
    (`engine.dialects.allen.config`); the notes of what was left out are logged.
    """
    from engine.dialects.allen.config import log_notes, translate_if_allen

    path = Path(config_path).resolve()
    translation = translate_if_allen(path, Path(output_dir) if output_dir else None)
    dialect = "allen" if translation is not None else "sonata"
    if translation is not None:
        log_notes(translation)
    sim = load_simulation_config(translation.simulation_config if translation else path)
    extras = _run_extras(sim, translation)
    run = _check_run(sim.run, path, extras)
    target = _enum_name(sim.target_simulator)
    if target == "UNSPECIFIED":  # set in neither config: SONATA's default
        target = "NEURON"
    if target not in ("NEURON", "CORENEURON"):
        raise ConfigError(
            f"target_simulator {target} is not one of NEURON, CORENEURON",
            file=path,
            key="target_simulator",
        )
    circuit_path = Path(sim.network)
    circuit = load_circuit_config(circuit_path)

    out = sim.output
    out_dir = Path(output_dir).resolve() if output_dir else Path(out.output_dir)
    spikes_name = Path(out.spikes_file).name
    log_file = Path(out.log_file).name if out.log_file else None
    output = OutputSettings(
        output_dir=out_dir,
        spikes_file=out_dir / spikes_name,
        spikes_sort_order=_enum_name(out.spikes_sort_order),
        log_file=out_dir / log_file if log_file else None,
    )
    cond = sim.conditions
    conditions = Conditions(
        celsius=float(cond.celsius),
        v_init=float(cond.v_init),
        spike_location=_enum_name(cond.spike_location),
        extracellular_calcium=cond.extracellular_calcium,
        randomize_gaba_rise_time=bool(cond.randomize_gaba_rise_time),
        mechanisms={k: dict(v) for k, v in dict(cond.mechanisms).items()},
    )
    node_sets_files = []
    if circuit.node_sets_path:
        node_sets_files.append(Path(circuit.node_sets_path))
    if sim.node_sets_file and Path(sim.node_sets_file) not in node_sets_files:
        node_sets_files.append(Path(sim.node_sets_file))

    return SimulationSetup(
        config_path=path,
        circuit_config_path=circuit_path,
        run=run,
        conditions=conditions,
        output=output,
        node_populations=_node_populations(circuit, circuit_path, dialect, run.dL),
        edge_populations=_edge_populations(circuit, circuit_path, dialect),
        node_set=sim.node_set or None,
        node_sets_files=node_sets_files,
        target_simulator=target,
        libsonata_config=sim,
        circuit_config=circuit,
        beta_features=dict(sim.beta_features),
        dialect=dialect,
        translation=translation,
        notes=list(translation.notes) if translation else [],
    )
