"""Gap junctions: a coupled pair through the engine equals a plain-NEURON pair, 1 and 2 ranks.

Both edge conventions are checked (BBP: two edges with junction ids; otherwise one edge
per junction). Cell 1 has no input of its own, so all it does comes through the junction.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import REPO, run_python
from tests.test_bbp_support import write_gap_circuit

DRIVER = REPO / "tests" / "test_bbp_driver.py"
PLAIN = REPO / "tests" / "reference" / "plain_bbp_gap.py"


@pytest.fixture(scope="module")
def plain_pair(tmp_path_factory, mechanisms_built):
    out = tmp_path_factory.mktemp("gap") / "plain.npz"
    run_python(PLAIN, mechanisms_built, out)
    return dict(np.load(out))


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
@pytest.mark.parametrize("junction_ids", [True, False], ids=["junction_ids", "one_edge"])
def test_coupled_pair_equals_plain_neuron(tmp_path, plain_pair, junction_ids, ranks):
    circuit = write_gap_circuit(tmp_path / "pair", junction_ids=junction_ids)
    run_python(DRIVER, circuit.simulation_config, tmp_path / "engine.npz", ranks=ranks)
    engine = dict(np.load(tmp_path / "engine.npz"))
    assert engine["v_pair_0"].max() > 0, "cell 0 should spike"
    assert engine["v_pair_1"].max() > -64.0, "cell 1 should feel cell 0 through the junction"
    for node in (0, 1):
        np.testing.assert_allclose(
            engine[f"v_pair_{node}"], plain_pair[f"v_pair_{node}"], atol=1e-9
        )
