"""ctdb:Biophys1 cells: the engine's build against a plain-NEURON build of the same json.

Engine route: a generated Allen circuit run through load_setup + Simulation.build (CSV
merge, json lookup, our template, morphio loader, model processing, nseg from run.dL).
Plain route: tests/reference/plain_allen.py (NEURON's Import3d and the processing written
out by hand). Compared: section types, lengths, areas, nseg, Ra and, per segment, cm, pas,
hh densities and ena/ek.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from engine.generate.allen import cell_json, generate_allen_network
from engine.io.types_csv import write_types_csv
from tests.conftest import REPO, cli_env, morphology_file, run_python

PLAIN = REPO / "tests" / "reference" / "plain_allen.py"


def dump_engine_cells(config: str, out: str) -> None:
    """Subprocess entry: build the circuit with the engine, write every cortex cell's sections."""
    sys.path.insert(0, str(REPO / "tests" / "reference"))
    from plain_allen import describe  # the same per-section description as the plain route

    from engine import simulator
    from engine.config import load_setup
    from engine.simulation import RunOptions, Simulation

    setup = load_setup(config, Path(out).parent / "output")
    simulation = Simulation(setup, simulator.start(use_mpi=False), RunOptions(progress=False))
    simulation.build()
    cells = simulation.circuit.node_managers["cortex"].cells
    result = {str(k): describe(c.sections) for k, c in sorted(cells.items())}
    h = simulator.current().h
    owners = [sec.name().split(".")[0] for sec in h.allsec()]
    result["neuron_sections"] = {str(k): owners.count(c.hoc.hname()) for k, c in cells.items()}
    Path(out).write_text(json.dumps(result))


def engine_cells(config: Path, out: Path) -> dict[str, list[dict]]:
    code = f"from tests.test_allen_cells import dump_engine_cells; dump_engine_cells({str(config)!r}, {str(out)!r})"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def plain_cell(swc: Path, model: Path, dL: float, out: Path, processing: str) -> list[dict]:
    run_python(PLAIN, "cell", swc, model, dL, out, processing)
    return json.loads(out.read_text())


def by_type(sections: list[dict]) -> dict[str, list[dict]]:
    groups = defaultdict(list)
    for sec in sections:
        groups[sec["type"]].append(sec)
    return {
        k: sorted(v, key=lambda s: (round(s["L"], 6), round(s["area"], 6)))
        for k, v in groups.items()
    }


def assert_same_cell(engine: list[dict], plain: list[dict]) -> None:
    a, b = by_type(engine), by_type(plain)
    assert {k: len(v) for k, v in a.items()} == {k: len(v) for k, v in b.items()}
    for kind in a:
        for x, y in zip(a[kind], b[kind], strict=True):
            assert x["nseg"] == y["nseg"], kind
            assert x["L"] == pytest.approx(y["L"], rel=1e-9)
            assert x["area"] == pytest.approx(y["area"], rel=1e-6)
            assert x["Ra"] == y["Ra"]
            assert len(x["segments"]) == len(y["segments"])
            for sx, sy in zip(x["segments"], y["segments"], strict=True):
                assert sx.keys() == sy.keys(), kind
                for name in sx:
                    assert sx[name] == pytest.approx(sy[name], rel=1e-12), (kind, name)


def allactive_json() -> dict:
    model = cell_json("inh")
    model["genome"] = [
        {"section": "all", "name": "g_pas", "value": 4e-5, "mechanism": ""},
        {"section": "soma", "name": "gnabar_hh", "value": 0.1, "mechanism": "hh"},
        {"section": "axon", "name": "gkbar_hh", "value": 0.03, "mechanism": "hh"},
    ]
    return model


@pytest.mark.parametrize(
    "morphology,dL",
    [
        ("gen:allen_spiny.swc", 20.0),
        ("gen:allen_aspiny.swc", 30.0),
        ("Scnn1a_473845048_m.swc", 20.0),
        ("Rorb_325404214_m.swc", 10.0),
        ("Pvalb_469628681_m.swc", 30.0),
    ],
)
def test_biophys1_cells_match_a_plain_neuron_build(tmp_path, morphology, dL):
    swc = morphology_file(morphology, tmp_path / "morphologies")
    circuit = generate_allen_network(
        tmp_path / "net", n_exc=1, n_inh=1, n_lgn=1, morphology=swc, dL=dL
    )
    models = circuit.root / "components" / "biophysical_neuron_models"
    (models / "inh_hh.json").write_text(json.dumps(allactive_json()))
    rows = circuit.node_types["cortex"]
    rows[1]["model_processing"] = "aibs_allactive"
    write_types_csv(circuit.root / "network" / "cortex_node_types.csv", "node_type_id", rows)
    engine = engine_cells(circuit.simulation_config, tmp_path / "engine.json")
    peri = plain_cell(swc, models / "exc_hh.json", dL, tmp_path / "p0.json", "aibs_perisomatic")
    allactive = plain_cell(swc, models / "inh_hh.json", dL, tmp_path / "p1.json", "aibs_allactive")
    assert_same_cell(engine["0"], peri)
    assert_same_cell(engine["1"], allactive)
    for cell in (engine["0"], engine["1"]):  # section ids: soma, no original axon, 2 stubs last
        assert cell[0]["type"] == "soma"
        assert [s["type"] for s in cell[-2:]] == ["axon", "axon"]
        assert [s["L"] for s in cell[-2:]] == pytest.approx([30.0, 30.0])
        assert all(s["nseg"] == 1 + 2 * int(s["L"] / (2 * dL)) for s in cell)
    # NEURON holds no other section of these cells (no unused dend/apic placeholder)
    assert engine["neuron_sections"] == {k: len(engine[k]) for k in ("0", "1")}
    soma = engine["0"][0]["segments"][0]
    assert (soma["ena"], soma["ek"], soma["gnabar_hh"]) == (53.0, -80.0, 0.12)
    assert engine["0"][-1]["area"] == pytest.approx(30.0 * 3.141592653589793 * 1.0)
