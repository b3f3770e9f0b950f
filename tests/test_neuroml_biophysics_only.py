"""bmtk-style `nml:` cells (biophysics only, no <morphology>) against a plain-NEURON build.

The NeuroML file (written with libNeuroML) says in NeuroML what the generator's Allen
perisomatic json says: hh densities named by their range variables (gnabar_hh, ...), pas
as channelDensity 'pas', cm per group, resistivity. The engine builds it from the node's
SWC as bmtk's NMLLoad does (axon -> two 30 um stubs before the mechanisms, groups by
section name, nseg from run.dL); tests/reference/plain_allen.py builds the json's cell by
hand with NEURON's Import3d. Every section's L, area, nseg, Ra and per-segment cm, pas,
hh and ena/ek must be equal.
"""

from __future__ import annotations

import neuroml as nml
from neuroml.writers import NeuroMLWriter

from engine.generate.allen import HH_SOMA, cell_json, generate_allen_network
from engine.io.types_csv import write_types_csv
from tests.test_allen_cells import assert_same_cell, engine_cells, plain_cell

NML_FILE = "exc_hh.cell.nml"


def write_biophysics_file(path, model: dict) -> None:
    """The Allen json `model` as a bmtk NeuroML biophysics file."""
    passive = model["passive"][0]
    erev = {e["section"]: e for e in model["conditions"][0]["erev"]}
    membrane = nml.MembraneProperties()
    for entry in model["genome"]:
        group, name, value = entry["section"], entry["name"], entry["value"]
        if name == "g_pas":
            membrane.channel_densities.append(
                nml.ChannelDensity(
                    id=f"g_pas_{group}",
                    ion_channel="pas",
                    ion="non_specific",
                    cond_density=f"{value} S_per_cm2",
                    erev=f"{passive['e_pas']} mV",
                    segment_groups=group,
                )
            )
            continue
        ion = {"gnabar_hh": "na", "gkbar_hh": "k"}.get(name)
        if ion is None:
            continue  # gl_hh / el_hh: hh's defaults, as in the json
        default = {"na": 50.0, "k": -77.0}[ion]  # NEURON's, where the json sets none
        reversal = erev.get(group, {}).get(f"e{ion}", default)
        membrane.channel_densities.append(
            nml.ChannelDensity(
                id=name,
                ion_channel="hh",
                ion=ion,
                cond_density=f"{value} S_per_cm2",
                erev=f"{reversal} mV",
                segment_groups=group,
            )
        )
    for cm in passive["cm"]:
        membrane.specific_capacitances.append(
            nml.SpecificCapacitance(value=f"{cm['cm']} uF_per_cm2", segment_groups=cm["section"])
        )
    intracellular = nml.IntracellularProperties()
    intracellular.resistivities.append(nml.Resistivity(value=f"{passive['ra']} ohm_cm"))
    cell = nml.Cell(
        id="exc_hh",
        biophysical_properties=nml.BiophysicalProperties(
            id="biophys", membrane_properties=membrane, intracellular_properties=intracellular
        ),
    )
    doc = nml.NeuroMLDocument(id="exc_hh", cells=[cell])
    NeuroMLWriter.write(doc, str(path))


def test_biophysics_only_cell_is_built_as_bmtk_builds_it(tmp_path):
    dL = 20.0
    circuit = generate_allen_network(tmp_path / "net", n_exc=1, n_inh=1, n_lgn=1, dL=dL)
    models = circuit.root / "components" / "biophysical_neuron_models"
    model = cell_json("exc")
    assert HH_SOMA["gnabar_hh"] == 0.12
    write_biophysics_file(models / NML_FILE, model)
    rows = circuit.node_types["cortex"]
    rows[0]["model_template"] = f"nml:{NML_FILE}"
    write_types_csv(circuit.root / "network" / "cortex_node_types.csv", "node_type_id", rows)
    engine = engine_cells(circuit.simulation_config, tmp_path / "engine.json")
    plain = plain_cell(
        circuit.morphology, models / "exc_hh.json", dL, tmp_path / "p.json", "aibs_perisomatic"
    )
    assert_same_cell(engine["0"], plain)
    cell = engine["0"]
    assert cell[0]["type"] == "soma" and [s["type"] for s in cell[-2:]] == ["axon", "axon"]
    soma = cell[0]["segments"][0]
    assert (soma["ena"], soma["ek"], soma["gnabar_hh"], soma["g_pas"]) == (53.0, -80.0, 0.12, 3e-5)
