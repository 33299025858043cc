"""The `corral` command: with no verb it opens the dashboard; the verbs script the same engine."""

from . import agents, board, commands, landing, lifecycle, projects, queue, racing, remote, runs, tokens
from .root import main

for verbs in (runs, racing, lifecycle, commands, queue, board, landing, projects, agents, tokens, remote):
    for command in verbs.COMMANDS:
        main.add_command(command)

__all__ = ["main"]
