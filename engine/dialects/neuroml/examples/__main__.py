"""`python -m engine.dialects.neuroml.examples [network|cell|mixed] DIR`: write a shipped
example (configs/neuroml_network, configs/neuroml_cell, configs/neuroml_mixed_network)."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.dialects.neuroml.examples.cell import write_circuit
from engine.dialects.neuroml.examples.mixed import write_mixed_network
from engine.dialects.neuroml.examples.network import write_network

DEFAULTS = {
    "network": "configs/neuroml_network",
    "cell": "configs/neuroml_cell",
    "mixed": "configs/neuroml_mixed_network",
}


def main(argv: list[str]) -> None:
    kind = argv[0] if argv and argv[0] in DEFAULTS else "network"
    rest = argv[1:] if argv and argv[0] in DEFAULTS else argv
    target = Path(rest[0] if rest else DEFAULTS[kind])
    if kind == "cell":
        print(write_circuit(target, gate_zoo=True))
    elif kind == "mixed":
        print(write_mixed_network(target))
    else:
        print(write_network(target))


if __name__ == "__main__":
    main(sys.argv[1:])
