"""Bulk replay of `Import3d_GUI.instantiate` for cached parses (on by default, issue 18.2).

With the parse cached (import3d_cache.py), most of what is left of a BBP template's init on
.swc files is NEURON's `instantiate`: one hoc `execute()` of a freshly `sprint`-ed string
per 3D point, connect and pt3dstyle. Its program depends only on the parse, so we learn it
once: NEURON's installed Import3d_GUI is derived at run time (never stored in our
repository) with `instantiate` renamed `instantiate_nrn_` and a new `instantiate` that asks
`Builder.replay` first. A parse's first cell runs NEURON's own code as called (most files
of a big circuit have one cell per rank: they pay nothing). Its second runs NEURON's code
with keepCommands=1; the program is learned from the `commands` list it executed, which is
then cleared as NEURON does. Later cells get the same create statements in the cell's
context, the forsec / `forall all.append` statements or what they appended (see
`Builder._structure`), the same connects with the same `%g` strings parsed to doubles, one
vectorised `pt3dadd` per section of the points NEURON's `%.8g` strings hold (parsed the
same way, so the doubles are identical), in NEURON's order, and `neuron._declare_contour`
for contour somas as NEURON does. Anything else (nil or Python cells, keepCommands=1, a GUI
with graphics, a reader that is not a cached parse, a cell lacking an array or section
list, a statement we do not parse) runs NEURON's own instantiate.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("sonatasim")

GUI_FILE = "import3d_gui.hoc"
GUI_TEMPLATE = "Import3d_GUI"
_NUMBER = r"-?\d+(?:\.\d*)?(?:e[-+]\d+)?"  # what %g / %.8g print for finite values
_NAME = r"[A-Za-z_]\w*(?:\[\d+\])?"
_CREATE = re.compile(r"~create ([A-Za-z_]\w*)\[(\d+)\]\n")
_FORSEC = re.compile(r'forsec "[A-Za-z_]\w*" ([A-Za-z_]\w*)\.append\n')
_ALL = "forall all.append\n"
_LISTS = ("all", "somatic", "axonal", "basal", "apical")  # what mksubset names for types 1-4
_ELEMENT = re.compile(r"([A-Za-z_]\w*)\[(\d+)\]")
_CONNECT = re.compile(rf"({_NAME}) connect ({_NAME})\(0\), ({_NUMBER})\n")
_STYLE = re.compile(rf"({_NAME}) \{{ pt3dstyle\(1, ({_NUMBER}), ({_NUMBER}), ({_NUMBER})\) \}}\n")
_POINT = re.compile(
    rf"({_NAME}) \{{ pt3dadd\(({_NUMBER}), ({_NUMBER}), ({_NUMBER}), ({_NUMBER})\) \}}\n"
)


def derive_gui(text: str, hook: str) -> str:
    """NEURON's import3d_gui.hoc with `instantiate` asking the hoc object `hook` first."""
    start = re.search(rf"^begintemplate\s+{GUI_TEMPLATE}\b.*$", text, re.M)
    end = re.search(rf"^endtemplate\s+{GUI_TEMPLATE}\b", text, re.M)
    if start is None or end is None:
        raise ValueError(f"template {GUI_TEMPLATE} not found")
    body = text[start.end() : end.start()]
    pattern = r"^proc\s+instantiate\s*\(\s*\)"
    if len(re.findall(pattern, body, re.M)) != 1:
        raise ValueError(f"{GUI_TEMPLATE} has no single 'proc instantiate()'")
    public = re.search(r"^public\b.*\bcommands\b", body, re.M)
    if public is None or re.search(r"^objref\b.*\bthis\b", body, re.M) is None:
        raise ValueError(f"{GUI_TEMPLATE} lacks a public commands list or 'this'")
    body = re.sub(pattern, "proc instantiate_nrn_()", body, count=1, flags=re.M)
    # 1 replayed; 0 a cached parse without a program: NEURON's code, keeping the commands
    # to learn from; -1 NEURON's code exactly as called
    ours = (
        f"\nexternal {hook}\n"
        "proc instantiate() {local r\n"
        "\tr = -1\n"
        f"\tif (numarg() == 1) {{\n\t\tr = {hook}.replay(this, $o1)\n"
        f"\t}} else if ($2 != 1) {{\n\t\tr = {hook}.replay(this, $o1)\n\t}}\n"
        "\tif (r == 0) {\n"
        "\t\tinstantiate_nrn_($o1, 1)\n"
        f"\t\t{hook}.learn(this, $o1)\n"
        "\t\tcommands.remove_all()\n"
        "\t} else if (r < 0) {\n"
        "\t\tif (numarg() == 1) { instantiate_nrn_($o1) } else { instantiate_nrn_($o1, $2) }\n"
        "\t}\n}\n"
    )
    return text[: start.end()] + body + ours + text[end.start() :]  # after its declarations


def _split(name: str) -> tuple[str, int]:
    """'dend[3]' -> ('dend', 3); 'dend' (NEURON's name for index 0) -> ('dend', 0)."""
    array, _, index = name.partition("[")
    return array, int(index.rstrip("]") or 0)


@dataclass
class Step:
    """One section as NEURON's instantiate builds it: connect, pt3dstyle, points, contour."""

    name: str
    section: tuple[str, int]
    parent: tuple[str, int, float] | None
    style: tuple[float, float, float] | None
    points: tuple[Any, Any, Any, Any]  # hoc Vectors x, y, z, diam (reused by every cell)
    contour: Any  # the reader's Import3d_Section when NEURON calls _declare_contour


@dataclass
class Program:
    """What NEURON's instantiate executed for one parse, in its order."""

    structure: list[str]  # the create / forsec / forall all.append statements
    arrays: list[str]
    lists: list[str]  # the section lists the forsec / forall statements append to
    steps: list[Step] = field(default_factory=list)
    # template -> (sizes of the arrays not created that the lists got sections of, hoc
    # statements appending list by list what the forsec / forall statements appended when
    # run once); None: not seen on empty distinct lists
    appends: dict[str, tuple[dict[str, int], list[str]] | None] = field(default_factory=dict)


def learn(commands: list[str], gui: Any, h: Any) -> Program:
    """The program behind `commands` (NEURON's strings) for `gui.swc`'s sections.

    Cross-checked with the reader's sections (names from the GUI's own `name`), so any
    statement we do not expect raises ValueError and the parse keeps NEURON's route.
    """
    structure: list[str] = []
    arrays: dict[str, int] = {}
    lists = []
    it = iter(commands)
    for text in it:
        structure.append(text)
        if text == _ALL:
            lists.append("all")
            break
        if create := _CREATE.fullmatch(text):
            arrays[create[1]] = int(create[2])
        elif forsec := _FORSEC.fullmatch(text):
            lists.append(forsec[1])
        else:
            raise ValueError(f"unexpected statement {text!r}")
    else:
        raise ValueError("no 'forall all.append'")
    rest = list(it)
    program = Program(structure, sorted(arrays), lists)
    position = 0

    def name_of(section: Any) -> str:
        out = h.ref("")
        gui.name(section, out)
        return out[0]

    def located(name: str) -> tuple[str, int]:
        array, index = _split(name)
        if index >= arrays.get(array, 0):
            raise ValueError(f"section {name} not created")
        return array, index

    sections = gui.swc.sections
    for i in range(int(sections.count())):
        section = sections.o(i)
        if section.is_subsidiary:
            continue
        name = name_of(section)
        parent = style = None
        if section.parentsec is not None:
            match = _CONNECT.fullmatch(rest[position]) if position < len(rest) else None
            if match is None or match[2] != name or match[1] != name_of(section.parentsec):
                raise ValueError(f"no connect of {name} where expected")
            parent = (*located(match[1]), float(match[3]))
            position += 1
        if section.first == 1:
            match = _STYLE.fullmatch(rest[position]) if position < len(rest) else None
            if match is None or match[1] != name:
                raise ValueError(f"no pt3dstyle of {name} where expected")
            style = (float(match[2]), float(match[3]), float(match[4]))
            position += 1
        points: list[list[float]] = [[], [], [], []]
        while position < len(rest) and (match := _POINT.fullmatch(rest[position])):
            if match[1] != name:
                break
            for column, value in zip(points, match.groups()[1:], strict=True):
                column.append(float(value))
            position += 1
        if not points[0]:
            raise ValueError(f"no 3D points of {name}")
        x, y, z, d = (h.Vector(column) for column in points)
        contour = section if section.iscontour_ else None
        program.steps.append(Step(name, located(name), parent, style, (x, y, z, d), contour))
    if position != len(rest):
        raise ValueError(f"unexpected statement {rest[position]!r}")
    return program


def _empty_lists(cell: Any) -> set[str]:
    """Names of `cell`'s usual Import3d section lists that are empty SectionLists."""
    empty = set()
    for name in _LISTS:
        value = getattr(cell, name, None)
        is_list = value is not None and value.hname().startswith("SectionList[")
        if is_list and next(iter(value), None) is None:
            empty.add(name)
    return empty


def _appended(
    cell: Any, names: list[str], lists: list[Any], created: list[str]
) -> tuple[dict[str, int], list[str]] | None:
    """hoc statements appending each list's sections again, in order (one loop per run
    of consecutive indices, `hoc_ac_` counting), and the sizes of the arrays they name
    that instantiate did not create (what they append depends on those sections);
    None if a section is not `array[i]` of `cell`."""
    prefix = cell.hname() + "."
    sizes: dict[str, int] = {}
    out = []
    for list_name, one in zip(names, lists, strict=True):
        sections: list[tuple[str, int]] = []
        for section in one:
            name = section.name()
            found = _ELEMENT.fullmatch(name[len(prefix) :]) if name.startswith(prefix) else None
            if found is None:
                return None
            array, index = found[1], int(found[2])
            try:
                if getattr(cell, array)[index] != section:
                    return None
            except (AttributeError, IndexError, LookupError, TypeError):
                return None
            sections.append((array, index))
            if array not in created:
                sizes.setdefault(array, len(getattr(cell, array)))
        runs: list[list] = []  # [array, first, last]
        for array, index in sections:
            if runs and runs[-1][0] == array and runs[-1][2] + 1 == index:
                runs[-1][2] = index
            else:
                runs.append([array, index, index])
        for array, first, last in runs:
            element = f"{array}[hoc_ac_] {list_name}.append()"
            out.append(f"for hoc_ac_ = {first}, {last} {element}")
    return sizes, out


class Builder:
    """Programs by parse key; `replay` / `learn` are called from the derived hoc."""

    def __init__(self, readers: Any, h: Any) -> None:
        self.readers = readers  # import3d_cache.ReaderCache: which parses are cached
        self.h = h
        self.programs: dict[tuple, Program | None] = {}  # None: NEURON's route for good
        # parses instantiated once by NEURON's plain route: learning costs 10-20 % of a
        # first cell, so a file only one cell of the rank uses is never learned
        self.once: set[tuple] = set()
        self._learning: tuple[Any, set[str]] | None = None  # (cell, its empty lists)
        self.hits = 0
        self.appended = 0  # replays whose forsec / forall were replaced by plain appends
        readers.dropped.append(self._drop)
        import neuron
        from neuron import hoc

        self._declare_contour = getattr(neuron, "_declare_contour", None)
        self._hoc_object = hoc.HocObject  # instances of hoc templates (not Python classes)

    def _drop(self, key: tuple) -> None:
        self.programs.pop(key, None)
        self.once.discard(key)

    def _key(self, gui: Any, cell: Any) -> tuple | None:
        """The cached parse `gui` instantiates for a hoc template `cell`, else None."""
        if cell is None or type(cell) is not self._hoc_object or gui.g is not None:
            return None  # nil (top-level sections), Python objects, GUI with graphics
        try:
            sections = gui.swc.sections
        except (AttributeError, LookupError, RuntimeError, TypeError):
            return None
        return self.readers.key_of(sections)

    def replay(self, gui: Any, cell: Any) -> int:
        """1 if the cell was built from a learned program, 0 to learn, -1 NEURON's route."""
        key = self._key(gui, cell)
        if key is None:
            return -1
        if key not in self.programs:
            if key not in self.once:
                self.once.add(key)
                return -1
            self._learning = (cell, _empty_lists(cell))
            return 0
        program = self.programs[key]
        if program is None or not self._fits(program, cell):
            return -1
        self._build(program, gui, cell)
        self.hits += 1
        return 1

    def learn(self, gui: Any, cell: Any) -> None:
        """Learn the program NEURON's instantiate just executed (kept in `gui.commands`)."""
        key = self._key(gui, cell)
        learning, self._learning = self._learning, None
        if key is None:
            return
        commands = gui.commands
        texts = [commands.o(i).s for i in range(int(commands.count()))]
        try:
            learned = learn(texts, gui, self.h)
            contours = any(step.contour is not None for step in learned.steps)
            if self._declare_contour is None and contours:
                raise ValueError("this NEURON has no _declare_contour")
            program: Program | None = learned
            if learning is not None and learning[0] == cell:
                self._observe(learned, cell, empty=set(learned.lists) <= learning[1])
        except (ValueError, IndexError) as problem:
            log.debug("Import3d instantiate not replayed for %s: %s", key[1], problem)
            program = None
        self.programs[key] = program

    def _fits(self, program: Program, cell: Any) -> bool:
        """The statements will do in `cell` what they did in the first one."""
        for name in program.lists:
            value = getattr(cell, name, None)
            if value is None or not value.hname().startswith("SectionList["):
                return False
        return all(hasattr(cell, name) for name in program.arrays)

    def _structure(self, program: Program, cell: Any) -> None:
        """The create / forsec / `forall all.append` statements, or their effect.

        forsec and forall loop over the cell's sections in hoc (~4 us per section and
        statement in an object context: most of a replay otherwise). What they append
        depends only on the program and on the sections the cell has, i.e. on its template
        and the sizes of the arrays instantiate does not create: seen once after running
        the statements (on empty, distinct lists: when learning, or here for another
        template), later cells of that template with those sizes get the creates, then the
        same sections appended by index loops, list by list in the statements' order.
        (Assumes a template's cells differ in the sections they have before instantiate
        only by those sizes.)
        """
        h = self.h
        template = cell.hname().partition("[")[0]
        seen = program.appends.get(template, ())
        if (
            seen is None
            or seen == ()
            or any(
                len(getattr(cell, array)) != size
                for array, size in seen[0].items()  # type: ignore[index]
            )
        ):
            empty = set(program.lists) <= _empty_lists(cell)
            for statement in program.structure:
                h.execute(statement, cell)
            if seen == ():
                self._observe(program, cell, empty)
            return
        for statement in program.structure:
            if statement.startswith("~create "):
                h.execute(statement, cell)
        kept = h.hoc_ac_  # hoc's scratch variable, visible in every object context
        for statement in seen[1]:  # type: ignore[index]
            h.execute(statement, cell)
        h.hoc_ac_ = kept
        self.appended += 1

    def _observe(self, program: Program, cell: Any, empty: bool) -> None:
        """Keep what the structure statements just appended in `cell` (see _structure)."""
        if not self._fits(program, cell):
            return  # NEURON's route errs in this template: another may still be seen
        template = cell.hname().partition("[")[0]
        lists = [getattr(cell, name) for name in program.lists]
        distinct = len({one.hname() for one in lists}) == len(lists)
        usable = empty and distinct
        program.appends[template] = (
            _appended(cell, program.lists, lists, program.arrays) if usable else None
        )

    def _build(self, program: Program, gui: Any, cell: Any) -> None:
        h = self.h
        gui.commands = h.List()  # NEURON's instantiate starts a fresh list
        self._structure(program, cell)
        arrays = {name: getattr(cell, name) for name in program.arrays}
        pt3dadd, pt3dstyle = h.pt3dadd, h.pt3dstyle
        for step in program.steps:
            array, index = step.section
            section = arrays[array][index]
            if step.parent is not None:
                parent, parent_index, x = step.parent
                section.connect(arrays[parent][parent_index](x), 0)
            if step.style is not None:
                pt3dstyle(1, *step.style, sec=section)
            pt3dadd(*step.points, sec=section)
            if step.contour is not None:
                self._declare_contour(step.contour, cell, step.name)
