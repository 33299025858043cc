"""The `corral` command: with no verb it opens the dashboard; the verbs script the same engine.

Each verb's module loads only when that verb runs (or help lists them all), so a quick verb starts
without the code of the others."""

from .root import main

VERBS = {
    "runs": ("run", "drive", "runs", "show", "events", "approve", "cancel"),
    "racing": ("compare",),
    "lifecycle": ("continue", "fork", "pause", "check", "turns", "rewind", "attach", "hook"),
    "commands": ("exec", "commands", "command", "cancel-command"),
    "queue": ("queue",),
    "board": ("plan", "tasks", "task", "metrics"),
    "landing": ("diff", "reject", "revert", "commit", "merge", "rebase", "branches", "branch", "push", "pr", "delete",
                "clean"),
    "records": ("conversation", "patch", "archive", "audit"),
    "projects": ("project",),
    "context": ("context",),
    "agents": ("agent", "agents"),
    "tokens": ("token",),
    "remote": ("remote", "remotes", "remote-host"),
}
main.verbs = {verb: f"{__name__}.{module}" for module, verbs in VERBS.items() for verb in verbs}

__all__ = ["main"]
