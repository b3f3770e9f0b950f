"""A safe parser for the little assignment snippets of SONATA configs.

`connection_overrides[].synapse_configure` and `conditions.modifications[].section_configure`
hold hoc/Python-looking statements such as `%s.tau_d_AMPA = 3; %s.Use *= 0.5`. Nothing is
ever evaluated: each statement must be exactly

    <where>.<name> <op> <number>      (or `<name> <op> <number>` for compartment sets)

with <op> one of = *= += -= /=, <number> a plain decimal literal, and statements separated
by `;` and/or whitespace. <where> depends on the form (see `FORMS`). Anything else (calls,
attribute chains, names starting with `_`, expressions) is rejected with a message naming
the config block, before NEURON builds anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

OPERATORS = ("=", "*=", "+=", "-=", "/=")
SECTION_LISTS = ("somatic", "axonal", "basal", "apical", "all", "myelinated")

# Which <where> each form takes, and an example for error messages.
FORMS = {
    "synapse": ("%s.<name>", "%s.tau_d_AMPA = 3; %s.Use *= 0.5"),
    "all_sections": ("%s.<name>", "%s.gnabar_hh = 0; %s.cm *= 2"),
    "section_list": ("<list>.<name>", "apical.gbar_NaTg = 0; apical.cm = 1"),
    "section": ("<section>[<index>].<name>", "apic[10].gbar_KTst = 0"),
    "compartment": ("<name>", "gbar_KTst = 0"),
}

_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_STATEMENT = re.compile(
    rf"(?:(?P<where>%s|{_NAME})(?:\[(?P<index>\d+)\])?\s*\.\s*)?"
    rf"(?P<name>{_NAME})\s*(?P<op>\*=|\+=|-=|/=|=)\s*(?P<value>{_NUMBER})(?=[\s;]|$)",
    re.ASCII,
)
_SEPARATORS = re.compile(r"[\s;]*")


@dataclass(frozen=True)
class Statement:
    """One `<where>.<name> <op> <value>`; `where` is None in the compartment form."""

    where: str | None
    index: int | None
    name: str
    op: str
    value: float

    def new_value(self, current: float) -> float:
        """The value after this statement, given the current one (unused for `=`)."""
        if self.op == "=":
            return self.value
        if self.op == "*=":
            return current * self.value
        if self.op == "+=":
            return current + self.value
        if self.op == "-=":
            return current - self.value
        return current / self.value

    def text(self) -> str:
        where = "" if self.where is None else self.where
        if self.index is not None:
            where += f"[{self.index}]"
        prefix = f"{where}." if where else ""
        return f"{prefix}{self.name} {self.op} {self.value:g}"


def parse_statements(
    text: Any, form: str, block: str, *, file: Any = None, key: str | None = None
) -> list[Statement]:
    """Statements of one config snippet; ConfigError naming `block` for anything else.

    `block` says where the snippet comes from, e.g. "connection_overrides 'weak'
    synapse_configure"; it starts every error message. `key` is the config key reported.
    """
    shape, example = FORMS[form]
    key = key or block
    if not isinstance(text, str):
        raise ConfigError(f"{block}: must be a string like '{example}'", file=file, key=key)
    statements: list[Statement] = []
    position = _SEPARATORS.match(text, 0).end()
    while position < len(text):
        match = _STATEMENT.match(text, position)
        if match is None:
            raise _rejected(text, position, block, shape, example, file, key)
        statements.append(_checked(match, form, block, shape, example, file, key))
        position = _SEPARATORS.match(text, match.end()).end()
    if not statements:
        raise ConfigError(f"{block}: no statement (expected e.g. '{example}')", file=file, key=key)
    return statements


def _rejected(
    text: str, position: int, block: str, shape: str, example: str, file: Any, key: str
) -> ConfigError:
    fragment = text[position:].split(";")[0].strip()
    if len(fragment) > 60:
        fragment = fragment[:57] + "..."
    return ConfigError(
        f"{block}: cannot use '{fragment}': only statements '{shape} <op> <number>' with <op>"
        f" one of {' '.join(OPERATORS)} are allowed, separated by ';' (e.g. '{example}');"
        " calls, expressions and attribute chains are never evaluated",
        file=file,
        key=key,
    )


def _checked(
    match: re.Match, form: str, block: str, shape: str, example: str, file: Any, key: str
) -> Statement:
    where, index, name = match["where"], match["index"], match["name"]
    statement = Statement(
        where=where,
        index=int(index) if index is not None else None,
        name=name,
        op=match["op"],
        value=float(match["value"]),
    )
    problem = None
    if form in ("synapse", "all_sections") and (where != "%s" or index is not None):
        problem = "must start with '%s.'"
        if where is None and form == "synapse":
            problem += " (set mechanism globals in conditions.mechanisms instead)"
    elif form == "section_list" and (where not in SECTION_LISTS or index is not None):
        problem = f"must start with a section list ({', '.join(SECTION_LISTS)})"
    elif form == "section" and (where in (None, "%s") or index is None):
        problem = "must start with a section such as 'apic[10].'"
    elif form == "compartment" and where is not None:
        problem = "must be a plain '<name> <op> <number>' (the compartments are the set's)"
    elif statement.op == "/=" and statement.value == 0.0:
        problem = "divides by zero"
    elif not math.isfinite(statement.value):
        problem = "needs a finite number"
    if problem is not None:
        raise ConfigError(
            f"{block}: '{match.group(0).strip()}' {problem}; expected '{shape} <op> <number>'"
            f" (e.g. '{example}')",
            file=file,
            key=key,
        )
    return statement


def numeric_attribute(obj: Any, name: str) -> bool:
    """Whether `obj.name` exists and holds a number (so it is a variable, not a method)."""
    try:
        value = getattr(obj, name)
    except (AttributeError, LookupError, RuntimeError, TypeError, ValueError):
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def apply_statement(obj: Any, statement: Statement) -> None:
    """Set `obj.<name>` as the statement says (the caller checked the attribute exists)."""
    current = 0.0 if statement.op == "=" else float(getattr(obj, statement.name))
    setattr(obj, statement.name, statement.new_value(current))
