"""Reading a JSON config file with one clear message for each way it can be unreadable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.errors import ConfigError


def read_json(path: Path) -> tuple[str, Any]:
    """(text, parsed value) of `path`; ConfigError naming the file and the line/column."""
    try:
        text = path.read_text()
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}", file=path
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", file=path) from None
