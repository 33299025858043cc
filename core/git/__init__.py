"""Git operations for corral, done in-process with dulwich.

Everything here is synchronous; the engine calls it through asyncio.to_thread.
What these functions write uses git's own on-disk layout, so `git worktree list`,
`git log` and `git status` see the same thing.
"""

from .changes import FileChange, changes, diff
from .commit import commit_all
from .repo import GitError, current_branch, repo_root, resolve
from .worktrees import (
           Worktree,
           add_worktree,
           delete_branch,
           list_worktrees,
           remove_worktree,
)

__all__ = ["FileChange", "GitError", "Worktree", "add_worktree", "changes", "commit_all", "current_branch",
           "delete_branch", "diff", "list_worktrees", "remove_worktree", "repo_root", "resolve"]
