"""Git operations for corral, done in-process with dulwich.

Everything here is synchronous; the engine calls it through asyncio.to_thread.
What these functions write uses git's own on-disk layout, so `git worktree list`,
`git log` and `git status` see the same thing.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ..errors import GitError, MergeConflict

if TYPE_CHECKING:
    from .branches import (
               Branch,
               WouldLoseWork,
               corral_branches,
               delete_branch_and_worktree,
               is_landed,
               push_branch,
               rename_branch,
    )
    from .changes import FileChange, changes, diff
    from .commit import commit_all
    from .files import Backup, reject_files, revert_all
    from .landing import HOWS, Landing, can_land, land, rebase_branch
    from .repo import check_branch_name, current_branch, repo_root, resolve
    from .snapshot import forget_run_refs, plan_ref, snapshot, turn_ref
    from .worktrees import (
               Worktree,
               add_worktree,
               copy_worktree_includes,
               delete_branch,
               disk_usage,
               list_worktrees,
               prune_worktrees,
               remove_worktree,
               restore_worktree,
    )

# The module of each name: it (and dulwich) loads when one of its names is first used, so a command
# that touches no repository starts without them.
_NAMES = {
    "branches": ("Branch", "WouldLoseWork", "corral_branches", "delete_branch_and_worktree", "is_landed",
                 "push_branch", "rename_branch"),
    "changes": ("FileChange", "changes", "diff"),
    "commit": ("commit_all",),
    "files": ("Backup", "reject_files", "revert_all"),
    "landing": ("HOWS", "Landing", "can_land", "land", "rebase_branch"),
    "repo": ("check_branch_name", "current_branch", "repo_root", "resolve"),
    "snapshot": ("forget_run_refs", "plan_ref", "snapshot", "turn_ref"),
    "worktrees": ("Worktree", "add_worktree", "copy_worktree_includes", "delete_branch", "disk_usage",
                  "list_worktrees", "prune_worktrees", "remove_worktree", "restore_worktree"),
}


__all__ = [
    "HOWS", "Backup", "Branch", "FileChange", "GitError", "Landing", "MergeConflict", "Worktree",
    "WouldLoseWork", "add_worktree", "can_land", "changes", "check_branch_name", "commit_all",
    "copy_worktree_includes", "corral_branches", "current_branch", "delete_branch",
    "delete_branch_and_worktree", "diff", "disk_usage", "forget_run_refs", "is_landed", "land",
    "list_worktrees", "plan_ref", "prune_worktrees", "push_branch", "rebase_branch", "reject_files",
    "remove_worktree", "rename_branch", "repo_root", "resolve", "restore_worktree", "revert_all", "snapshot",
    "turn_ref"
]


def __getattr__(name: str) -> Any:
    module = next((m for m, names in _NAMES.items() if name in names), None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = importlib.import_module(f".{module}", __name__)
    globals().update((n, getattr(loaded, n)) for n in _NAMES[module])
    return globals()[name]


def load() -> None:
    """Import every module now: a process about to drive a run, whose turns are snapshotted while
    its agent goes on working, must not wait for them then."""
    for names in _NAMES.values():
        __getattr__(names[0])


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        # Loading the module `changes` (or `snapshot`) sets its name here: the function of that name keeps it.
        if not (isinstance(value, types.ModuleType) and value.__name__.rpartition(".")[2] in _NAMES.get(name, ())):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
