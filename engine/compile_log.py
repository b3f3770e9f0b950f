"""Reading nrnivmodl's log after a failed build: the first error, named by its .mod file
and line, and the end of the log for the message (engine.mechanisms compiles).
"""

from __future__ import annotations

import re
from pathlib import Path

_TAIL_LINES = 30
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR = re.compile(r"\berror\b", re.IGNORECASE)


def failure_excerpt(path: Path, lines: int = _TAIL_LINES) -> str:
    """The end of a failed build's log, plus the first error if it scrolled out of view."""
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return ""
    rows = text.splitlines()
    # the nrnivmodl wrapper ends with its own Python traceback: noise for the user
    for index, row in enumerate(rows):
        if row.startswith("Traceback (most recent call last)") and "nrnivmodl" in text:
            rows = rows[:index]
            break
    while rows and not rows[-1].strip():
        rows.pop()
    start = max(0, len(rows) - lines)
    first_error = next(
        (i for i, row in enumerate(rows) if _ERROR.search(row) and not row.startswith("make")),
        None,
    )
    excerpt = rows[start:]
    if first_error is not None and first_error < start:
        excerpt = rows[max(0, first_error - 2) : first_error + 6] + ["..."] + excerpt
    return "\n".join(excerpt)


# nocmodl: "Error: Illegal block at line 7 in file broken.mod"; the C++ compiler:
# ".../x86_64/broken.cpp:123:5: error: ..." (the generated file is named after the .mod)
_NMODL_ERROR = re.compile(r"Error:\s*(?P<what>.*?) at line (?P<line>\d+) in file (?P<file>\S+)")
_CXX_ERROR = re.compile(
    r"(?P<file>[^\s:]+)\.(?:cpp|c):(?P<line>\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(?P<what>.*)"
)


def first_compile_error(log_path: Path, sources: dict[str, Path]) -> tuple[Path, str] | None:
    """(original .mod file, one-line reason) of the first error in nrnivmodl's log."""
    try:
        text = _ANSI.sub("", log_path.read_text(errors="replace"))
    except OSError:
        return None
    for row in text.splitlines():
        for pattern, where in ((_NMODL_ERROR, "line"), (_CXX_ERROR, "generated C++ line")):
            match = pattern.search(row)
            if match is None:
                continue
            name = Path(match["file"]).name
            mod_name = name if name.endswith(".mod") else f"{Path(name).stem}.mod"
            mod_file = sources.get(mod_name)
            if mod_file is not None:
                return mod_file, f"{where} {match['line']}: {match['what'].strip()}"
    return None
