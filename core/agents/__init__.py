"""Agent adapters by name: the built-in ones, and any a package adds under `corral.agents`."""

from __future__ import annotations

import importlib

from ..errors import CorralError
from .base import (AgentAdapter, AgentMissing, AgentNotConfigured, Installed, Launch, LineParser, Parsed, Supports,
                   provider_env)

__all__ = ["AgentAdapter", "AgentMissing", "AgentNotConfigured", "Installed", "Launch", "LineParser", "Parsed",
           "Supports", "adapter", "known", "provider_env"]

# Each built-in adapter's module and class, loaded when that CLI is first used.
_BUILT_IN: dict[str, tuple[str, str]] = {
    "claude-code": ("claude_code", "ClaudeCode"), "codex": ("codex", "Codex"), "gemini": ("acp", "Gemini"),
    "qwen": ("acp", "Qwen"), "opencode": ("acp", "OpenCode"), "copilot": ("acp", "Copilot"),
    "aider": ("aider", "Aider")}


def _built_in(cli: str) -> type[AgentAdapter]:
    module, name = _BUILT_IN[cli]
    return getattr(importlib.import_module(f".{module}", __name__), name)


def known() -> dict[str, type[AgentAdapter]]:
    from importlib.metadata import entry_points  # reads every installed package's data: only when asked

    kinds = {cli: _built_in(cli) for cli in _BUILT_IN}
    for entry in entry_points(group="corral.agents"):
        if entry.name not in kinds:
            try:
                kinds[entry.name] = entry.load()
            except Exception:  # a broken plug-in must not take corral down
                continue
    return kinds


def adapter(cli: str) -> AgentAdapter:
    if cli in _BUILT_IN:
        return _built_in(cli)()
    kinds = known()
    if cli not in kinds:
        raise CorralError(f"unknown agent CLI {cli!r}: known are {', '.join(sorted(kinds))}",
                          code="UNKNOWN_AGENT_CLI")
    return kinds[cli]()
