"""Load-balance cost estimates follow a template's own segmentation.

An Allen network with dL = 5 um (about 4x the compartments of the 40 um rule the estimate
starts from) and its axon replaced by two stubs: the estimated cost of every cell must
equal the cost model applied to the cells NEURON really built (counted here from the
built sections: nseg x (1 + 2 x mechanisms) per section, + 2 per afferent edge).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from engine.generate.allen import generate_allen_network
from tests.conftest import REPO, cli_env, run_cli


def dump_built_costs(config: str, out: str) -> None:
    """Subprocess entry: build the network, write each cortex cell's cost as built."""
    from engine import simulator
    from engine.config import load_setup
    from engine.managers.cells.cost import COMPARTMENT_COST, MECHANISM_COST, SYNAPSE_COST
    from engine.simulation import RunOptions, Simulation

    setup = load_setup(config, Path(out).parent / "output")
    simulation = Simulation(setup, simulator.start(use_mpi=False), RunOptions(progress=False))
    simulation.build()
    edges = {}
    for manager in simulation.circuit.edge_managers:
        for node_id in np.unique(manager.local.target_ids).tolist():
            ids = manager.local.edge_ids[manager.local.target_ids == node_id]
            edges[int(node_id)] = edges.get(int(node_id), 0) + np.unique(ids).size
    costs = {}
    for node_id, cell in simulation.circuit.node_managers["cortex"].cells.items():
        total = 0.0
        for sec in cell.sections:
            mechanisms = sum(1 for m in sec(0.5) if not m.name().endswith("_ion"))
            total += sec.nseg * (COMPARTMENT_COST + MECHANISM_COST * mechanisms)
        costs[str(node_id)] = total + SYNAPSE_COST * edges.get(int(node_id), 0)
    Path(out).write_text(json.dumps(costs))


def test_estimates_follow_the_templates_own_nseg(tmp_path, mechanisms_built):
    circuit = generate_allen_network(tmp_path / "net", dL=5.0)
    out = tmp_path / "built.json"
    code = (
        "from tests.test_cost_estimates import dump_built_costs;"
        f"dump_built_costs({str(circuit.simulation_config)!r}, {str(out)!r})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = json.loads(out.read_text())
    plan = run_cli("balance", circuit.simulation_config, "--ranks", 2, "--output-dir", tmp_path)
    path = re.search(r"^Plan (?:written|reused): (.*)$", plan.stdout, re.MULTILINE).group(1)
    with np.load(path) as data:
        estimated = data["cost/cortex"]
    actual = np.array([built[str(k)] for k in range(estimated.size)])
    # segments are about 10 um long: the 40 um rule alone would be ~4x off
    assert actual.min() > 100
    np.testing.assert_allclose(estimated, actual, rtol=1e-9)
