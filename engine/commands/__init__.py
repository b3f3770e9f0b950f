"""Extra `sonatasim` subcommands; each module exports COMMANDS, a list of click commands.

May import anything below the CLI (config, managers, io); nothing imports this package but engine.cli.
"""
