"""NeuroML elements sonatasim does not simulate are refused before the run, in one line
naming the file, the element and its id; and the generated mechanisms' names.

The documents are our example cell (libNeuroML) with one unsupported piece added each;
every one validates with libNeuroML, so the refusal is ours, not the schema's.
"""

from __future__ import annotations

import neuroml as nml
import pytest
from neuroml.writers import NeuroMLWriter

from engine.dialects.neuroml.document import NeuroMLRefused, load_cell
from engine.dialects.neuroml.examples.cell import CELL_ID, cell_document, write_circuit
from engine.dialects.neuroml.examples.channels import hh_channels
from engine.dialects.neuroml.model import Channel
from engine.dialects.neuroml.nmodl import channel_nmodl
from engine.errors import CircuitError
from tests.conftest import run_cli


def _kinetic(doc):
    doc.ion_channel_kses.append(nml.IonChannelKS(id="k_kinetic", conductance="10pS", species="k"))
    return "ionChannelKS", "k_kinetic"


def _custom_rate(doc):
    channel = nml.IonChannelHH(id="custom_na", conductance="10pS", species="na")
    channel.gate_hh_rates.append(
        nml.GateHHRates(
            id="m",
            instances=3,
            forward_rate=nml.HHRate(type="my_lems_rate", rate="1per_ms"),
            reverse_rate=nml.HHRate(
                type="HHExpRate", rate="4per_ms", midpoint="-65mV", scale="-18mV"
            ),
        )
    )
    doc.ion_channel_hhs.append(channel)
    return "forwardRate", "custom_na/m"


def _cell2_ca_pools(doc):
    doc.cell2_ca_poolses.append(nml.Cell2CaPools(id="two_pools_cell"))
    return "cell2CaPools", "two_pools_cell"


def _non_uniform(doc):
    membrane = doc.cells[0].biophysical_properties.membrane_properties
    membrane.channel_density_non_uniforms.append(
        nml.ChannelDensityNonUniform(id="na_gradient", ion_channel="na_hh", ion="na", erev="50mV")
    )
    return "channelDensityNonUniform", "na_gradient"


def _fractional(doc):
    channel = nml.IonChannelHH(id="frac_k", conductance="10pS", species="k")
    sub = nml.GateFractionalSubgate(
        id="fast",
        fractional_conductance="1",
        time_course=nml.HHTime(type="fixedTimeCourse", tau="1ms"),
        steady_state=nml.HHVariable(
            type="HHSigmoidVariable", rate=1, midpoint="-40mV", scale="5mV"
        ),
    )
    channel.gate_fractionals.append(nml.GateFractional(id="f", instances=1, sub_gates=[sub]))
    doc.ion_channel_hhs.append(channel)
    return "gateFractional", "frac_k/f"


def _sub_tree(doc):
    group = nml.SegmentGroup(id="distal_tree")
    group.sub_trees.append(nml.SubTree(from_=nml.SegmentEndPoint(segments=4)))
    doc.cells[0].morphology.segment_groups.append(group)
    return "subTree", "distal_tree"


@pytest.mark.parametrize(
    "add", [_kinetic, _custom_rate, _cell2_ca_pools, _non_uniform, _fractional, _sub_tree]
)
def test_refused_element_gives_one_line(tmp_path, add):
    doc = cell_document()
    element, ident = add(doc)
    path = tmp_path / "refused.cell.nml"
    NeuroMLWriter.write(doc, str(path))
    with pytest.raises(NeuroMLRefused) as caught:
        load_cell(path)
    message = caught.value.describe()
    assert "\n" not in message
    assert str(path) in message and f"<{element}>" in message and f"'{ident}'" in message


def test_refusal_stops_the_run_before_compiling(tmp_path):
    config = write_circuit(tmp_path / "circuit", n_cells=1)
    cell = tmp_path / "circuit" / "components" / "neuroml_models" / f"{CELL_ID}.nml"
    doc = cell_document()
    _kinetic(doc)
    NeuroMLWriter.write(doc, str(cell))
    result = run_cli("run", config, "--no-progress", check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "<ionChannelKS> id 'k_kinetic'" in errors[0], result.stderr
    assert "compiling" not in result.stdout + result.stderr


def test_generated_names_follow_content_not_only_id():
    doc_channels = {c.id: c for c in hh_channels()}
    from engine.dialects.neuroml.channels import read_channel as _channel

    na = _channel(tmp := __import__("pathlib").Path("x.nml"), doc_channels["na_hh"])
    k = _channel(tmp, doc_channels["k_hh"])
    renamed = Channel(id="na_hh", gates=k.gates)
    first, text = channel_nmodl(na, "na", "ohmic", "a.nml")
    again, _ = channel_nmodl(na, "na", "ohmic", "a.nml")
    other, _ = channel_nmodl(renamed, "na", "ohmic", "a.nml")
    assert first == again and first != other  # same id, other gates: no clash
    assert first.startswith("Nml_na_hh_") and f"SUFFIX {first}" in text
    assert "USEION na READ ena WRITE ina" in text
    leak, leak_text = channel_nmodl(Channel(id="leak"), "non_specific", "ohmic", "a.nml")
    assert "NONSPECIFIC_CURRENT i" in leak_text and "STATE" not in leak_text


def test_missing_file_names_the_template(tmp_path):
    with pytest.raises(CircuitError, match="not found"):
        load_cell(tmp_path / "absent.cell.nml")
