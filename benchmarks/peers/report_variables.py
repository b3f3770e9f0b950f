"""Report variables on neurodamus and on sonatasim: mechanism names, point processes, sums.

    .venv/bin/python benchmarks/peers/report_variables.py [--nd-venv /work/peers/neurodamus]
        [--workdir /tmp/ndpeer-reports]

One generated BBP-style circuit (circuit_neurodamus.write_circuit: pas everywhere, hh in
soma and axon, ProbAMPANMDA_EMS / ProbGABAAB_EMS synapses, a pulse through an IClamp and
one through a membrane current source on node 3) gets compartment, summation and
compartment_set reports whose variable_name is a density mechanism (`pas`), a range
variable (`hh.m`), a point process (`ProbAMPANMDA_EMS`, `IClamp`,
`MembraneCurrentSource`), i_membrane, or a comma list. neurodamus runs it through
nd_driver.py with ND_CAPTURE_REPORTS=1 (nd_report_driver.py), which keeps the references and factors neurodamus' own report code
picks for each element; sonatasim writes its report files. Per report the script prints
whether nodes, element ids and values agree (float32), and the factors neurodamus used.
Reports neurodamus refuses are run one at a time (`REFUSED`) to record its message and
ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from circuit_neurodamus import Scenario, write_circuit  # noqa: E402
from drivers import SS_VENV, build_nd_mechanisms, run_neurodamus  # noqa: E402

WINDOW = {"dt": 0.1, "start_time": 0.0, "end_time": 60.0}
NODE = 3  # the cell with both pulses (node set Single)
REPORTS = {
    "c_v": {"type": "compartment", "cells": "Cortex", "sections": "soma", "variable_name": "v"},
    "c_pas": {"type": "compartment", "cells": "Single", "sections": "all", "variable_name": "pas"},
    "c_hhm": {"type": "compartment", "cells": "Cortex", "sections": "soma",
              "variable_name": "hh.m"},
    "c_pasg": {"type": "compartment", "cells": "Single", "sections": "apic",
               "variable_name": "pas.g"},
    "c_imem": {"type": "compartment", "cells": "Single", "sections": "all",
               "variable_name": "i_membrane"},
    "c_iclamp": {"type": "compartment", "cells": "Single", "sections": "soma",
                 "variable_name": "IClamp"},
    "s_pas_area": {"type": "summation", "cells": "Single", "sections": "all",
                   "variable_name": "pas"},
    "s_pas_none": {"type": "summation", "cells": "Cortex", "sections": "soma",
                   "variable_name": "pas", "scaling": "none"},
    "s_syn_area": {"type": "summation", "cells": "Cortex", "sections": "soma",
                   "variable_name": "ProbAMPANMDA_EMS"},
    "s_syn_none": {"type": "summation", "cells": "Cortex", "sections": "all",
                   "variable_name": "ProbAMPANMDA_EMS,ProbGABAAB_EMS", "scaling": "none"},
    "s_imem_clamp": {"type": "summation", "cells": "Single", "sections": "soma",
                     "variable_name": "i_membrane,IClamp"},
    "s_source": {"type": "summation", "cells": "Single", "sections": "soma",
                 "variable_name": "MembraneCurrentSource"},
    "s_mixed": {"type": "summation", "cells": "Cortex", "sections": "all",
                "variable_name": "ina,ik,pas,ProbAMPANMDA_EMS,IClamp"},
    "cs_pas": {"type": "compartment_set", "compartment_set": "probe", "variable_name": "pas"},
    "cs_imem": {"type": "compartment_set", "compartment_set": "probe",
                "variable_name": "i_membrane"},
}  # fmt: skip
# Each alone: neurodamus refuses these (or, for summation `hh`, records zeros).
REFUSED = {
    "c_hh": {"type": "compartment", "cells": "Single", "sections": "soma", "variable_name": "hh"},
    "s_hh": {"type": "summation", "cells": "Single", "sections": "soma", "variable_name": "hh"},
    "c_syn": {"type": "compartment", "cells": "Cortex", "sections": "soma",
              "variable_name": "ProbAMPANMDA_EMS"},
}  # fmt: skip
PULSES = {
    "electrode": {"module": "pulse", "input_type": "current_clamp", "delay": 10.0,
                  "duration": 40.0, "node_set": "Single", "amp_start": 0.3, "width": 5.0,
                  "frequency": 50.0, "represents_physical_electrode": True},
    "source": {"module": "pulse", "input_type": "current_clamp", "delay": 15.0,
               "duration": 30.0, "node_set": "Single", "amp_start": 0.2, "width": 4.0,
               "frequency": 40.0},
}  # fmt: skip
# (node, section id, offset): soma, dendrites, an apical
COMPARTMENTS = [[NODE, 0, 0.5], [NODE, 130, 0.5], [NODE, 140, 0.25], [NODE, 140, 0.75],
                [NODE, 200, 0.5]]  # fmt: skip


def write_configs(root: Path, reports: dict) -> dict[str, Path]:
    sc = Scenario("reports", "report variables", n_cells=4, n_inh=1, tstop=WINDOW["end_time"],
                  deterministic=True, extra_inputs=PULSES)  # fmt: skip
    configs = write_circuit(root, sc)
    sets = root / "compartment_sets.json"
    sets.write_text(json.dumps({"probe": {"population": "cortex",
                                          "compartment_set": COMPARTMENTS}}))  # fmt: skip
    for config in configs.values():
        data = json.loads(config.read_text())
        data["reports"] = {n: {**WINDOW, "unit": "nA", **r} for n, r in reports.items()}
        data["compartment_sets_file"] = str(sets)
        config.write_text(json.dumps(data, indent=1))
    return configs


def run_nd(nd_venv: Path, config: Path, lib: Path) -> tuple[int, str]:
    """neurodamus through nd_driver.py with its reports captured: (exit code, log)."""
    os.environ["ND_CAPTURE_REPORTS"] = "1"
    try:
        out, _ = run_neurodamus(nd_venv, config, lib, 1)
        return 0, (out / "nd.log").read_text()
    except RuntimeError:
        return 1, (config.parent / "out_nd" / "nd.log").read_text()
    finally:
        del os.environ["ND_CAPTURE_REPORTS"]


def run_ss(config: Path) -> tuple[int, str]:
    cmd = [str(SS_VENV / "bin" / "sonatasim"), "run", str(config), "--no-progress"]
    done = subprocess.run(cmd, cwd=config.parent, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def ss_report(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        group = f["report/cortex"]
        nodes = group["mapping/node_ids"][()]
        pointers = group["mapping/index_pointers"][()]
        counts = np.diff(pointers.astype(np.int64))
        per_column = np.repeat(nodes.astype(np.int64), counts)
        return per_column, group["mapping/element_ids"][()].astype(np.int64), group["data"][()]


def compare(name: str, nd: np.lib.npyio.NpzFile, out_ss: Path) -> dict:
    nodes, elements = nd[f"{name}/nodes"], nd[f"{name}/elements"]
    stride = round(WINDOW["dt"] / 0.025)
    values = nd[f"{name}/values"]
    factors = np.unique(np.round(nd[f"{name}/factors"], 6))
    entry = {"nd_elements": int(nodes.size), "nd_terms": int(nd[f"{name}/terms"].sum()),
             "nd_factors": factors[:6].tolist() + (["..."] if factors.size > 6 else [])}  # fmt: skip
    path = out_ss / f"{name}.h5"
    if not path.exists():
        return {**entry, "verdict": "sonatasim wrote no file"}
    ss_nodes, ss_elements, data = ss_report(path)
    # neurodamus lists a cell's sections in `all` order (a replaced axon last), sonatasim
    # by section id: compare by (node, section id), compartments in order within a section
    order = np.lexsort((np.arange(nodes.size), elements, nodes))
    nodes, elements, values = nodes[order], elements[order], values[:, order]
    ss_order = np.lexsort((np.arange(ss_nodes.size), ss_elements, ss_nodes))
    ss_nodes, ss_elements, data = ss_nodes[ss_order], ss_elements[ss_order], data[:, ss_order]
    entry["ss_elements"] = int(ss_nodes.size)
    if not (np.array_equal(nodes, ss_nodes) and np.array_equal(elements, ss_elements)):
        return {**entry, "verdict": "different elements"}
    expected = values[::stride][: data.shape[0]].astype(np.float32)
    bad = expected != data
    scale = float(np.abs(expected).max()) or 1.0
    entry["max_abs_diff"] = float(np.abs(expected.astype(np.float64) - data).max())
    entry["max_rel_diff"] = entry["max_abs_diff"] / scale
    entry["f32_identical_fraction"] = float(1.0 - bad.mean())
    entry["verdict"] = "identical" if not bad.any() else "differs"
    if bad.any() and entry["max_rel_diff"] < 1e-6:
        entry["verdict"] = "equal to float32 rounding"
    elif bad.any() and entry["max_abs_diff"] < 1e-12:  # e.g. a whole-cell sum that is 0
        entry["verdict"] = "equal to float64 rounding of the sum (|diff| < 1e-12)"
    return entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ndpeer-reports"))
    p.add_argument("--nd-venv", type=Path, default=Path("/work/peers/neurodamus"))
    p.add_argument("--refused-only", action="store_true", help="only the REFUSED reports")
    args = p.parse_args(argv)
    root = args.workdir.resolve() / "circuit"
    configs = write_configs(root, REPORTS)
    lib = build_nd_mechanisms(args.nd_venv.resolve(), root / "mechanisms", args.workdir.resolve())
    results: dict = {}
    if not args.refused_only:
        accepted(args, configs, lib, root, results)
    refused(args, lib, results)
    out = args.workdir.resolve() / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"details: {out}")
    return 0


def accepted(args: argparse.Namespace, configs: dict, lib: Path, root: Path, results: dict):
    """Every REPORTS entry in one run of each tool, compared element by element."""
    rc, log = run_nd(args.nd_venv.resolve(), configs["nd"], lib)
    if rc:
        print(log[-3000:])
        raise SystemExit(f"neurodamus failed on the accepted reports (rc {rc})")
    rc, log = run_ss(configs["ss"])
    if rc:
        print(log[-3000:])
        raise SystemExit(f"sonatasim failed on the accepted reports (rc {rc})")
    nd = np.load(root / "out_nd" / "nd_reports_rank0.npz")
    for name in REPORTS:
        results[name] = compare(name, nd, root / "out_ss")
        print(f"{name:13s} {REPORTS[name]['variable_name']:38s} {results[name]}", flush=True)


def refused(args: argparse.Namespace, lib: Path, results: dict) -> None:
    """Each REFUSED entry alone: exit codes and messages of both tools."""
    for name, report in REFUSED.items():
        one = args.workdir.resolve() / name
        configs = write_configs(one, {name: report})
        nd_rc, nd_log = run_nd(args.nd_venv.resolve(), configs["nd"], lib)
        ss_rc, ss_log = run_ss(configs["ss"])
        (one / "nd.log").write_text(nd_log)
        lines = nd_log.splitlines()
        reasons = [ln for ln in lines if "Error ->" in ln] or [ln for ln in lines if "rror" in ln]
        nd_line = reasons[0] if reasons else ""
        entry = {"nd_rc": nd_rc, "nd_message": nd_line.strip()[:300], "ss_rc": ss_rc,
                 "ss_message": ss_log.strip().splitlines()[-1][:300] if ss_log.strip() else ""}  # fmt: skip
        if nd_rc == 0:
            nd = np.load(one / "out_nd" / "nd_reports_rank0.npz")
            entry["nd_terms"] = int(nd[f"{name}/terms"].sum())
            entry["nd_max_abs_value"] = float(np.abs(nd[f"{name}/values"]).max(initial=0.0))
        results[name] = entry
        print(f"{name:13s} {report['variable_name']:38s} {entry}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
