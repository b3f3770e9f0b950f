#!/usr/bin/env python
"""Peer comparison: the same generated Allen/bmtk circuit through bmtk 1.2.0 bionet and sonatasim.

Usage (from the repository root, with the project venv):

  .venv/bin/python benchmarks/peers/compare_bmtk.py setup          # bmtk venv + our mechanisms
  .venv/bin/python benchmarks/peers/compare_bmtk.py run [SCENARIO ...] [--work DIR]
  .venv/bin/python benchmarks/peers/compare_bmtk.py list

`run` with no scenario runs them all. Per scenario it writes the circuit under
`<work>/<scenario>/net` (scenarios_bmtk.py), runs bmtk bionet in its own venv
(`$BMTK_VENV`, default /tmp/bmtkvenv) and sonatasim (in-process, or under MPI), both
through bmtk_driver.py, and compares spikes bit for bit, soma-v reports at float32, and
the built model (sections, segments, parameters, NetCons) from a dump of the NEURON state
taken after each run (comparison.py, model_comparison.py). The results go to `<work>/results.json` and to
stdout. Nothing from bmtk is copied here: bmtk runs from its PyPI install; our mod/
directory is compiled with the bmtk venv's nrnivmodl into `<work>/mech`. Any other
circuit: compare.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from comparison import bmtk_headline, compare_bmtk_outputs  # noqa: E402
from drivers import (  # noqa: E402
    BMTK_VENV,
    MPIEXEC,
    SS_VENV,
    _bmtk_config,
    _env,
    _run,
    add_node_ids,
    run_scenarios,
)
from drivers import setup_bmtk as setup  # noqa: E402
from scenarios_bmtk import SCENARIOS, scenario_circuit  # noqa: E402

DEFAULT_WORK = Path(os.environ.get("BMTK_PEER_WORK", "/tmp/bmtk_peer"))
DRIVER = HERE / "bmtk_driver.py"


def run_scenario(name: str, work: Path) -> dict:
    base = work / name
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    circuit = scenario_circuit(name, base / "net")
    added = add_node_ids(circuit)
    mpi = name == "mpi2"
    ranks = [str(MPIEXEC), "-n", "2"] if mpi else []
    bmtk_out, ours_out = base / "bmtk", base / "sonatasim"
    bmtk_out.mkdir()
    ours_out.mkdir()
    config = _bmtk_config(circuit, bmtk_out)
    bmtk_py = str(BMTK_VENV / "bin" / "python")
    t_bmtk = _run(
        [*ranks, bmtk_py, str(DRIVER), "bmtk-run", str(config), str(work / "mech"), str(base / "bmtk_state.json")],
        base / "bmtk.log", _env(mpi),
    )  # fmt: skip
    ours_py = str(SS_VENV / "bin" / "python")
    t_ours = _run(
        [*ranks, ours_py, str(DRIVER), "sonatasim-run", str(circuit.simulation_config), str(ours_out), str(base / "ours_state.json")],
        base / "sonatasim.log", _env(mpi),
    )  # fmt: skip
    result = {"scenario": name, "description": SCENARIOS[name], "bmtk_s": round(t_bmtk, 2)}
    result["node_id_added"] = added
    result["sonatasim_s"] = round(t_ours, 2)
    result.update(compare_bmtk_outputs(base, bmtk_out, ours_out))
    return result


# --------------------------------------------------------------------------------------------
# Comparison (project venv)
# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["setup", "run", "list"])
    parser.add_argument("scenarios", nargs="*")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()
    work = args.work.resolve()
    if args.command == "list":
        for k, v in SCENARIOS.items():
            print(f"{k:18s} {v}")
        return
    if args.command == "setup":
        setup(work)
        return
    if not (work / "mech").exists():
        setup(work)
    names = args.scenarios or list(SCENARIOS)
    run_scenarios(names, lambda n: run_scenario(n, work), bmtk_headline, work / "results.json")


if __name__ == "__main__":
    main()
