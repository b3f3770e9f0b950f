"""Our own NeuroML cell models, written with libNeuroML, and a SONATA circuit using them.

Used by the tests (against jNeuroML's NEURON export) and for `configs/neuroml_cell`
(`python -m engine.dialects.neuroml.examples cell configs/neuroml_cell`). The cell is a squid-
axon-like HH neuron with a soma, an axon and a branching dendrite, its channels defined in
NeuroML with q10 temperature scaling; `gate_zoo=True` adds channels using the other gate
and rate forms (gateHHtauInf, gateHHratesTau, gateHHratesInf, gateHHratesTauInf,
gateHHInstantaneous, HHSigmoidVariable, HHExpLinearVariable, fixedTimeCourse, q10Fixed,
q10ConductanceScaling) so each is exercised in a spiking cell.
"""

from __future__ import annotations

from pathlib import Path

import neuroml as nml
import numpy as np
from neuroml.writers import NeuroMLWriter

from engine.dialects.neuroml.examples.channels import calcium_channels, hh_channels, zoo_channels

__all__ = ["CELL_ID", "cell_document", "hh_channels", "write_cell", "write_circuit"]

CELL_ID = "hh_pyramidal_like.cell"
UNBRANCHED = "sao864921383"
# cables: (group id, parent segment id or None, fraction along the parent, segments as
# (proximal or None, distal) points x, y, z, diameter; nseg)
CABLES = (
    ("soma_group", None, 1.0, [((0, 0, 0, 20.0), (0, 20, 0, 20.0))], 1),
    ("axon_group", 0, 0.0, [(None, (0, -40, 0, 1.5)), (None, (0, -120, 0, 1.0))], 5),
    ("dend_trunk", 0, 1.0, [((0, 20, 0, 3.0), (0, 80, 0, 2.5)), (None, (0, 140, 0, 2.0))], 7),
    ("dend_left", 4, 1.0, [(None, (-60, 200, 0, 1.2))], 5),
    ("dend_right", 4, 1.0, [(None, (50, 210, 10, 1.0)), (None, (90, 260, 10, 0.8))], 5),
)


def _morphology() -> nml.Morphology:
    morphology = nml.Morphology(id="morphology")
    groups = []
    next_id = 0
    for name, parent, fraction, points, nseg in CABLES:
        members = []
        for index, (proximal, distal) in enumerate(points):
            seg = nml.Segment(id=next_id, name=f"{name}_{index}")
            if index == 0 and parent is not None:
                seg.parent = nml.SegmentParent(segments=parent, fraction_along=fraction)
            elif index > 0:
                seg.parent = nml.SegmentParent(segments=next_id - 1)
            if proximal is not None:
                seg.proximal = nml.Point3DWithDiam(*proximal[:3], diameter=proximal[3])
            seg.distal = nml.Point3DWithDiam(*distal[:3], diameter=distal[3])
            morphology.segments.append(seg)
            members.append(nml.Member(segments=next_id))
            next_id += 1
        group = nml.SegmentGroup(id=name, neuro_lex_id=UNBRANCHED, members=members)
        group.properties.append(nml.Property(tag="numberInternalDivisions", value=str(nseg)))
        groups.append(group)
    groups.append(nml.SegmentGroup(id="soma", includes=[nml.Include(segment_groups="soma_group")]))
    groups.append(nml.SegmentGroup(id="axon", includes=[nml.Include(segment_groups="axon_group")]))
    dends = ("dend_trunk", "dend_left", "dend_right")
    groups.append(
        nml.SegmentGroup(
            id="dendrite_group",
            neuro_lex_id="sao1211023249",
            includes=[nml.Include(segment_groups=d) for d in dends],
        )
    )
    groups.append(
        nml.SegmentGroup(id="all", includes=[nml.Include(segment_groups=c[0]) for c in CABLES])
    )
    morphology.segment_groups.extend(groups)
    return morphology


def _density(channel: str, group: str, cond: str, erev: str, ion: str) -> nml.ChannelDensity:
    return nml.ChannelDensity(
        id=f"{channel}_{group}",
        ion_channel=channel,
        cond_density=cond,
        erev=erev,
        segment_groups=group,
        ion=ion,
    )


def cell_document(gate_zoo: bool = False, morphology: bool = True) -> nml.NeuroMLDocument:
    """The NeuroML document of our multi-compartment HH cell."""
    doc = nml.NeuroMLDocument(id="hh_pyramidal_like")
    channels = hh_channels() + (zoo_channels() + calcium_channels() if gate_zoo else [])
    doc.ion_channel_hhs.extend(channels)
    densities = [
        _density("na_hh", "soma", "120 mS_per_cm2", "50mV", "na"),
        _density("na_hh", "axon", "240 mS_per_cm2", "50mV", "na"),
        _density("na_hh", "dendrite_group", "20 mS_per_cm2", "50mV", "na"),
        _density("k_hh", "all", "36 mS_per_cm2", "-77mV", "k"),
        _density("leak", "all", "0.3 mS_per_cm2", "-54.387mV", "non_specific"),
    ]
    if gate_zoo:
        densities += [
            _density("km_tauinf", "soma", "2 mS_per_cm2", "-77mV", "k"),
            _density("ka_mixed", "dendrite_group", "3 mS_per_cm2", "-77mV", "k"),
            _density("nap_inst", "soma", "0.2 mS_per_cm2", "50mV", "na"),
        ]
    membrane = nml.MembraneProperties(channel_densities=densities)
    intracellular = nml.IntracellularProperties()
    if gate_zoo:
        membrane.channel_density_nernsts.append(
            nml.ChannelDensityNernst(
                id="ca_hva_soma",
                ion_channel="ca_hva",
                cond_density="1 mS_per_cm2",
                segment_groups="soma",
                ion="ca",
            )
        )
        membrane.channel_density_ghks.append(
            nml.ChannelDensityGHK(
                id="ca_lva_soma",
                ion_channel="ca_lva",
                permeability="2e-5 cm_per_s",
                segment_groups="soma",
                ion="ca",
            )
        )
        intracellular.species.append(
            nml.Species(
                id="ca",
                ion="ca",
                concentration_model="ca_pool",
                segment_groups="soma",
                initial_concentration="5e-5 mM",
                initial_ext_concentration="2 mM",
            )
        )
        doc.decaying_pool_concentration_models.append(
            nml.DecayingPoolConcentrationModel(
                id="ca_pool",
                ion="ca",
                resting_conc="5e-5 mM",
                decay_constant="80ms",
                shell_thickness="0.1um",
            )
        )
    membrane.specific_capacitances.append(
        nml.SpecificCapacitance(value="1.0 uF_per_cm2", segment_groups="all")
    )
    membrane.spike_threshes.append(nml.SpikeThresh(value="0mV", segment_groups="all"))
    membrane.init_memb_potentials.append(nml.InitMembPotential(value="-65mV", segment_groups="all"))
    intracellular.resistivities.append(nml.Resistivity(value="0.1 kohm_cm", segment_groups="all"))
    cell = nml.Cell(
        id=CELL_ID.replace(".", "_"),
        biophysical_properties=nml.BiophysicalProperties(
            id="biophys", membrane_properties=membrane, intracellular_properties=intracellular
        ),
    )
    if morphology:
        cell.morphology = _morphology()
    doc.cells.append(cell)
    return doc


def write_cell(path: str | Path, **options: bool) -> Path:
    """Write the cell file (validated by libNeuroML first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = cell_document(**options)
    doc.validate(recursive=True)
    NeuroMLWriter.write(doc, str(path))
    return path


def write_circuit(
    root: str | Path,
    *,
    n_cells: int = 2,
    amplitudes: tuple[float, ...] = (0.3, 0.6),
    tstop: float = 200.0,
    dt: float = 0.025,
    celsius: float = 16.0,
    gate_zoo: bool = False,
) -> Path:
    """A SONATA circuit of `nml:` cells, each driven by its own current step; returns the
    simulation config."""
    from engine.io.sonata_writer import (
        write_circuit_config,
        write_node_sets,
        write_nodes,
        write_simulation_config,
    )

    root = Path(root).resolve()
    models = root / "components" / "neuroml_models"
    write_cell(models / f"{CELL_ID}.nml", gate_zoo=gate_zoo)
    morphs = root / "components" / "morphologies"
    morphs.mkdir(parents=True, exist_ok=True)
    (morphs / "README").write_text(
        "Empty on purpose: the NeuroML cells of this circuit hold their own morphology.\n"
    )
    nodes_file = root / "network" / "cortex.layer5.nodes.h5"
    nodes_file.parent.mkdir(parents=True, exist_ok=True)
    nodes_file.unlink(missing_ok=True)
    population = "cortex.layer5.pyramidal_like"
    write_nodes(
        nodes_file,
        population,
        {
            "model_type": np.full(n_cells, "biophysical", dtype=object),
            "model_template": np.full(n_cells, f"nml:{CELL_ID}.nml", dtype=object),
            "x": np.linspace(0.0, 100.0, n_cells),
            "y": np.zeros(n_cells),
            "z": np.zeros(n_cells),
        },
    )
    write_node_sets(
        root / "node_sets.json",
        {
            **{f"cell_{i}": {"population": population, "node_id": [i]} for i in range(n_cells)},
            "all_pyramidal": {"population": population},
        },
    )
    write_circuit_config(
        root / "circuit_config.json",
        nodes=[
            {"nodes_file": str(nodes_file), "populations": {population: {"type": "biophysical"}}}
        ],
        edges=[],
        # libsonata wants a morphologies_dir for biophysical populations; these cells
        # bring their own morphology, so it stays empty
        components={"biophysical_neuron_models_dir": str(models), "morphologies_dir": str(morphs)},
        node_sets_file=str(root / "node_sets.json"),
    )
    inputs = {
        f"step_{i}": {
            "module": "linear",
            "input_type": "current_clamp",
            "amp_start": float(amplitudes[i % len(amplitudes)]),
            "delay": 20.0,
            "duration": tstop - 70.0,
            "node_set": f"cell_{i}",
        }
        for i in range(n_cells)
    }
    config = root / "simulation_config.json"
    write_simulation_config(
        config,
        network=str(root / "circuit_config.json"),
        run={"tstop": tstop, "dt": dt, "random_seed": 1, "spike_threshold": 0.0},
        conditions={"celsius": celsius, "v_init": -65.0},
        output={"output_dir": str(root / "output"), "spikes_file": "spikes.h5"},
        inputs=inputs,
        reports={
            "soma_v": {
                "cells": "all_pyramidal",
                "type": "compartment",
                "variable_name": "v",
                "sections": "soma",
                "unit": "mV",
                "dt": dt,
                "start_time": 0.0,
                "end_time": tstop,
            }
        },
        node_sets_file=str(root / "node_sets.json"),
    )
    return config
