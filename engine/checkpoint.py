"""Checkpoint and restore with NEURON: `sonatasim run --save DIR` / `--restore DIR`.

Why our own on top of NEURON's per-process `SaveState` (not BBSaveState): SaveState keeps
every queued event (NetCon deliveries in flight, self-events of artificial cells such as
minis and replay VecStims, Vector.play steps) and the ASSIGNED variables of every
NET_RECEIVE model, whether or not the object belongs to a cell with a gid; BBSaveState
would drop our gid-less minis and need a `bbsavestate` hook in every mechanism. What
SaveState leaves out, this module adds:

* the Random123 position of every NMODL `RANDOM` variable (found by reading the compiled
  .mod files), so stochastic synapses, minis and stochastic channels continue their
  streams instead of restarting them;
* Python-side events (cvode.event: delayed weight changes, report frames), re-armed for
  the times after the checkpoint; Vector.play positions are re-derived from t.

A checkpoint is one directory: `manifest.json` (time, rank count, what the model was),
and per rank `state.rankN.bin` (SaveState) and `random.rankN.npz`. It is written under a
temporary name and renamed when every rank has finished. It restores only on the same
rank count and the same circuit (refused otherwise, with the reason); the continued run
writes the spikes and report frames after the checkpoint time into its own output files,
as a neurodamus restore does.

CoreNEURON runs use the same checkpoint. In direct (in-memory) mode every psolve hands
CoreNEURON's state back to NEURON at its end (voltages, mechanism states, the event queue,
Random123 positions), so the run stops at the save time, this module saves NEURON's copy,
and a restore puts it back into NEURON, whose next psolve hands it to CoreNEURON again.
CoreNEURON's own `--checkpoint`/`--restore` (the wheel's `coreneuron.save_path` /
`restore_path`) is not used: it is meant for file mode (neurodamus never combines it with
direct mode; the model goes to disk with nrncore_write and is read back), and our CoreNEURON reports rely on direct mode filling NEURON's
`Vector.record`. The manifest records the simulator; a checkpoint restores only with the
simulator that wrote it (both kinds hold the same data, but only then do the segments add
up to one run of that simulator, bit for bit).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError

log = logging.getLogger("sonatasim")

FORMAT = 1
MANIFEST = "manifest.json"
SIMULATOR_NEURON = "NEURON"


class CheckpointError(UserError):
    """A checkpoint cannot be written, read or used for this run."""


@dataclass
class Manifest:
    """What a checkpoint holds and the model it belongs to (checked at restore)."""

    time: float
    dt: float
    nranks: int
    simulator: str
    model: str  # digest of the simulated cells, their ranks, edges and reports
    reports: list[str]
    config: str
    sonatasim: str
    neuron: str
    format: int = FORMAT
    random_variables: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = Path(directory) / MANIFEST
        if not path.is_file():
            raise CheckpointError(
                "not a sonatasim checkpoint (no manifest.json; was the saving run finished?)",
                file=directory,
                key="--restore",
            )
        try:
            data = json.loads(path.read_text())
            manifest = cls(**data)
        except (ValueError, TypeError) as exc:
            raise CheckpointError(f"unreadable manifest ({exc})", file=path) from None
        if manifest.format != FORMAT:
            raise CheckpointError(
                f"checkpoint format {manifest.format}; this sonatasim reads format {FORMAT}",
                file=path,
            )
        return manifest


# Random123 positions of NMODL RANDOM variables.

_BLOCK = re.compile(r"\bNEURON\s*\{(.*?)\}", re.S)
_KIND = re.compile(r"\b(POINT_PROCESS|ARTIFICIAL_CELL|SUFFIX)\s+(\w+)")
_RANDOM = re.compile(r"\bRANDOM\s+([\w\s,]+)")
_COMMENT = re.compile(r"COMMENT.*?ENDCOMMENT|:[^\n]*", re.S)


@dataclass(frozen=True)
class RandomVariables:
    """The RANDOM variables of one mechanism (from its NEURON block)."""

    mechanism: str
    kind: str  # POINT_PROCESS, ARTIFICIAL_CELL or SUFFIX
    names: tuple[str, ...]


def random_variables_of(text: str) -> RandomVariables | None:
    block = _BLOCK.search(_COMMENT.sub("", text))
    if block is None:
        return None
    kind, randoms = _KIND.search(block.group(1)), _RANDOM.findall(block.group(1))
    if kind is None or not randoms:
        return None
    names = tuple(n for line in randoms for n in re.split(r"[\s,]+", line.strip()) if n)
    return RandomVariables(kind.group(2), kind.group(1), names)


def compiled_random_variables(extra_dirs: list[Path]) -> list[RandomVariables]:
    """RANDOM variables of every compiled mechanism (ours and the circuit's)."""
    from engine.mechanisms import collect_sources

    found = []
    for path in sorted(collect_sources(extra_dirs).values()):
        if path.suffix == ".mod":
            spec = random_variables_of(path.read_text(errors="replace"))
            if spec is not None:
                found.append(spec)
    return found


def _holders(h: Any, spec: RandomVariables) -> list[Any]:
    """Every instance of the mechanism, in a creation order both runs share."""
    if spec.kind != "SUFFIX":
        return list(h.List(spec.mechanism))
    holders = []
    for section in h.allsec():
        if h.ismembrane(spec.mechanism, sec=section):
            holders.extend(getattr(segment, spec.mechanism) for segment in section)
    return holders


def random_positions(h: Any, specs: list[RandomVariables]) -> dict[str, np.ndarray]:
    positions = {}
    for spec in specs:
        holders = _holders(h, spec)
        for name in spec.names:
            key = f"{spec.mechanism}.{name}"
            positions[key] = np.array(
                [getattr(obj, name).get_seq() for obj in holders], dtype=np.float64
            )
    return positions


def set_random_positions(h: Any, specs: list[RandomVariables], saved: Any) -> None:
    for spec in specs:
        holders = _holders(h, spec)
        for name in spec.names:
            key = f"{spec.mechanism}.{name}"
            values = saved[key] if key in saved else np.zeros(0)
            if values.size != len(holders):
                raise CheckpointError(
                    f"the checkpoint holds {values.size} {key} streams, the model has"
                    f" {len(holders)}: it was saved from another model",
                    key="--restore",
                )
            for obj, position in zip(holders, values.tolist(), strict=True):
                getattr(obj, name).set_seq(position)


# Parameters of artificial cells. SaveState writes the whole parameter block of models
# with a NET_RECEIVE block, so a restore would bring back the saving run's values of those
# set from the config (minis' duration = tstop, report clocks): the continued run's own
# values are put back after it.


def _artificial_parameters(h: Any) -> list[tuple[str, list[str]]]:
    kinds = h.MechanismType(1)
    name = h.ref("")
    found = []
    for index in range(int(kinds.count())):
        if not kinds.is_artificial(index):
            continue
        kinds.select(index)
        kinds.selected(name)
        standard = h.MechanismStandard(name[0], 1)
        names = []
        for j in range(int(standard.count())):
            parameter = h.ref("")
            if int(standard.name(parameter, j)) == 1:  # scalars only
                names.append(parameter[0])
        if names:
            found.append((name[0], names))
    return found


def artificial_parameters(h: Any) -> list[tuple[Any, str, float]]:
    """(object, parameter, value) of every artificial cell, to set again after a restore."""
    values = []
    for mechanism, names in _artificial_parameters(h):
        for obj in h.List(mechanism):
            values.extend((obj, n, float(getattr(obj, n))) for n in names)
    return values


# The model's identity.


def model_digest(simulation: Any) -> str:
    """Digest of what the saved state's layout depends on, the same on every rank."""
    circuit, sim = simulation.circuit, simulation.sim
    digest = hashlib.sha256()
    for name in sorted(circuit.plan):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(circuit.simulated.get(name), np.uint64).tobytes())
        digest.update(np.ascontiguousarray(circuit.plan[name], np.int64).tobytes())
    local = (circuit.local_cell_count, circuit.local_synapse_count)
    for part in sim.allgather(local):
        digest.update(repr(part).encode())
    for name in sorted(simulation.setup.edge_populations):
        digest.update(name.encode())
    return digest.hexdigest()


def _report_names(simulation: Any) -> list[str]:
    return sorted(r.spec.name for r in simulation.reports.recorders)


# Save.


def save(simulation: Any, directory: Path) -> Path:
    """Collective: write the state of every rank into `directory` (replaced if present)."""
    from engine import __version__
    from engine.mechanisms import neuron_version

    sim = simulation.sim
    h = sim.h
    directory = Path(directory).resolve()
    staging = directory.with_name(f"{directory.name}.tmp-{os.getpid()}")
    staging = Path(sim.broadcast(str(staging), 0))
    specs = compiled_random_variables(simulation.mechanism_dirs())
    digest = model_digest(simulation)
    failure = None
    try:
        if sim.is_root:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        sim.barrier()
        state = h.SaveState()
        state.save()
        handle = h.File()
        handle.wopen(str(staging / f"state.rank{sim.rank}.bin"))
        state.fwrite(handle)
        handle.close()
        positions = random_positions(h, specs)
        with open(staging / f"random.rank{sim.rank}.npz", "wb") as out:
            np.savez(out, **positions)
    except OSError as exc:
        failure = f"rank {sim.rank}: {exc}"
    failures = [f for f in sim.allgather(failure) if f]
    if failures:
        if sim.is_root:
            shutil.rmtree(staging, ignore_errors=True)
        raise CheckpointError(f"cannot write the checkpoint ({failures[0]})", file=directory)
    if sim.is_root:
        manifest = Manifest(
            time=float(h.t),
            dt=float(h.dt),
            nranks=sim.nranks,
            simulator=simulation.simulator,
            model=digest,
            reports=_report_names(simulation),
            config=str(simulation.setup.config_path),
            sonatasim=__version__,
            neuron=neuron_version(),
            random_variables=[f"{s.mechanism}.{n}" for s in specs for n in s.names],
        )
        (staging / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
        log.info("Checkpoint at t = %g ms written to %s", manifest.time, directory)
    sim.barrier()
    return directory


# Restore.


def check_before_build(
    manifest: Manifest, directory: Path, setup: Any, nranks: int, simulator: str = SIMULATOR_NEURON
) -> None:
    """What can be refused before building anything: simulator, ranks, dt, tstop."""
    if manifest.simulator != simulator:
        raise CheckpointError(
            f"this checkpoint was written by a {manifest.simulator} run and this run uses"
            f" {simulator}: restore with the simulator that saved (--simulator"
            f" {manifest.simulator.lower()}), so the segments add up to one run of it",
            file=directory,
            key="--restore",
        )
    if manifest.nranks != nranks:
        raise CheckpointError(
            f"the checkpoint was written by {manifest.nranks} rank(s), this run has {nranks}:"
            f" NEURON's saved state is per rank, restore on {manifest.nranks} rank(s)"
            f" (-n {manifest.nranks})",
            file=directory,
            key="--restore",
        )
    if manifest.dt != setup.run.dt:
        raise CheckpointError(
            f"run.dt is {setup.run.dt} ms, the checkpoint was saved with dt {manifest.dt} ms",
            file=setup.config_path,
            key="run.dt",
        )
    if setup.run.tstop <= manifest.time + 0.5 * manifest.dt:
        raise CheckpointError(
            f"run.tstop {setup.run.tstop} ms is not after the checkpoint time"
            f" {manifest.time} ms; give the continued run a later tstop",
            file=setup.config_path,
            key="run.tstop",
        )


def restore(simulation: Any, directory: Path, manifest: Manifest) -> None:
    """After stdinit: put the saved state back and re-arm what SaveState does not keep."""
    sim = simulation.sim
    h = sim.h
    directory = Path(directory)
    if model_digest(simulation) != manifest.model:
        raise CheckpointError(
            "the circuit, node set or load-balance plan differs from the saved run's",
            file=directory,
            key="--restore",
        )
    if _report_names(simulation) != manifest.reports:
        raise CheckpointError(
            f"the reports differ from the saved run's ({', '.join(manifest.reports) or 'none'});"
            " a continued run keeps the same reports",
            file=directory,
            key="--restore",
        )
    specs = compiled_random_variables(simulation.mechanism_dirs())
    state = h.SaveState()
    handle = h.File()
    path = directory / f"state.rank{sim.rank}.bin"
    handle.ropen(str(path))
    parameters = artificial_parameters(h)
    try:
        state.fread(handle)
        state.restore()
    except RuntimeError as exc:
        raise CheckpointError(
            f"NEURON refused the saved state ({exc}): it was saved from another model",
            file=path,
        ) from None
    for obj, name, value in parameters:
        setattr(obj, name, value)
    with np.load(directory / f"random.rank{sim.rank}.npz") as saved:
        set_random_positions(h, specs, saved)
    h.BBSaveState().vector_play_init()  # Vector.play positions follow t
    simulation.rearm_after_restore(float(h.t))
    log.info("Restored the checkpoint %s at t = %g ms", directory, h.t)
