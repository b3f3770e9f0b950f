"""Per-process cache of NEURON's Import3d morphology parsing (on by default, issue 18.2).

BBP emodel templates parse their morphology themselves (`reader = new Import3d_SWC_read()`,
`reader.input(path)`); the parse is most of a cell's init and is repeated for every cell
sharing the file. Unless SONATASIM_IMPORT3D_CACHE=0 (or `--no-morphology-cache`), before any
Import3d is loaded, we load NEURON's own installed Import3d files with two readers,
`Import3d_SWC_read` and `Import3d_Neurolucida3`, derived at run time (never stored in our
repository): their `input` is renamed `input_nrn_`, and a new `input` asks this module
first. The first reader of a (path, mtime, size, reader class, reader settings) parses with
NEURON's code and is kept; later readers of the same key take over its state (every
template variable, objects shared), so `Import3d_GUI.instantiate` and the template's own
code build the cell exactly as they would from a fresh parse. `Import3d_GUI` is derived
too (import3d_build.py): for a kept parse, `instantiate` replays in bulk what NEURON's
executed for its first cell; dropping a parse drops that program.

Assumes templates do not modify the reader's parsed data (BBP templates only instantiate
it; `instantiate`'s own clean-up, removing zero-length sections, is idempotent).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.managers.cells import import3d_build

log = logging.getLogger("sonatasim")

ENV = "SONATASIM_IMPORT3D_CACHE"
# A kept parse costs 2-5 MB per file (BBP asc/swc of ~200 sections): at most this many
# files per process, least recently used dropped first.
LIMIT_ENV = "SONATASIM_IMPORT3D_CACHE_FILES"
DEFAULT_LIMIT = 100
HOC_HOOK = "sonatasim_import3d_cache_"  # top-level hoc objref the derived readers call
BUILD_HOOK = "sonatasim_import3d_build_"  # ... and the derived Import3d_GUI.instantiate
# installed file -> the reader template in it whose input() is cached
CACHED_READERS = {"read_swc.hoc": "Import3d_SWC_read", "read_nlcda3.hoc": "Import3d_Neurolucida3"}
# what input() prints after parsing a file with problems (it prints only, unless quiet)
PROBLEM_REPORT = {"Import3d_Neurolucida3": "errout()"}
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CALLABLE = re.compile(r"^\s*(?:proc|func|obfunc|iterator)\s+([A-Za-z_]\w*)", re.M)
_EXTERNAL = re.compile(r"^\s*external\s+(.+)$", re.M)
_ARRAY = re.compile(r"^\s*(?:double|objref|objectvar|strdef)\s+(.+)$", re.M)

_state: dict[str, Any] = {"installed": False, "cache": None, "builder": None}


def enabled() -> bool:
    """True unless the user switched the cache off (environment, set by the CLI option too).

    On by default: the cells are the same as NEURON's own Import3d builds (tests compare
    them bit for bit), and the parse is most of a BBP cell's creation.
    """
    return os.environ.get(ENV, "").strip().lower() not in ("0", "false", "no", "off")


def _template_block(text: str, name: str) -> tuple[int, int]:
    start = re.search(rf"^begintemplate\s+{name}\b.*$", text, re.M)
    end = re.search(rf"^endtemplate\s+{name}\b", text, re.M)
    if start is None or end is None:
        raise ValueError(f"template {name} not found")
    return start.end(), end.start()


def derive_reader(text: str, name: str) -> tuple[str, list[str]]:
    """NEURON's reader file with template `name`'s input() cached; (text, state names).

    State names: every identifier of the template body that is not a proc/func or an
    external (the caller keeps those the instance really has).
    """
    body_start, body_end = _template_block(text, name)
    body = text[body_start:body_end]
    if len(re.findall(r"^proc\s+input\s*\(\s*\)", body, re.M)) != 1:
        raise ValueError(f"{name} has no single 'proc input()'")
    callables = set(_CALLABLE.findall(body))
    externals = {n for line in _EXTERNAL.findall(body) for n in _IDENT.findall(line)}
    arrays = {
        m.group(1)
        for line in _ARRAY.findall(body)
        for m in re.finditer(r"([A-Za-z_]\w*)\s*\[", line)
    }
    names = sorted(set(_IDENT.findall(body)) - callables - externals - arrays)
    body = re.sub(r"^proc\s+input\s*\(\s*\)", "proc input_nrn_()", body, count=1, flags=re.M)
    declares_this = re.search(r"^\s*objref\b.*\bthis\b", body, re.M) is not None
    hook = (
        f"\nexternal {HOC_HOOK}\n" + ("" if declares_this else "objref this\n") + "proc input() {\n"
        f"\tif ({HOC_HOOK}.adopt(this, $s1) == 0) {{\n"
        "\t\tinput_nrn_($s1)\n"
        f"\t\t{HOC_HOOK}.keep(this, $s1)\n"
        "\t}\n}\n"
    )
    derived = text[:body_start] + hook + body + text[body_end:]
    return derived, names


class ReaderCache:
    """Parsed readers by key; `adopt` / `keep` are called from the derived hoc `input`."""

    def __init__(self, state_names: dict[str, list[str]]) -> None:
        self.state_names = state_names
        self.fields: dict[str, list[str]] = {}  # per template: names the instance has
        self.readers: dict[tuple, Any] = {}  # insertion order = least recently used first
        self.limit = max(1, int(os.environ.get(LIMIT_ENV) or DEFAULT_LIMIT))
        self.pending: tuple | None = None
        self.hits = 0
        self.misses = 0
        # a kept parse's `sections` List -> its key (we hold the List, so no other object
        # can take its address while the entry lives); callbacks of dropped keys
        self.by_sections: dict[Any, tuple] = {}
        self.dropped: list[Callable[[tuple], None]] = []

    def _fields(self, reader: Any) -> tuple[str, list[str]]:
        template = reader.hname().split("[")[0]
        if template not in self.fields:
            have = []
            for name in self.state_names[template]:
                try:
                    value = getattr(reader, name)
                except (AttributeError, LookupError, RuntimeError, TypeError):
                    continue
                if name != "this" and not type(value).__name__.endswith("method"):
                    have.append(name)  # a hoc variable (not HocObject's own methods)
            self.fields[template] = have
        return template, self.fields[template]

    def _key(self, reader: Any, path: str) -> tuple | None:
        try:
            full = os.path.abspath(path)
            stat = os.stat(full)
        except OSError:
            return None  # NEURON's own input reports the missing file
        template, fields = self._fields(reader)
        settings = tuple(
            (n, v) for n in fields if isinstance(v := getattr(reader, n), (float, int, str))
        )
        return (template, full, stat.st_mtime_ns, stat.st_size, settings)

    def adopt(self, reader: Any, path: str) -> int:
        """1 if `reader` took over a cached parse of `path`, else 0 (parse it)."""
        key = self._key(reader, path)
        self.pending = key
        source = self.readers.get(key) if key is not None else None
        if source is None:
            self.misses += 1
            return 0
        self.readers[key] = self.readers.pop(key)  # most recently used
        template, fields = self._fields(reader)
        for name in fields:
            value = getattr(source, name)
            if value is not None:
                setattr(reader, name, value)
            elif getattr(reader, name) is not None:
                reader_context_null(reader, name)
        if getattr(reader, "err", 0) and template in PROBLEM_REPORT:
            _execute_in(reader, PROBLEM_REPORT[template])
        self.hits += 1
        return 1

    def keep(self, reader: Any, path: str) -> None:
        """Remember `reader`'s fresh parse (also one with problems: `err` is copied)."""
        key, self.pending = self.pending, None
        if key is None:
            return
        for old, source in list(self.readers.items()):
            if source == reader:  # a reader that parsed again no longer holds `old`
                self._drop(old)
        self._drop(key)
        self.readers[key] = reader
        self.by_sections[reader.sections] = key
        while len(self.readers) > self.limit:
            self._drop(next(iter(self.readers)))

    def _drop(self, key: tuple) -> None:
        source = self.readers.pop(key, None)
        if source is None:
            return
        for sections, held in list(self.by_sections.items()):
            if held == key:
                del self.by_sections[sections]
        for callback in self.dropped:
            callback(key)

    def key_of(self, sections: Any) -> tuple | None:
        """The key of the kept parse whose reader holds this `sections` List, else None."""
        key = self.by_sections.get(sections)
        if key is None or self.readers[key].sections != sections:
            return None
        return key


def _execute_in(reader: Any, statement: str) -> None:
    from neuron import h

    h.execute1(statement, reader)


def reader_context_null(reader: Any, name: str) -> None:
    """Set objref `name` of `reader` to nil (Python cannot assign NULLobject)."""
    _execute_in(reader, f"objref {name}")


def _import3d_dir(h: Any) -> Path:
    return Path(str(h.neuronhome())) / "lib" / "hoc"


def install(h: Any) -> bool:
    """Load Import3d with the cached readers (once per process); False if it cannot be.

    Must run before anything loads NEURON's import3d.hoc (hoc cannot redefine templates);
    afterwards `load_file("import3d.hoc")` in a template is a no-op as usual.
    """
    if _state["installed"]:
        return True
    if hasattr(h, "Import3d_GUI"):
        log.warning("Import3d was loaded before the morphology cache; cache not used")
        return False
    lib = _import3d_dir(h)
    top = (lib / "import3d.hoc").read_text()
    out = Path(tempfile.mkdtemp(prefix="sonatasim-import3d-"))
    names: dict[str, list[str]] = {}
    derived_gui = False
    lines = []
    for line in top.splitlines():
        match = re.search(r'xopen\("import3d/([^"]+)"\)', line)
        if match is None:
            lines.append(line)
            continue
        installed = lib / "import3d" / match.group(1)
        target = installed
        if match.group(1) in CACHED_READERS:
            template = CACHED_READERS[match.group(1)]
            derived, names[template] = derive_reader(installed.read_text(), template)
            target = out / match.group(1)
            target.write_text(derived)
        elif match.group(1) == import3d_build.GUI_FILE:
            target = out / match.group(1)
            target.write_text(import3d_build.derive_gui(installed.read_text(), BUILD_HOOK))
            derived_gui = True
        lines.append(line.replace(f'"import3d/{match.group(1)}"', f'"{target}"'))
    if set(names) != set(CACHED_READERS.values()) or not derived_gui:
        log.warning("NEURON's import3d.hoc does not load the expected files; cache not used")
        return False
    (out / "import3d.hoc").write_text("\n".join(lines) + "\n")
    cache = ReaderCache(names)
    builder = import3d_build.Builder(cache, h)
    for hook, target in ((HOC_HOOK, cache), (BUILD_HOOK, builder)):
        h(f"objref {hook}")
        setattr(h, hook, target)
    # load_file keys loaded files by their name: load ours under the name templates use
    cwd = os.getcwd()
    os.chdir(out)
    try:
        loaded = h.load_file("import3d.hoc")
    finally:
        os.chdir(cwd)
        shutil.rmtree(out, ignore_errors=True)  # hoc has compiled the templates
    if not loaded or not hasattr(h, "Import3d_GUI"):
        raise RuntimeError("could not load NEURON's Import3d with the cached readers")
    _state.update(installed=True, cache=cache, builder=builder)
    return True


def statistics() -> dict[str, int]:
    """Parse hits and misses, files kept, trees replayed (zeros when not installed)."""
    cache, builder = _state["cache"], _state["builder"]
    if cache is None or builder is None:
        return {"hits": 0, "misses": 0, "files": 0, "replayed": 0, "appended": 0}
    return {
        "hits": cache.hits, "misses": cache.misses, "files": len(cache.readers),
        "replayed": builder.hits, "appended": builder.appended,
    }  # fmt: skip
