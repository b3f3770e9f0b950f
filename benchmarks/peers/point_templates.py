"""hoc point_process templates (`pointcell`) on neurodamus' AllenPoint route and on sonatasim.

    .venv/bin/python benchmarks/peers/point_templates.py [--nd-venv /work/peers/neurodamus]
        [--workdir /tmp/ndpeer-points] [--ranks 1]

The circuit of tests/test_point_templates.py (our own hoc templates wrapping IntFire2 and
IntFire1 as `pointcell`, `_NeededAttributes` from @dynamics, virtual fibres replayed
through synapse_replay and recurrent edges, both edge populations of type point_process
with the NetCon weight in `conductance`), with hoc templates only: neurodamus builds
`nrn:` cells through its METype path, which wants a hoc template. neurodamus runs through
nd_driver.py (spikes from its pc.spike_record vectors); the script prints whether the
(node id, time) spike pairs of both tools and of the plain-NEURON build are identical.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repository: tests.test_point_templates

from comparison import nd_results  # noqa: E402
from drivers import REPO, SS_VENV, build_nd_mechanisms, run_neurodamus  # noqa: E402

from tests.test_point_templates import (  # noqa: E402
    PLAIN_INTFIRE,
    engine_spikes,
    point_template_spec,
    write_point_template_circuit,
)

# the test circuit with its nrn:IntFire1 nodes wrapped too (taum, ib exist for nodes 0, 3)
KINDS = ["SonataWrappedIntFire2", "SonataWrappedIntFire1", "SonataWrappedIntFire1"] * 2


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ndpeer-points"))
    p.add_argument("--nd-venv", type=Path, default=Path("/work/peers/neurodamus"))
    p.add_argument("--ranks", type=int, default=1)
    args = p.parse_args(argv)
    workdir = args.workdir.resolve()
    circuit = write_point_template_circuit(workdir / "circuit", KINDS)
    config = circuit.simulation_config
    (circuit.root / "mechanisms").mkdir(exist_ok=True)  # neurodamus' own mods only
    lib = build_nd_mechanisms(args.nd_venv.resolve(), circuit.root / "mechanisms", workdir)
    nd_out, _ = run_neurodamus(args.nd_venv.resolve(), config, lib, args.ranks)
    nd = sorted(nd_results(nd_out)[0].get("net", []))
    ss_out = circuit.root / "out_ss"
    cmd = [str(SS_VENV / "bin" / "sonatasim"), "run", str(config), "--output-dir", str(ss_out),
           "--no-progress", "-n", str(args.ranks)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    ss = sorted(zip(*(a.tolist() for a in engine_spikes(ss_out, "net")), strict=True))
    spec = workdir / "spec.json"
    spec.write_text(json.dumps(point_template_spec(circuit, KINDS)))
    subprocess.run([str(SS_VENV / "bin" / "python"), str(PLAIN_INTFIRE), str(spec),
                    str(workdir / "plain.json")], check=True, cwd=REPO)  # fmt: skip
    plain_data = json.loads((workdir / "plain.json").read_text())
    plain = sorted(zip(plain_data["gids"], plain_data["times"], strict=True))
    print(f"spikes: neurodamus {len(nd)}, sonatasim {len(ss)}, plain NEURON {len(plain)}")
    print(f"neurodamus == sonatasim: {nd == ss}; sonatasim == plain NEURON: {ss == plain}")
    if nd != ss:
        print("first differences:", [(a, b) for a, b in zip(nd, ss, strict=False) if a != b][:5])
    return 0 if nd == ss == plain else 1


if __name__ == "__main__":
    sys.exit(main())
