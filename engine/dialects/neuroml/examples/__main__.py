"""`python -m engine.dialects.neuroml.examples [network|cell] DIR`: write a shipped example."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.dialects.neuroml.examples.cell import write_circuit
from engine.dialects.neuroml.examples.network import write_network


def main(argv: list[str]) -> None:
    kind = argv[0] if argv and argv[0] in ("network", "cell") else "network"
    rest = argv[1:] if argv and argv[0] in ("network", "cell") else argv
    default = "configs/neuroml_cell" if kind == "cell" else "configs/neuroml_network"
    target = Path(rest[0] if rest else default)
    print(write_circuit(target, gate_zoo=True) if kind == "cell" else write_network(target))


if __name__ == "__main__":
    main(sys.argv[1:])
