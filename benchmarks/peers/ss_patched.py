"""`sonatasim run` with fixes proposed in README.md applied as monkeypatches.

    .venv/bin/python benchmarks/peers/ss_patched.py PATCHES -- run CONFIG [options]

PATCHES is a comma-separated list of names in PATCHES below (or "all"). Nothing in engine/
is edited: this only demonstrates that a proposed change removes a discrepancy
(compare_neurodamus.py --ss-patch NAMES). Works under mpiexec too.

No fix is pending: the three found so far (calcium scaling without u_hill_coefficient, the
GABA rise time draw, the Hill factor's order) are in the engine since e11a6ae. A new one is
a function here that replaces an engine function in every module that uses it (modules
import functions under their own name, so patch each importer, not only the defining
module), registered in PATCHES.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PATCHES: dict[str, Callable[[], None]] = {}


def apply(names: str) -> None:
    """Install the named patches ("all": every one); an unknown name stops with the list."""
    chosen = list(PATCHES) if names == "all" else [n for n in names.split(",") if n]
    unknown = [n for n in chosen if n not in PATCHES]
    if unknown:
        sys.exit(f"ss_patched.py: unknown patch {', '.join(unknown)} (known: {sorted(PATCHES)})")
    for name in chosen:
        PATCHES[name]()


def main() -> None:
    names, _, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    apply(names)
    from engine.cli import main as cli_main

    sys.argv = ["sonatasim", *rest]
    cli_main()


if __name__ == "__main__":
    main()
