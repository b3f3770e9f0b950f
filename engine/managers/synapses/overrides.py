"""connection_overrides: per-pathway weights, delays, minis rates, synapse statements, models.

Blocks are read (and their statements parsed) before any cell exists, so a bad block fails
fast. While the edge managers create synapses, each one asks `resolve` what the blocks
decided for its local edges; blocks apply in file order, later ones refining earlier ones
(neurodamus' rule, compat doc §3.2):

* `weight`: the factor of the *last* matching block (libsonata always gives one, default 1)
  multiplies the NetCon weight of presynaptic, replay and mini NetCons. Edges whose final
  factor is 0 and that no delayed block selects are not instantiated at all.
* `synapse_delay_override`, `spont_minis`, `modoverride`: the last matching block that sets
  them (a delay override of 0 means "not set", as in neurodamus).
* `synapse_configure`: every matching block's statements, in order, on each point process.
* `delay` > 0: only the block's weight is used, from that time on (the new NetCon weight is
  the edge's unscaled weight times that block's weight); its other fields are ignored.
  It acts on presynaptic and replay NetCons (neurodamus changes presynaptic ones only).
* `neuromodulation_strength` / `neuromodulation_dtc`: the last matching block that sets
  them replaces the edges' `neuromod_strength` / `neuromod_dtc` on neuromodulatory edge
  populations (engine/managers/synapses/neuromodulation.py); chemical edges ignore them.

What `modoverride: X` does (synapse_models.mod_override_model): the edges get point process
X, which must be compiled (NEURON's own, ours, or a .mod in the circuit's mechanisms_dir).
X receives every PARAMETER it declares that the edges carry under the same name, the TM
values it declares (u_syn -> Use, depression_time -> Dep, facilitation_time -> Fac, as
absolute values; n_rrp_vesicles -> Nrrp when >= 0), synapseID and conductance; setRNG with
GluSynapse's ids (gid + 1, 100000 + synapse id, synapse_seed + 200) when it has one; its
`nc_type_param_X` slot for minis and replay. NetCon weight: the edge's conductance x weight
(nS, turned into uS for NEURON's Exp2Syn/ExpSyn). `modoverride: GluSynapse` also gets
neurodamus' GluSynapseHelper mapping (engine/managers/synapses/glusynapse.py: Use_d_TM -> Use_d,
potentiated or depressed start, calcium scaling of Use_d/Use_p); other hoc helpers'
renames are not reproduced.

A block that selects no connection on any rank is reported with a warning. Limits: chemical
and neuromodulatory edges only (not gap junctions); on edges onto artificial cells only
`weight` (delayed or not) and `synapse_delay_override` act.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import events
from engine.errors import ConfigError
from engine.statements import Statement, apply_statement, numeric_attribute, parse_statements

log = logging.getLogger("sonatasim")

_active: ContextVar[ConnectionOverrides | None] = ContextVar("connection_overrides", default=None)


@dataclass(frozen=True)
class OverrideBlock:
    """One connection_overrides entry, checked and with its statements parsed."""

    position: int
    name: str
    source: str
    target: str
    weight: float
    delay: float = 0.0
    synapse_delay_override: float | None = None
    spont_minis: float | None = None
    modoverride: str | None = None
    statements: tuple[Statement, ...] = ()
    neuromodulation_strength: float | None = None
    neuromodulation_dtc: float | None = None

    @property
    def label(self) -> str:
        return f"connection_overrides '{self.name}'"

    @property
    def is_delayed(self) -> bool:
        return self.delay > 0


def read_blocks(setup: Any) -> list[OverrideBlock]:
    """The config's override blocks in file order (ConfigError for unsupported ones)."""
    config = getattr(setup, "libsonata_config", None)
    if config is None:
        return []
    file = setup.config_path
    blocks = []
    for position, raw in enumerate(config.connection_overrides()):
        label = f"connection_overrides '{raw.name}'"
        key = f"connection_overrides[{raw.name}]"
        for name in ("neuromodulation_dtc", "neuromodulation_strength"):
            value = getattr(raw, name)
            if value is not None and value < 0:
                raise ConfigError(
                    f"{label}: {name} must not be negative, got {value}",
                    file=file,
                    key=f"{key}.{name}",
                )
        if raw.spont_minis is not None and raw.spont_minis < 0:
            raise ConfigError(
                f"{label}: spont_minis must not be negative, got {raw.spont_minis}",
                file=file,
                key=f"{key}.spont_minis",
            )
        if raw.delay < 0:
            raise ConfigError(f"{label}: delay must not be negative", file=file, key=f"{key}.delay")
        statements: tuple[Statement, ...] = ()
        if raw.synapse_configure is not None:
            statements = tuple(
                parse_statements(
                    raw.synapse_configure,
                    "synapse",
                    f"{label} synapse_configure",
                    file=file,
                    key=f"{key}.synapse_configure",
                )
            )
        block = OverrideBlock(
            position=position,
            name=raw.name,
            source=raw.source,
            target=raw.target,
            weight=float(raw.weight),
            delay=float(raw.delay),
            synapse_delay_override=raw.synapse_delay_override or None,
            spont_minis=raw.spont_minis,
            modoverride=raw.modoverride or None,
            statements=statements,
            neuromodulation_strength=raw.neuromodulation_strength,
            neuromodulation_dtc=raw.neuromodulation_dtc,
        )
        ignored = block.statements or block.spont_minis is not None or block.modoverride
        if block.is_delayed and (ignored or block.synapse_delay_override is not None) and _root():
            log.warning(
                "%s: delay > 0, so only its weight applies (from t=%g ms)", label, block.delay
            )
        blocks.append(block)
    return blocks


@dataclass
class EdgeOverrides:
    """What the blocks decided for each local edge of one edge population."""

    blocks: list[OverrideBlock]
    factors: np.ndarray  # weight factor per edge (1 where no block matched)
    delays: np.ndarray  # synapse_delay_override, NaN where none
    spont_rates: np.ndarray  # Hz, NaN where none
    configure: np.ndarray  # per edge: index into `statement_sets` (0: none)
    statement_sets: list[tuple[OverrideBlock, ...]]
    mechanisms: np.ndarray  # per edge: index into `mechanism_names` (0: the circuit's own)
    mechanism_names: list[str | None]
    delayed: list[tuple[OverrideBlock, np.ndarray]]  # (block, edge mask), by time
    later: np.ndarray  # selected by some delayed block
    disabled: np.ndarray  # weight 0 and no delayed block: not instantiated
    neuromod_strength: np.ndarray | None = None  # neuromodulatory edges: NaN where none
    neuromod_dtc: np.ndarray | None = None
    config_file: Any = None
    raw_weights: np.ndarray | None = None  # artificial targets: weights before the factors
    tracked: list[tuple[Any, int, float]] = field(default_factory=list)  # delayed NetCons

    def edge_delays(self, delays: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(self.delays), delays, self.delays)

    def finish_netcon(self, netcon: Any, i: int, kind: int, unscaled: float) -> None:
        """Scale a NetCon the model configured; remember it if a delayed block wants it."""
        from engine.managers.synapses.base import NETCON_MINI

        netcon.weight[0] = unscaled * float(self.factors[i])
        if kind != NETCON_MINI and self.later[i]:
            self.tracked.append((netcon, i, unscaled))

    def wrap_model(self, ctx: Any, model: Any) -> Any:
        """The circuit's model, or one that also knows modoverride mechanisms and sets."""
        from engine.managers.synapses.models import OverriddenModel, mod_override_model

        if not self.mechanisms.any() and not self.configure.any():
            return model
        replacements = {}
        for code, name in enumerate(self.mechanism_names):
            if name is not None:
                block = next(b for b in self.blocks if b.modoverride == name)
                key = f"connection_overrides[{block.name}].modoverride"
                replacements[code] = mod_override_model(ctx, name, model, block.label, key)
        return OverriddenModel(
            weights=model.weights,
            base=model,
            replacements=replacements,
            which=self.mechanisms,
            signature=self.configure,
        )

    def configure_synapses(self, targets: list[Any], edges_name: str) -> None:
        """Each block's statements, once per point process, in block order."""
        done: set[int] = set()
        for i in np.flatnonzero(self.configure):
            synapse = targets[i]
            if synapse is None or id(synapse) in done:
                continue
            done.add(id(synapse))
            for block in self.statement_sets[int(self.configure[i])]:
                for statement in block.statements:
                    if not numeric_attribute(synapse, statement.name):
                        raise ConfigError(
                            f"{block.label} synapse_configure: '{statement.text()}': the"
                            f" {synapse.hname().split('[')[0]} synapses of edges {edges_name}"
                            f" have no variable {statement.name}",
                            file=self.config_file,
                            key=f"connection_overrides[{block.name}].synapse_configure",
                        )
                    apply_statement(synapse, statement)


class ConnectionOverrides:
    """The override blocks of a simulation and what they matched on this rank."""

    def __init__(self, setup: Any):
        self.setup = setup
        self.blocks = read_blocks(setup)
        self.matched = np.zeros(len(self.blocks), dtype=np.int64)
        self.circuit: Any = None
        self.edges: list[EdgeOverrides] = []
        self._handler: Any = None

    @contextlib.contextmanager
    def applied(self, circuit: Any) -> Iterator[ConnectionOverrides]:
        """Make the blocks visible to the edge managers while `circuit` creates synapses."""
        self.circuit = circuit
        for block in self.blocks:  # on every rank, so a bad node set fails everywhere
            key = f"connection_overrides[{block.name}]"
            circuit.targets.target(block.source, key=f"{key}.source")
            circuit.targets.target(block.target, key=f"{key}.target")
        token = _active.set(self if self.blocks else None)
        try:
            yield self
        finally:
            _active.reset(token)
        self._report_unmatched(circuit.sim)

    def resolve(self, manager: Any, local: Any) -> EdgeOverrides | None:
        """The decisions for the local edges of one edge manager; None if no block applies."""
        n = len(local)
        if n == 0:
            return None
        targets = self.circuit.targets
        source, target = manager.source.name, manager.target.name
        factors, delays, rates = np.ones(n), np.full(n, np.nan), np.full(n, np.nan)
        mechanisms = np.zeros(n, dtype=np.int64)
        strengths, dtcs = np.full(n, np.nan), np.full(n, np.nan)
        names: list[str | None] = [None]
        configured = np.zeros((n, len(self.blocks)), dtype=bool)
        delayed: list[tuple[OverrideBlock, np.ndarray]] = []
        for block in self.blocks:
            key = f"connection_overrides[{block.name}]"
            sources = targets.target(block.source, key=f"{key}.source")
            receivers = targets.target(block.target, key=f"{key}.target")
            mask = sources.contains(source, local.source_ids)
            mask &= receivers.contains(target, local.target_ids)
            count = int(np.count_nonzero(mask))
            self.matched[block.position] += count
            if count == 0:
                continue
            if block.is_delayed:
                delayed.append((block, mask))
                continue
            factors[mask] = block.weight
            if block.synapse_delay_override is not None:
                delays[mask] = block.synapse_delay_override
            if block.spont_minis is not None:
                rates[mask] = block.spont_minis
            if block.modoverride is not None:
                if block.modoverride not in names:
                    names.append(block.modoverride)
                mechanisms[mask] = names.index(block.modoverride)
            if block.statements:
                configured[mask, block.position] = True
            if block.neuromodulation_strength is not None:
                strengths[mask] = block.neuromodulation_strength
            if block.neuromodulation_dtc is not None:
                dtcs[mask] = block.neuromodulation_dtc
        neuromodulated = not (np.all(np.isnan(strengths)) and np.all(np.isnan(dtcs)))
        untouched = _untouched(factors, delays, rates, mechanisms, delayed)
        if not configured.any() and untouched and not neuromodulated:
            return None
        delayed.sort(key=lambda item: item[0].delay)  # stable: file order at equal times
        later = np.zeros(n, dtype=bool)
        for _, mask in delayed:
            later |= mask
        sets, configure = np.unique(configured, axis=0, return_inverse=True)
        statement_sets = [tuple(self.blocks[b] for b in np.flatnonzero(row)) for row in sets]
        configure = configure.reshape(n)
        if statement_sets and statement_sets[0]:  # index 0 must mean "no statements"
            statement_sets.insert(0, ())
            configure = configure + 1
        found = EdgeOverrides(
            blocks=self.blocks,
            factors=factors,
            delays=delays,
            spont_rates=rates,
            configure=configure,
            statement_sets=statement_sets,
            mechanisms=mechanisms,
            mechanism_names=names,
            delayed=delayed,
            later=later,
            disabled=(factors == 0.0) & ~later,
            config_file=self.setup.config_path,
            neuromod_strength=strengths,
            neuromod_dtc=dtcs,
        )
        self.edges.append(found)
        return found

    def _report_unmatched(self, sim: Any) -> None:
        """Warn (on rank 0) about blocks that selected nothing on any rank."""
        if not self.blocks:
            return
        totals = np.sum(np.array(sim.allgather(self.matched.tolist())), axis=0)
        if not sim.is_root:
            return
        for block, total in zip(self.blocks, totals, strict=True):
            if total == 0:
                log.warning(
                    "%s selects no connection (source '%s' -> target '%s' among the simulated"
                    " cells); it has no effect",
                    block.label,
                    block.source,
                    block.target,
                )

    def schedule_delayed_weights(self, h: Any) -> int:
        """Weight changes of delayed blocks at their times, re-armed at every finitialize."""
        changes = [(block, mask, e) for e in self.edges for block, mask in e.delayed if e.tracked]
        if not changes:
            return 0

        def arm() -> None:
            for edges in self.edges:
                for netcon, i, unscaled in edges.tracked:
                    netcon.weight[0] = unscaled * float(edges.factors[i])
            for time in times:  # named events: a restored checkpoint still fires them
                events.at(h, time, f"overrides.weights.{time!r}")

        times = sorted({block.delay for block, _, _ in changes})
        for time in times:
            events.register(
                f"overrides.weights.{time!r}",
                lambda time=time: self._change_weights(changes, time),
            )
        self._handler = h.FInitializeHandler(1, arm)
        return len(changes)

    @staticmethod
    def _change_weights(changes: list, time: float) -> None:
        for block, mask, edges in changes:
            if block.delay != time:
                continue
            for netcon, i, unscaled in edges.tracked:
                if mask[i]:
                    netcon.weight[0] = unscaled * block.weight


def _untouched(
    factors: np.ndarray,
    delays: np.ndarray,
    rates: np.ndarray,
    mechanisms: np.ndarray,
    delayed: list,
) -> bool:
    """True when the blocks leave every edge as the circuit made it."""
    return (
        bool(np.all(factors == 1.0))
        and bool(np.all(np.isnan(delays)))
        and bool(np.all(np.isnan(rates)))
        and not mechanisms.any()
        and not delayed
    )


def _root() -> bool:
    """Whether this process logs config warnings (rank 0, or NEURON not started yet)."""
    from engine import simulator

    handle = simulator._handle
    return handle is None or handle.is_root


def resolve_active(manager: Any, local: Any) -> EdgeOverrides | None:
    """For the edge manager: the active overrides' decisions on its edges (or None)."""
    overrides = _active.get()
    return overrides.resolve(manager, local) if overrides is not None else None
