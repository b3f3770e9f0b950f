"""Logging: rank 0 talks to the user (and the log file); other ranks only warn."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER = "sonatasim"


class _RankFormatter(logging.Formatter):
    def __init__(self, rank: int, nranks: int, with_time: bool):
        fmt = "%(asctime)s " if with_time else ""
        if nranks > 1 and rank != 0:
            fmt += f"[rank {rank}] "
        fmt += "%(levelname_short)s%(message)s"
        super().__init__(fmt, datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.levelname_short = "" if record.levelno == logging.INFO else f"{record.levelname}: "
        return super().format(record)


def setup_logging(rank: int = 0, nranks: int = 1, verbose: int = 0) -> logging.Logger:
    log = logging.getLogger(LOGGER)
    log.handlers.clear()
    log.propagate = False
    level = logging.DEBUG if verbose > 0 else logging.INFO
    log.setLevel(level)
    console = logging.StreamHandler(sys.stdout if rank == 0 else sys.stderr)
    console.setLevel(level if rank == 0 else logging.WARNING)
    console.setFormatter(_RankFormatter(rank, nranks, with_time=False))
    log.addHandler(console)
    return log


def add_log_file(path: Path, rank: int, nranks: int) -> None:
    """Also log to `path` (rank 0 only, everything from DEBUG up)."""
    if rank != 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(_RankFormatter(rank, nranks, with_time=True))
    logging.getLogger(LOGGER).addHandler(handler)
