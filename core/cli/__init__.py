"""The `corral` command: with no verb it opens the dashboard; the verbs script the same engine."""

from . import (agents, board, commands, context, landing, lifecycle, projects, queue, racing, records, remote, runs,
               tokens)
from .root import main

for verbs in (runs, racing, lifecycle, commands, queue, board, landing, records, projects, context, agents, tokens,
              remote):
    for command in verbs.COMMANDS:
        main.add_command(command)

__all__ = ["main"]
