"""bmtk-style `nml:` files naming the circuit's own mechanisms (Allen files: NaTs, Ca_HVA,
CaDynamics): every value of the file lands on the named range variable.

The two .mod files are ours, written here from the published forms (an m^2 h calcium
current with `gbar`; Allen's calcium pool cai' = -10000 ica gamma / (2 F depth) -
(cai - minCai) / decay). The file is re-read with ElementTree (not libNeuroML) for the
expected values. Also: a Nernst density on a section whose pool writes cai gets NEURON's
default ion style (eca computed from the concentrations), as in bmtk, which sets none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from engine.generate.templates import write_ball_and_stick_swc
from tests.conftest import REPO, cli_env

CA_CHANNEL = """
NEURON {
    SUFFIX Ca_HVA
    USEION ca READ eca WRITE ica
    RANGE gbar
}
UNITS { (mV) = (millivolt) (mA) = (milliamp) (S) = (siemens) }
PARAMETER { gbar = 0 (S/cm2) }
ASSIGNED { v (mV) eca (mV) ica (mA/cm2) minf hinf mtau (ms) htau (ms) }
STATE { m h }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ica = gbar * m * m * h * (v - eca)
}
INITIAL { rates(v) m = minf h = hinf }
DERIVATIVE states { rates(v) m' = (minf - m) / mtau h' = (hinf - h) / htau }
PROCEDURE rates(v (mV)) {
    minf = 1 / (1 + exp(-(v + 20) / 6))
    hinf = 1 / (1 + exp((v + 40) / 8))
    mtau = 1
    htau = 50
}
"""

CA_POOL = """
NEURON {
    SUFFIX CaDynamics
    USEION ca READ ica WRITE cai
    RANGE decay, gamma, minCai, depth
}
UNITS { (mV) = (millivolt) (mA) = (milliamp) FARADAY = (faraday) (coulombs) (molar) = (1/liter) (mM) = (millimolar) (um) = (micron) }
PARAMETER { gamma = 0.05 decay = 80 (ms) depth = 0.1 (um) minCai = 1e-4 (mM) }
ASSIGNED { ica (mA/cm2) }
STATE { cai (mM) }
BREAKPOINT { SOLVE states METHOD cnexp }
DERIVATIVE states { cai' = -(10000) * (ica * gamma / (2 * FARADAY * depth)) - (cai - minCai) / decay }
"""

NML = """<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="allen_like">
  <concentrationModel id="CaDynamics" type="CaDynamics" minCai="2e-4 mM" decay="91.5 ms"
      depth="0.2 um" gamma="0.004" ion="ca" segmentGroup="soma"/>
  <cell id="allen_like_cell">
    <biophysicalProperties id="biophys">
      <membraneProperties>
        <channelDensity id="g_pas_all" ionChannel="pas" condDensity="0.00093 S_per_cm2"
            erev="-85.6 mV" segmentGroup="all" ion="non_specific"/>
        <channelDensityNernst id="gbar_Ca_HVA" ionChannel="Ca_HVA"
            condDensity="1.5 mS_per_cm2" segmentGroup="soma" ion="ca"/>
        <specificCapacitance value="1.0 uF_per_cm2" segmentGroup="soma"/>
        <specificCapacitance value="2.19 uF_per_cm2" segmentGroup="dend"/>
        <specificCapacitance value="1.5 uF_per_cm2" segmentGroup="axon"/>
      </membraneProperties>
      <intracellularProperties>
        <species segmentGroup="soma" id="ca" concentrationModel="CaDynamics" ion="ca"
            initialConcentration="0.0001 mM" initialExtConcentration="2 mM"/>
        <resistivity value="35.64 ohm_cm" segmentGroup="all"/>
      </intracellularProperties>
    </biophysicalProperties>
  </cell>
</neuroml>
"""

DRIVER = """
import json, sys
from pathlib import Path
from neuron import h
h.nrn_load_dll(sys.argv[1])
from engine.managers.cells import neuroml as cells
from engine.managers.cells.morphology import MorphologyLoader
loader = MorphologyLoader().install(h)
swc = Path(sys.argv[3])
owner, sections, _ = cells.build_cell(h, Path(sys.argv[2]), 0, loader, swc.parent, swc.name, 20.0)
h.celsius = 34
h.finitialize(-70)
for _ in range(400):
    h.fadvance()
out = []
for sec in sections:
    seg = sec(0.5)
    item = {"name": sec.name().split(".")[-1], "cm": sec.cm, "Ra": sec.Ra, "g_pas": seg.g_pas,
            "e_pas": seg.e_pas, "nseg": sec.nseg, "L": sec.L}
    if h.ismembrane("CaDynamics", sec=sec):
        item.update(gamma=seg.gamma_CaDynamics, decay=seg.decay_CaDynamics,
                    depth=seg.depth_CaDynamics, minCai=seg.minCai_CaDynamics,
                    gbar=seg.gbar_Ca_HVA, cai=seg.cai, cao=seg.cao, eca=seg.eca)
    out.append(item)
print(json.dumps(out))
"""


def test_circuit_mechanisms_get_the_files_values(tmp_path):
    mods = tmp_path / "mechanisms"
    mods.mkdir()
    (mods / "Ca_HVA.mod").write_text(CA_CHANNEL)
    (mods / "CaDynamics.mod").write_text(CA_POOL)
    built = subprocess.run(
        [str(REPO / ".venv" / "bin" / "nrnivmodl") if (REPO / ".venv").exists() else "nrnivmodl"],
        cwd=mods,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    library = next(mods.glob("*/libnrnmech.so"))
    nml_file = tmp_path / "allen_like.cell.nml"
    nml_file.write_text(NML)
    swc = tmp_path / "morphologies" / "ball_stick_axon.swc"
    write_ball_and_stick_swc(swc, dend_length=300.0, axon_length=100.0)
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(library), str(nml_file), str(swc)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sections = json.loads(result.stdout.strip().splitlines()[-1])
    root = ElementTree.parse(nml_file).getroot()
    ns = "{http://www.neuroml.org/schema/neuroml2}"
    pool = root.find(f"{ns}concentrationModel").attrib
    cm = {
        e.attrib["segmentGroup"]: float(e.attrib["value"].split()[0])
        for e in root.iter(f"{ns}specificCapacitance")
    }
    by_type = {}
    for sec in sections:
        by_type.setdefault(sec["name"][:4], []).append(sec)
    assert sorted(by_type) == ["axon", "dend", "soma"]
    assert [s["name"] for s in by_type["axon"]] == ["axon[0]", "axon[1]"]  # bmtk's stubs
    for kind, secs in by_type.items():
        for sec in secs:
            assert sec["cm"] == cm[kind] and sec["Ra"] == 35.64
            assert (sec["g_pas"], sec["e_pas"]) == (0.00093, -85.6)
            assert sec["nseg"] == 1 + 2 * int(sec["L"] / 40.0)  # run.dL = 20
    soma = by_type["soma"][0]
    assert soma["gbar"] == 1.5e-3  # mS_per_cm2 converted
    for name in ("gamma", "decay", "depth", "minCai"):
        assert soma[name] == float(pool[name].split()[0]), name
    # the pool wrote cai, and NEURON computed eca from it (Nernst at 34 degC)
    import math

    assert soma["cai"] > 0 and soma["cai"] != 5e-5
    nernst = (
        1e3 * 8.314462618 * (34 + 273.15) / (2 * 96485.33212) * math.log(soma["cao"] / soma["cai"])
    )
    assert abs(soma["eca"] - nernst) < 0.05, (soma["eca"], nernst)


POOLS_DRIVER = """
import json, sys
from neuron import h
h.nrn_load_dll(sys.argv[1])
out = {}
for name in sys.argv[2:]:
    sec = h.Section(name="soma_" + name)
    sec.L = sec.diam = 12.0
    sec.insert("Ca_HVA")
    sec.gbar_Ca_HVA = 2e-3
    sec.insert(name)
    setattr(sec, "initialConcentration_" + name, 1e-4)
    h.ion_style("ca_ion", 3, 1, 0, 0, 0, sec=sec)  # eca a parameter, the pool sets cai
    sec.eca = 120.0
    clamp = h.SEClamp(sec(0.5))
    clamp.dur1, clamp.amp1, clamp.rs = 1e9, -10.0, 1e-4
    h.dt = 0.025
    h.finitialize(-10.0)
    while h.t < 30.0 - 1e-9:
        h.fadvance()
    seg = sec(0.5)
    out[name] = {"cai": seg.cai, "ica": seg.ica, "area": seg.area(), "t": h.t}
    h.delete_section(sec=sec)
print(json.dumps(out))
"""


def test_generated_pools_follow_the_neuroml_equations(tmp_path):
    """decayingPool and fixedFactor pools under a constant calcium current (voltage clamp,
    gates at steady state from the start, eca fixed): cai(t) = rest + A tau +
    (c0 - rest - A tau) exp(-t / tau), with A from the LEMS definitions in SI units."""
    import math

    from engine.dialects.neuroml.model import ConcentrationModel
    from engine.dialects.neuroml.nmodl import concentration_nmodl

    decaying = ConcentrationModel(
        id="pool_d", kind="decaying", ion="ca", resting=5e-5, decay=20.0, shell=0.5
    )
    fixed = ConcentrationModel(
        id="pool_f", kind="fixedFactor", ion="ca", resting=5e-5, decay=20.0, rho=3.0
    )
    mods = tmp_path / "pools"
    mods.mkdir()
    (mods / "Ca_HVA.mod").write_text(CA_CHANNEL)
    names = []
    for model in (decaying, fixed):
        name, text = concentration_nmodl(model, "test")
        (mods / f"{name}.mod").write_text(text)
        names.append(name)
    nrnivmodl = REPO / ".venv" / "bin" / "nrnivmodl"
    built = subprocess.run(
        [str(nrnivmodl) if nrnivmodl.exists() else "nrnivmodl"],
        cwd=mods,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    library = next(mods.glob("*/libnrnmech.so"))
    result = subprocess.run(
        [sys.executable, "-c", POOLS_DRIVER, str(library), *names],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    faraday = 96485.3
    for model, name in zip((decaying, fixed), names, strict=True):
        v = values[name]
        assert v["ica"] < 0  # inward
        i_in = -v["ica"] * 10.0  # inward current density, A/m2
        area = v["area"] * 1e-12  # m2
        if model.kind == "decaying":
            radius = math.sqrt(area / (4 * 3.14159))
            inner = radius - model.shell * 1e-6
            volume = 4 * 3.14159 / 3 * (radius**3 - inner**3)
            rate = i_in * area / (2 * faraday * volume)  # mol/m3/s = mM/s
        else:
            rate = i_in * model.rho
        a = rate * 1e-3  # mM/ms
        tau, c0, rest = model.decay, 1e-4, model.resting
        expected = rest + a * tau + (c0 - rest - a * tau) * math.exp(-v["t"] / tau)
        assert a * tau > 10 * c0  # the influx dominates: the check sees its scale
        assert v["cai"] == pytest.approx(expected, rel=2e-3), (name, v, expected)
