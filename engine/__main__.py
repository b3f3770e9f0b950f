"""`python -m engine` is the `sonatasim` command."""

from engine.cli import main

main()
