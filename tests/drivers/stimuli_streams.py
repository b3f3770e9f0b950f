"""Reference random draws in plain NEURON (no engine code), for the stream-key tests.

Usage: stimuli_streams.py SPEC.json OUT.npz

SPEC: {"global_index": int, "draws": {name: {"ids": [i1, i2, i3], "calls": [...]}}}
where each call is ["normal", mean, var] / ["uniform", lo, hi] / ["negexp", mean]
(one NEURON Random call: sets the distribution and draws one value, kept as
`<name>__call<k>`) or ["vector", n] (Vector(n).setrand: n draws, `<name>__vec<k>`).
"""

import json
import sys

import numpy as np
from neuron import h


def main() -> None:
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    h.Random().Random123_globalindex(int(spec["global_index"]))
    out = {}
    for name, stream in spec["draws"].items():
        rng = h.Random()
        rng.Random123(*[int(i) for i in stream["ids"]])
        for k, call in enumerate(stream["calls"]):
            kind, *args = call
            if kind == "vector":
                vec = h.Vector(int(args[0]))
                vec.setrand(rng)
                out[f"{name}__vec{k}"] = np.array(vec)
            else:
                out[f"{name}__call{k}"] = np.array([getattr(rng, kind)(*args)])
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
