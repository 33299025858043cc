"""Git operations for corral, done in-process with dulwich.

Everything here is synchronous; the engine calls it through asyncio.to_thread.
What these functions write uses git's own on-disk layout, so `git worktree list`,
`git log` and `git status` see the same thing.
"""

from ..errors import GitError, MergeConflict
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

__all__ = [
    "HOWS", "Backup", "Branch", "FileChange", "GitError", "Landing", "MergeConflict", "Worktree",
    "WouldLoseWork", "add_worktree", "can_land", "changes", "check_branch_name", "commit_all",
    "copy_worktree_includes", "corral_branches", "current_branch", "delete_branch",
    "delete_branch_and_worktree", "diff", "disk_usage", "forget_run_refs", "is_landed", "land",
    "list_worktrees", "plan_ref", "prune_worktrees", "push_branch", "rebase_branch", "reject_files",
    "remove_worktree", "rename_branch", "repo_root", "resolve", "restore_worktree", "revert_all", "snapshot",
    "turn_ref"
]
