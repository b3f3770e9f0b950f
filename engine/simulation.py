"""One simulation, start to end: build the model, run it, write the outputs.

The order follows the data flow: config -> mechanisms -> cells -> gids -> synapses ->
inputs -> recordings -> init -> psolve -> outputs. Every rank runs the same steps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import failure
from engine.config import SimulationSetup
from engine.coreneuron import CORENEURON, chosen_simulator
from engine.errors import ConfigError
from engine.io.hdf5_check import check_hdf5
from engine.managers.cells.templates import reinit_ion_channel_rngs
from engine.managers.circuit import BuildContext, CircuitManager
from engine.managers.modifications import ModificationManager
from engine.managers.replay import ReplayManager
from engine.managers.reports.manager import ReportManager
from engine.managers.spikes import SpikeRecorder
from engine.managers.stimuli import StimulusManager
from engine.managers.synapses.minis import SpontaneousMinis
from engine.managers.synapses.overrides import ConnectionOverrides
from engine.summary import PhaseTimer, RunSummary, summarise

log = logging.getLogger("sonatasim")

PSOLVE_CHUNK_MS = 25.0
MAX_SPIKE_EXCHANGE_STEP_MS = 4.0


@dataclass
class RunOptions:
    mechanisms: list[Path] = field(default_factory=list)
    lb_mode: str = "round-robin"
    progress: bool = True
    save_dir: Path | None = None  # write a checkpoint at save_time (default: tstop)
    save_time: float | None = None
    restore_dir: Path | None = None  # continue from this checkpoint
    simulator: str | None = None  # NEURON or CORENEURON; None: the config's target_simulator


@contextmanager
def progress_bar(sim: Any, enabled: bool, total: float, desc: str, unit: str) -> Iterator[Any]:
    """A tqdm bar on rank 0 only; a no-op callable elsewhere."""
    if not (enabled and sim.is_root):
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True) as bar:
        yield bar.update


class Simulation:
    def __init__(self, setup: SimulationSetup, sim: Any, options: RunOptions | None = None):
        self.setup = setup
        self.sim = sim
        self.options = options or RunOptions()
        self.timer = PhaseTimer()
        self.circuit: CircuitManager | None = None
        self.replay: ReplayManager | None = None
        self.stimuli: StimulusManager | None = None
        self.reports: ReportManager | None = None
        self.spikes: SpikeRecorder | None = None
        self.overrides: ConnectionOverrides | None = None
        self.minis: SpontaneousMinis | None = None
        self.modifications: ModificationManager | None = None
        self.total_spikes = 0
        self.checkpoint: Any = None  # the manifest of the checkpoint being restored
        self.simulator = chosen_simulator(setup.target_simulator, self.options.simulator)
        self.library: Path | None = None  # the loaded libnrnmech
        self.delayed_weight_changes = 0

    @property
    def coreneuron(self) -> bool:
        return self.simulator == CORENEURON

    def build(self) -> None:
        setup, sim = self.setup, self.sim
        if sim.is_root:
            check_output_dir(setup.output.output_dir, setup.config_path)
            remove_stale_temporaries(setup.output.output_dir)
        # parsed (statements checked) before anything is built: a bad block fails fast
        self.overrides = ConnectionOverrides(setup)
        self.modifications = ModificationManager(setup)
        for info in setup.node_populations.values():  # read first by the NeuroML scan
            check_hdf5(info.nodes_file, f"nodes.{info.name}")
        if self.options.save_dir is not None:
            from engine import events

            self._save_time()  # a bad --save-time fails before the build
            events.persist(True)  # queued events must survive into the checkpoint
        if self.options.restore_dir is not None:
            self._read_checkpoint()
        self.build_cells()
        with self.timer.phase("synapses"), failure.doing("creating synapses"):
            with self.overrides.applied(self.circuit):
                self.circuit.create_edges()
            self.minis = SpontaneousMinis(sim, self.circuit, setup)
            self.minis.create()
        with self.timer.phase("inputs"):
            self._create_inputs()
            self.delayed_weight_changes = self.overrides.schedule_delayed_weights(sim.h)
        with self.timer.phase("modifications"):
            self.modifications.apply(sim, self.circuit)
        with self.timer.phase("reports"):
            self.reports = ReportManager(sim, self.circuit, setup, self.coreneuron)
            self.reports.create()
        failure.watch_temporaries(self._output_folders())
        self.spikes = SpikeRecorder(sim, self.circuit.detector_stride)
        if self.coreneuron:
            from engine.coreneuron.support import refuse_unsupported

            refuse_unsupported(self)

    def build_cells(self) -> None:
        """Mechanisms and cells only (also what `sonatasim electrodes` needs)."""
        from engine.managers.cells.morphology import MorphologyLoader
        from engine.mechanisms import cache_dir, load_mechanisms

        setup, sim = self.setup, self.sim
        with self.timer.phase("mechanisms"), failure.doing("loading mechanisms"):
            from engine.dialects.neuroml.generated import with_generated

            dirs = self.mechanism_dirs()
            self.library = load_mechanisms(
                with_generated(setup, dirs, cache_dir()), sim, self.coreneuron
            )  # + NeuroML channels' NMODL
        failure.install_crash_guard(self.library)
        self._apply_globals()
        with self.timer.phase("cells"):
            self.circuit = CircuitManager(setup, sim)
            total = sum(ids.size for ids in self.circuit.simulated_ids().values())
            loader = MorphologyLoader().install(sim.h)
            with progress_bar(sim, self.options.progress, total / sim.nranks, "cells", "cell") as p:
                self.circuit.create_cells(BuildContext(loader, p), self.options.lb_mode)
            reinit_ion_channel_rngs(self.circuit.node_managers, setup.run.ionchannel_seed)
            self.circuit.register_gids()
        log.info(
            "Created %d cells on %d rank(s); gid offsets %s",
            total,
            sim.nranks,
            ", ".join(f"{k}={v}" for k, v in self.circuit.offsets.items()),
        )

    def _output_folders(self) -> list[Path]:
        """Where this run writes (spikes, reports): temporaries there go on SIGTERM."""
        from engine.managers.reports.spec import parse_reports

        folders = [self.setup.output.output_dir]
        folders += [spec.path.parent for spec in parse_reports(self.setup)]
        return folders

    def _apply_globals(self) -> None:
        h, run, cond = self.sim.h, self.setup.run, self.setup.conditions
        h.celsius = cond.celsius
        h.v_init = cond.v_init
        h.dt = run.dt
        h.steps_per_ms = 1.0 / run.dt
        h.tstop = run.tstop
        h.secondorder = run.integration_method
        h.cvode_active(0)
        for suffix, values in cond.mechanisms.items():
            for name, value in values.items():
                hoc_name = f"{name}_{suffix}"
                if not hasattr(h, hoc_name):
                    raise ConfigError(
                        f"mechanism global '{hoc_name}' does not exist (is {suffix} compiled?)",
                        file=self.setup.config_path,
                        key=f"conditions.mechanisms.{suffix}.{name}",
                    )
                setattr(h, hoc_name, float(value))

    def _create_inputs(self) -> None:
        """Inputs in config-file order; the position keys noise streams (see stimuli)."""
        self.replay = ReplayManager(self.sim, self.circuit)
        self.stimuli = StimulusManager(self.sim, self.circuit, self.setup)
        for position, name in enumerate(self.setup.input_names):
            block = self.setup.input(name)
            if _enum_value(block.module) == "synapse_replay":
                self.replay.add_input(name, block)
            else:
                self.stimuli.add_input(position, name, block)

    def run(self) -> None:
        sim, run = self.sim, self.setup.run
        h, pc = sim.h, sim.pc
        self._warn_if_huge()
        with self.timer.phase("init"), failure.doing("initialising the model (finitialize)"):
            if self.circuit.has_gap_junctions:
                pc.setup_transfer()  # collective, after every source_var/target_var
            pc.set_maxstep(MAX_SPIKE_EXCHANGE_STEP_MS)
            h.stdinit()
            if self.checkpoint is not None:
                from engine import checkpoint

                checkpoint.restore(self, self.options.restore_dir, self.checkpoint)
        if self.coreneuron:
            self._run_coreneuron()
            return
        save_at = self._save_time()
        with (
            self.timer.phase("run"),
            progress_bar(sim, self.options.progress, run.tstop - h.t, "simulating", "ms") as step,
        ):
            # Half a step of slack: t accumulates round-off over thousands of steps, and a
            # stricter test would never end once t sits just below tstop.
            while h.t < run.tstop - 0.5 * run.dt:
                until = min(h.t + PSOLVE_CHUNK_MS, run.tstop)
                if save_at is not None and h.t < save_at - 0.5 * run.dt:
                    until = min(until, save_at)
                before = h.t
                with failure.doing(f"simulating t = {before:g}..{until:g} ms"):
                    pc.psolve(until)
                    self.reports.flush()
                step(h.t - before)
                if save_at is not None and h.t >= save_at - 0.5 * run.dt:
                    self._save_checkpoint()
                    save_at = None
        if save_at is not None:  # a restored run that starts at or after --save-time
            self._save_checkpoint()

    def _read_checkpoint(self) -> None:
        from engine import checkpoint

        manifest = checkpoint.Manifest.read(self.options.restore_dir)
        checkpoint.check_before_build(
            manifest, self.options.restore_dir, self.setup, self.sim.nranks, self.simulator
        )
        self.setup.restart_time = manifest.time
        self.checkpoint = manifest

    def _save_time(self) -> float | None:
        if self.options.save_dir is None:
            return None
        run = self.setup.run
        at = run.tstop if self.options.save_time is None else self.options.save_time
        if not 0 < at <= run.tstop:
            raise ConfigError(f"--save-time {at} must be in (0, tstop = {run.tstop}] ms")
        return at

    def _save_checkpoint(self) -> None:
        from engine import checkpoint

        with self.timer.phase("save"):
            checkpoint.save(self, self.options.save_dir)

    def mechanism_dirs(self) -> list[Path]:
        return self.setup.mechanism_dirs + list(self.options.mechanisms)

    def rearm_after_restore(self, time: float) -> None:
        """Restart the report clocks (frames from the checkpoint on; stale ones dropped)."""
        self.reports.rearm()

    def _warn_if_huge(self) -> None:
        """A step count that will not finish in a lifetime is announced before it starts."""
        from engine.config import large_run_warning

        if large_run_warning(self.setup.run) is None:
            return
        local = sum(int(section.nseg) for section in self.sim.h.allsec())
        compartments = int(self.sim.allreduce_sum(local))
        message = large_run_warning(self.setup.run, compartments)
        if self.sim.is_root:
            log.warning("%s", message)

    def _run_coreneuron(self) -> None:
        """The same model, integrated by CoreNEURON (see engine/coreneuron)."""
        from engine.coreneuron.runner import CoreNeuronRunner

        sim, run = self.sim, self.setup.run
        assert self.library is not None
        runner = CoreNeuronRunner(
            sim, self.library, has_gap_junctions=self.circuit.has_gap_junctions
        )
        save_at = self._save_time()
        if save_at is not None and sim.h.t >= save_at - 0.5 * run.dt:
            save_at = None  # a restored run that starts at or after --save-time
            self._save_checkpoint()
        # Each psolve hands CoreNEURON's state (voltages, mechanism states, event queue,
        # Random123 positions) back to NEURON, so a CoreNEURON checkpoint is NEURON's: stop
        # at --save-time, save as with NEURON, go on with CoreNEURON.
        ends = [save_at, run.tstop] if save_at is not None else [run.tstop]
        with (
            self.timer.phase("run"),
            progress_bar(
                sim, self.options.progress, run.tstop - sim.h.t, "CoreNEURON", "ms"
            ) as step,
        ):
            for end in ends:
                runner.enable()
                try:
                    chunk = self.reports.max_chunk_ms()
                    runner.run(end, run.dt, chunk, self.reports.flush, step)
                finally:
                    runner.disable()
                if end == save_at:
                    self._save_checkpoint()

    def write_outputs(self) -> Path:
        out = self.setup.output
        if self.sim.is_root:
            out.output_dir.mkdir(parents=True, exist_ok=True)
        with self.timer.phase("write"), failure.doing("writing outputs"):
            populations = sorted(self.circuit.simulated.populations)
            self.total_spikes = self.spikes.write(
                out.spikes_file, self.circuit.offsets, populations, out.spikes_sort_order
            )
            self.reports.finalize()
        self.sim.barrier()
        return out.spikes_file

    def summary(self) -> RunSummary | None:
        return summarise(
            self.sim,
            self.timer,
            self.circuit.local_cell_count,
            self.circuit.local_synapse_count,
            self.total_spikes,
            str(self.setup.output.spikes_file),
        )


def check_output_dir(output_dir: Path, config: Path | None = None) -> None:
    """The output folder exists (or is created) and takes a file, before hours of work."""
    from engine.errors import OutputError

    key = "output.output_dir"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / f".sonatasim-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"output directory {output_dir} is not writable: {reason}", file=config, key=key
        ) from None


def remove_stale_temporaries(output_dir: Path) -> None:
    """Delete half-written outputs (`*.tmp-<pid>`) that a killed earlier run left behind."""
    if not output_dir.is_dir():
        return
    for leftover in output_dir.rglob("*.tmp-*"):  # reports may write into subfolders
        if leftover.is_file():
            log.info("removing %s, left by an interrupted run", leftover)
            leftover.unlink(missing_ok=True)


def _enum_value(value: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(value)
