"""Independent routes for the conditions tests: plain NEURON Random objects, no engine.

Usage: conditions_expected.py IN.json OUT.json
IN: {"random_seed": int, "tstop": ms,
     "minis": [{"exp_ids": [3 ints], "rate": Hz}, ...],
     "gaba": [[3 ints], ...]}
OUT: {"minis": [[event times], ...], "gaba": [tau_r_GABAA, ...]}

Minis: a hoc Random on Random123(exp_ids) with negexp(1) draws -log(uniform) as the mod's
random_negexp does; the first draw is thrown away, then each event follows the previous
one by (1000 / rate) * draw until tstop (compat doc §4.3). GABA rise time: the second
lognormal(0.2, 0.1) value of Random123(keys), as neurodamus' GABAABHelper takes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main() -> None:
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    from neuron import h

    spec = json.loads(Path(sys.argv[1]).read_text())
    h.Random().Random123_globalindex(int(spec["random_seed"]))
    minis = []
    for source in spec.get("minis", []):
        rng = h.Random()
        rng.Random123(*(float(k) for k in source["exp_ids"]))
        rng.negexp(1)  # selects the distribution; this first draw is the discarded one
        times, t = [], 0.0
        while True:
            t = t + 1000.0 / source["rate"] * rng.repick()
            if t >= spec["tstop"]:
                break
            times.append(t)
        minis.append(times)
    gaba = []
    for keys in spec.get("gaba", []):
        rng = h.Random()
        rng.Random123(*(float(k) for k in keys))
        rng.lognormal(0.2, 0.1)  # dropped by neurodamus' GABAABHelper
        gaba.append(float(rng.repick()))
    with open(sys.argv[2], "w") as out:
        json.dump({"minis": minis, "gaba": gaba}, out)


if __name__ == "__main__":
    main()
