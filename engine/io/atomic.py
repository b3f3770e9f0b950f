"""Atomic file output, so a crash never leaves a half-written file under the final name.

Readers (libsonata, a second rank, the user) see either the previous file or the complete
new one, because the data go to `<name>.tmp-<pid>` and `os.replace` renames it at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def temporary_name(path: str | os.PathLike[str]) -> Path:
    """The temporary sibling of `path` used while writing (same directory, same filesystem)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` on success, delete it on error.

    With `copy_existing`, the temporary starts as a copy of the current file (if any), so a
    caller can append to it (HDF5 mode "a") and still replace the file in one step.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(final)
    if tmp.exists():
        tmp.unlink()
    try:
        if copy_existing and final.exists():
            shutil.copyfile(final, tmp)
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file {tmp}")
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
