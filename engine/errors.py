"""Errors a user can act on.

Every problem caused by the input (config, circuit files, node sets) is raised as a
`UserError` naming the file and the key, so the CLI can print one clear line instead of a
traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; printed without a traceback."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file = str(file) if file is not None else None
        self.key = key
        self.plain_message = message
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file:
            where.append(f"in {self.file}")
        if self.key:
            where.append(f"at '{self.key}'")
        prefix = " ".join(where)
        return f"{prefix}: {self.plain_message}" if prefix else self.plain_message

    def within(self, context: str) -> UserError:
        """The same error, its message prefixed by what was being done (e.g. the cell)."""
        if self.plain_message.startswith(context):
            return self
        return type(self)(f"{context}: {self.plain_message}", file=self.file, key=self.key)


class ConfigError(UserError):
    """The simulation or circuit config is invalid."""


class CircuitError(UserError):
    """A circuit file (nodes, edges, morphology, template) is missing or malformed."""


class MechanismError(UserError):
    """NMODL mechanisms could not be compiled or loaded."""


class OutputError(UserError):
    """An output file could not be written (disk full, no permission, quota)."""
