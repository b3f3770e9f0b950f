"""Random123 streams of the stochastic inputs, keyed as neurodamus keys them.

Every stream is a NEURON `Random` switched to Random123 with three ids; the global index
is `run.random_seed` (compat doc 4.1). Keys (compat doc 4.4-4.6; "gid" is the final gid):

* noise:            (noise_count + 100,  stimulus_seed + 500,    gid + 1 + 300)
* shot noise family:(shot_count + 2997,  stimulus_seed + 19216,  gid + 1 + 123 | random_seed)
* OU family:        (ou_count + 2997,    stimulus_seed + 291204, gid + 1 + 123 | random_seed)
* poisson (ours, not in neurodamus): (poisson_count + 4001, stimulus_seed + 70207,
  source gid + 1 + 911) - a separate id2 so it can never share a stream with the others.

Keys depend on the block counter, the seed and the gid only, so a cell's stream is the
same whatever the rank count.
"""

from __future__ import annotations

from typing import Any

NOISE_KEYS = (100, 500, 300)
SHOT_NOISE_KEYS = (2997, 19216, 123)
OU_KEYS = (2997, 291204, 123)
POISSON_KEYS = (4001, 70207, 911)

_global_index: dict[int, int] = {}


def set_global_index(h: Any, random_seed: int) -> None:
    """Random123_globalindex(run.random_seed), once per process (it is global state)."""
    if _global_index.get(id(h)) == int(random_seed):
        return
    h.Random().Random123_globalindex(int(random_seed))
    _global_index[id(h)] = int(random_seed)


def stream(h: Any, id1: int, id2: int, id3: int) -> Any:
    rng = h.Random()
    rng.Random123(int(id1), int(id2), int(id3))
    return rng


def keyed_stream(
    h: Any,
    keys: tuple[int, int, int],
    count: int,
    stimulus_seed: int,
    gid: int,
    random_seed: int | None = None,
) -> Any:
    """The stream of one block (count) and cell (gid); `random_seed` replaces the gid id."""
    third = int(random_seed) if random_seed is not None else gid + 1 + keys[2]
    return stream(h, count + keys[0], stimulus_seed + keys[1], third)
