"""`sonatasim run` with the fixes proposed in README.md applied as monkeypatches.

    .venv/bin/python benchmarks/peers/ss_patched.py PATCHES -- run CONFIG [options]

PATCHES is a comma-separated list of names below (or "all"). Nothing in engine/ is
edited: this only demonstrates that a proposed change removes a discrepancy
(compare_neurodamus.py --ss-patch NAMES). Works under mpiexec too.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


_CALCIUM = {"missing": False, "order": False}


def _install_calcium_patch() -> None:
    import numpy as np

    from engine.managers.synapses import bbp as bs

    original = bs.scale_use_by_calcium

    def scale_use_by_calcium(use, hill, calcium):
        hill = np.asarray(hill, dtype=np.float64)
        if _CALCIUM["missing"] and hill.size and np.all(hill == -1.0):
            return use  # stand-in for "the edge population has no u_hill_coefficient column"
        if not _CALCIUM["order"]:
            return original(use, hill, calcium)
        k4 = hill**4
        y4 = float(calcium) ** 4
        return use * ((k4 + 16) / 16 * y4 / (k4 + y4))

    bs.scale_use_by_calcium = scale_use_by_calcium


def patch_calcium_missing() -> None:
    """No U scaling when the edge population has no u_hill_coefficient column."""
    _CALCIUM["missing"] = True


def patch_calcium_order() -> None:
    """U x hill factor evaluated as neurodamus does: factor ((K4+16)/16*y4)/(K4+y4) first,
    then one product (bit-identical U)."""
    _CALCIUM["order"] = True


def patch_gaba_repick() -> None:
    """tau_r_GABAA = the draw after the one lognormal() itself returns (GABAABHelper.hoc)."""
    from engine.managers.synapses import bbp as bs

    def gaba_rise_time(h, keys):
        rng = h.Random()
        rng.Random123(*(float(k) for k in keys))
        rng.lognormal(bs.GABA_RISE_MEAN, bs.GABA_RISE_VARIANCE)
        return float(rng.repick())

    bs.gaba_rise_time = gaba_rise_time


PATCHES = {
    "calcium_missing": patch_calcium_missing,
    "calcium_order": patch_calcium_order,
    "gaba_repick": patch_gaba_repick,
}


def main() -> None:
    names, _, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    chosen = list(PATCHES) if names == "all" else [n for n in names.split(",") if n]
    for name in chosen:
        PATCHES[name]()
    _install_calcium_patch()
    from engine.cli import main as cli_main

    sys.argv = ["sonatasim", *rest]
    cli_main()


if __name__ == "__main__":
    main()
