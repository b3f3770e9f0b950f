"""Engine driver: tests/test_bbp_driver.py, plus which mechanism library the run loaded.

Usage: circuit_mechanisms_record.py CONFIG OUT.npz
Writes OUT.npz exactly as tests/test_bbp_driver.py does (spikes, soma voltages, what each
synapse got), and OUT.json with the library NEURON loaded, the source files it was
compiled from (the build's BUILD_COMPLETE marker) and which synapse mechanisms exist.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests import test_bbp_driver  # noqa: E402

NAMES = ("ProbAMPANMDA_EMS", "ProbGABAAB_EMS", "SonataProbAMPANMDA", "SonataProbGABAAB")


def main() -> None:
    test_bbp_driver.main()
    from engine import mechanisms, simulator

    sim = simulator.current()
    if not sim.is_root:
        return
    library = mechanisms._loaded_library
    assert library is not None, "the engine loaded no mechanism library"
    build_dir = next(p for p in library.parents if (p / mechanisms.MARKER).is_file())
    marker = json.loads((build_dir / mechanisms.MARKER).read_text())
    info = {
        "library": str(library),
        "sources": marker["sources"],
        "exists": {name: mechanisms.mechanism_exists(sim.h, name) for name in NAMES},
    }
    Path(sys.argv[2]).with_suffix(".json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
