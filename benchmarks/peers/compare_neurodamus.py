"""Peer comparison: the same generated BBP-style circuit through neurodamus and sonatasim.

    .venv/bin/python benchmarks/peers/compare_neurodamus.py [--scenario NAME ...]
        [--workdir /tmp/ndpeer] [--nd-venv /tmp/ndvenv] [--nd-ranks 1] [--ss-ranks 1]

Needs neurodamus in its own venv (see benchmarks/peers/README.md):
    python3 -m venv /tmp/ndvenv && /tmp/ndvenv/bin/pip install neurodamus==4.2.9 neuron==9.0.2

For every scenario (scenarios_neurodamus.py; circuits: circuit_neurodamus.py) this script
  1. writes the scenario's circuit and its two simulation configs;
  2. compiles neurodamus' own data/mod (from the installed wheel) with the circuit's
     mechanisms and -DDISABLE_REPORTINGLIB (no libsonatareport on PyPI), cached by content;
  3. runs neurodamus through nd_driver.py (spikes from its pc.spike_record vectors, soma
     voltages from Vector.record, since its SONATA writers are no-ops without the library);
  4. runs `sonatasim run` on the same config plus a soma-voltage compartment report;
  5. compares (node_id, time) spike pairs bit for bit and soma voltages at float32
     (comparison.py). Running the tools is drivers.py. Any other circuit: compare.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from circuit_neurodamus import Scenario, write_circuit  # noqa: E402
from comparison import compare, nd_results, ss_results, summary_line  # noqa: E402
from drivers import build_nd_mechanisms, dump_models, run_neurodamus, run_sonatasim  # noqa: E402
from scenarios_neurodamus import SCENARIOS  # noqa: E402


def run_scenario(sc: Scenario, args: argparse.Namespace) -> dict:
    root = args.workdir / sc.name
    configs = write_circuit(root, sc)
    lib = build_nd_mechanisms(args.nd_venv, root / "mechanisms", args.workdir)
    nd_ranks = args.nd_ranks or sc.nd_ranks
    ss_ranks = args.ss_ranks or sc.ss_ranks
    nd_out, nd_time = run_neurodamus(args.nd_venv, configs["nd"], lib, nd_ranks)
    ss_out, ss_time = run_sonatasim(configs["ss"], ss_ranks, args.ss_patch)
    res = compare(nd_results(nd_out), ss_results(ss_out))
    if args.dump:
        res["model_diff"] = dump_models(args.nd_venv, configs, lib, args.ss_patch)
    res["scenario"] = sc.name
    res["doc"] = sc.doc
    res["ranks"] = {"neurodamus": nd_ranks, "sonatasim": ss_ranks}
    res["ss_patch"] = args.ss_patch
    res["seconds"] = {"neurodamus": round(nd_time, 1), "sonatasim": round(ss_time, 1)}
    res["dir"] = str(root)
    spikes_ok = all(e["identical"] for e in res["spikes"].values())
    volts_ok = bool(res["voltages"]) and all(v["identical_f32"] for v in res["voltages"].values())
    res["verdict"] = "identical" if spikes_ok and volts_ok else "differs"
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ndpeer"))
    p.add_argument("--nd-venv", type=Path, default=Path("/tmp/ndvenv"))
    p.add_argument("--nd-ranks", type=int, default=0, help="override the scenario's")
    p.add_argument("--ss-ranks", type=int, default=0, help="override the scenario's")
    p.add_argument("--json", type=Path, help="write all results here")
    p.add_argument(
        "--ss-patch",
        default="",
        help="run sonatasim with these proposed fixes (ss_patched.py names or all)",
    )
    p.add_argument(
        "--dump",
        action="store_true",
        help="also build both models without running and diff synapses/NetCons",
    )
    args = p.parse_args(argv)
    args.workdir = args.workdir.resolve()
    args.nd_venv = args.nd_venv.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.scenario or list(SCENARIOS):
        try:
            res = run_scenario(SCENARIOS[name], args)
        except (RuntimeError, subprocess.CalledProcessError) as err:
            res = {"scenario": name, "verdict": "error", "error": str(err)}
            print(f"{name:14s} ERROR {err}", flush=True)
        else:
            print(summary_line(res), flush=True)
            if "model_diff" in res:
                md = res["model_diff"]
                print(
                    f"    model: synapses nd/ss {md['synapses']}, stimuli {md['stimuli']}, "
                    f"globals differing {md['globals']}"
                )
                for name, f in md["fields"].items():
                    print(f"    differs: {name} on {f['count']}, e.g. {f['example']}")
        results.append(res)
    out = args.json or args.workdir / "results.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"details: {out}")
    # the exit code: every scenario identical, but for the documented deviations
    return (
        0
        if all(
            r["verdict"] == "identical"
            or (SCENARIOS[r["scenario"]].expected_to_differ and r["verdict"] == "differs")
            for r in results
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
