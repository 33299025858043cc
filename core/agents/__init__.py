"""Agent adapters by name: the built-in ones, and any a package adds under `corral.agents`."""

from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import CorralError
from .base import (AgentAdapter, AgentMissing, AgentNotConfigured, Installed, Launch, LineParser, Parsed, Supports,
                   provider_env)
from .acp import Copilot, Gemini, OpenCode, Qwen
from .aider import Aider
from .claude_code import ClaudeCode
from .codex import Codex

__all__ = ["AgentAdapter", "AgentMissing", "AgentNotConfigured", "Installed", "Launch", "LineParser", "Parsed",
           "Supports", "adapter", "known", "provider_env"]

_BUILT_IN: dict[str, type[AgentAdapter]] = {
    kind.name: kind for kind in (ClaudeCode, Codex, Gemini, Qwen, OpenCode, Copilot, Aider)}


def known() -> dict[str, type[AgentAdapter]]:
    kinds = dict(_BUILT_IN)
    for entry in entry_points(group="corral.agents"):
        if entry.name not in kinds:
            try:
                kinds[entry.name] = entry.load()
            except Exception:  # a broken plug-in must not take corral down
                continue
    return kinds


def adapter(cli: str) -> AgentAdapter:
    kinds = _BUILT_IN if cli in _BUILT_IN else known()
    if cli not in kinds:
        raise CorralError(f"unknown agent CLI {cli!r}: known are {', '.join(sorted(kinds))}",
                          code="UNKNOWN_AGENT_CLI")
    return kinds[cli]()
