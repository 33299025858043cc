"""Does a shell command look destructive? The check `corral exec`, the dashboard and the API share.

    destructive_reasons("rm -rf / && git push -f", worktree="/home/me/.corral/runs/1a2b/app")
    -> ["deletes / (the whole file system)", "force-pushes (git push --force): it can overwrite ..."]

A command with reasons is refused unless the user confirms it. What counts:
- deleting, or writing to, a path outside the run's worktree: `rm`, `rmdir`, `shred`, `truncate`,
  `touch`, `mkdir`, `chmod`, `chown`, `tee`, the destination of `cp`, `mv`, `ln`, `install` and
  `rsync`, `dd of=`, and redirections (`>`, `>>`, `&>`). Absolute paths, `~`, `$HOME` and
  `..` that climbs out are outside; /dev/null and the other standard streams, and files named
  in the temporary folder (/tmp/build.log), are not;
- `git push --force` / `-f` / `+branch`, deleting a remote branch (`git push --delete`, `:branch`),
  and throwing away the worktree's uncommitted work (`git reset --hard`, `git clean -f`,
  `git checkout -- .`/`git restore .`);
- formatting or overwriting a disk (`mkfs`, `wipefs`, `fdisk`, `dd` to a device), `sudo`/`su`,
  `shutdown`/`reboot`/`halt`/`poweroff`, a fork bomb.
Commands inside `sh -c '...'` / `bash -c` are read too. It is a guard against slips, not a sandbox:
a script the command runs is not read.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

__all__ = ["destructive_reasons"]

_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "|&", "(", ")", ";;", "\n"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_WRAPPERS = frozenset({"env", "nohup", "time", "nice", "command", "exec", "builtin", "stdbuf", "timeout", "xargs"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_SAFE_PATHS = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero", "/dev/fd/")
# commands that change every path they are given, and those that change only their last one
_CHANGE_ALL = frozenset({"rm", "rmdir", "shred", "truncate", "touch", "mkdir", "chmod", "chown", "chgrp", "tee",
                         "unlink"})
_CHANGE_LAST = frozenset({"cp", "mv", "ln", "install", "rsync", "scp"})
_DISK_TOOLS = frozenset({"mkfs", "wipefs", "fdisk", "sfdisk", "parted", "mkswap"})
_POWER = frozenset({"shutdown", "reboot", "halt", "poweroff"})
_FORK_BOMB = re.compile(r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:")


def destructive_reasons(command: str, worktree: str | Path | None = None) -> list[str]:
    """Why `command`, run in `worktree` (None: not known), looks destructive, one line each; [] when it does not."""
    reasons: list[str] = []
    if _FORK_BOMB.search(command):
        reasons.append("a fork bomb: it starts processes until the machine stops answering")
    place = os.path.normpath(os.path.abspath(worktree)) if worktree is not None else None
    where = Where(place, place)
    for words, targets in _simple_commands(command):
        if words[:1] == ["cd"]:  # what follows runs there
            where = where.moved(words[1] if len(words) > 1 else "~")
        reasons += _command_reasons(words, where)
        reasons += [f"writes to {t}, outside the run's worktree" for t in targets if where.outside(t)]
    return list(dict.fromkeys(reasons))


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: the shell refuses it too; read what can be read
        return command.split()


def _simple_commands(command: str) -> list[tuple[list[str], list[str]]]:
    """Each simple command's words and the files it redirects its output to."""
    found: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    targets: list[str] = []
    tokens = _tokens(command)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in _SEPARATORS:
            if words or targets:
                found.append((words, targets))
            words, targets = [], []
        elif token in _REDIRECTS or token == ">&":
            if index + 1 < len(tokens) and not (token == ">&" and tokens[index + 1].isdigit()):
                targets.append(tokens[index + 1])
            index += 1
        elif token in ("<", "<<", "<<<", "<&"):
            index += 1  # what it reads is not changed
        elif token.isdigit() and index + 1 < len(tokens) and tokens[index + 1] in _REDIRECTS | {">&", "<", "<&"}:
            pass  # the number of the stream a redirection is for
        else:
            words.append(token)
        index += 1
    if words or targets:
        found.append((words, targets))
    return found


def _command_reasons(words: list[str], where: Where) -> list[str]:
    reasons: list[str] = []
    while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in _WRAPPERS
                     or words[0] in ("sudo", "su", "doas")):
        if words[0] in ("sudo", "su", "doas"):
            reasons.append(f"runs as another user ({words[0]})")
        words = [w for w in words[1:] if not (words[0] in ("sudo", "env", "timeout") and w.startswith("-"))]
        if words and words[0:1] and re.match(r"^\d+[smhd]?$", words[0]):
            words = words[1:]  # timeout's duration
    if not words:
        return reasons
    name, args = os.path.basename(words[0]), words[1:]
    if name in _SHELLS and "-c" in args and args.index("-c") + 1 < len(args):
        return reasons + destructive_reasons(args[args.index("-c") + 1], where.root)
    if name == "git":
        return reasons + _git_reasons(args)
    if name.split(".")[0] in _DISK_TOOLS:
        reasons.append(f"formats or repartitions a disk ({name})")
    if name in _POWER:
        reasons.append(f"stops the machine ({name})")
    if name == "dd":
        for arg in args:
            if arg.startswith("of="):
                target = arg[3:]
                if target.startswith("/dev/") and not target.startswith(_SAFE_PATHS):
                    reasons.append(f"overwrites the device {target} (dd)")
                elif where.outside(target):
                    reasons.append(f"writes to {target}, outside the run's worktree")
    paths = [a for a in args if not a.startswith("-")]
    if name in _CHANGE_LAST and len(paths) >= 2:
        paths = paths[-1:]
    elif name not in _CHANGE_ALL:
        return reasons
    if name in ("chmod", "chown", "chgrp") and paths:
        paths = paths[1:]  # the mode or owner
    deleting = name in ("rm", "rmdir", "shred", "unlink")
    for path in paths:
        if not where.outside(path):
            continue
        full = _expand(path)
        if full == "/" or _glob_root(path) == "/":
            reasons.append(f"{'deletes' if deleting else 'changes'} / (the whole file system)")
        elif full == os.path.expanduser("~") or path in ("~", "~/", "$HOME", "${HOME}"):
            reasons.append(f"{'deletes' if deleting else 'changes'} ~ (your home folder)")
        else:
            reasons.append(f"{'deletes' if deleting else 'writes to'} {path}, outside the run's worktree")
    return reasons


def _git_reasons(args: list[str]) -> list[str]:
    while args and args[0].startswith("-"):  # git's own options: -C dir, -c name=value
        args = args[2:] if args[0] in ("-C", "-c") else args[1:]
    if not args:
        return []
    verb, rest = args[0], args[1:]
    reasons = []
    if verb == "push":
        if any(a in ("-f", "--force", "--force-with-lease", "--force-if-includes", "--mirror") or
               a.startswith("--force-with-lease=") or (a.startswith("-") and not a.startswith("--") and "f" in a)
               for a in rest) or any(a.startswith("+") for a in rest):
            reasons.append("force-pushes (git push --force): it can overwrite commits on the remote")
        if any(a in ("-d", "--delete", "--prune") for a in rest) or any(
                a.startswith(":") and len(a) > 1 for a in rest):
            reasons.append("deletes branches on the remote (git push --delete)")
    elif verb == "reset" and "--hard" in rest:
        reasons.append("throws away the worktree's uncommitted changes (git reset --hard)")
    elif verb == "clean" and any(a == "--force" or (a.startswith("-") and not a.startswith("--") and "f" in a)
                                 for a in rest):
        reasons.append("deletes the worktree's untracked files (git clean -f)")
    elif verb in ("checkout", "restore") and ("." in rest or ("--" in rest and rest[-1:] == ["."])):
        reasons.append(f"throws away the worktree's uncommitted changes (git {verb} .)")
    return reasons


def _expand(path: str) -> str:
    home = os.path.expanduser("~")
    path = re.sub(r"^\$\{?HOME\}?(?=/|$)", home, path)
    return os.path.normpath(os.path.expanduser(path)) if path else path


def _glob_root(path: str) -> str | None:
    """The folder a glob like /* or ~/.* starts from."""
    head = re.split(r"[*?\[]", path, maxsplit=1)[0]
    return os.path.normpath(_expand(head)) if head != path and head.startswith(("/", "~")) else None


@dataclass(frozen=True)
class Where:
    """Where a command runs (`cwd`, None when a `cd` went somewhere unknown) and the worktree it
    must stay in (`root`, None when not known)."""

    cwd: str | None
    root: str | None

    def moved(self, to: str) -> Where:
        to = _expand(to)
        if to.startswith(("$", "-")) or not (os.path.isabs(to) or self.cwd):
            return Where(None, self.root)
        return Where(os.path.normpath(os.path.join(self.cwd or "/", to)), self.root)

    def outside(self, path: str) -> bool:
        """Whether writing `path` (as the shell would see it, run here) reaches outside the worktree."""
        if not path or (path.startswith("$") and not re.match(r"^\$\{?HOME\}?(/|$)", path)):
            return False  # a variable we cannot know
        full = _expand(path)
        if not os.path.isabs(full):
            if self.cwd is None or self.root is None:  # only `..` that climbs out is known to be outside
                return self.cwd == self.root and (full == ".." or full.startswith("../"))
            full = os.path.normpath(os.path.join(self.cwd, full))
            return not _within(full, self.root)  # judged against the worktree alone
        if full.startswith(_SAFE_PATHS) or full in _SAFE_PATHS:
            return False
        import tempfile  # only for a path that may be outside the worktree, not with the engine

        temp = os.path.normpath(tempfile.gettempdir())
        if full.startswith(temp + os.sep) and not path.startswith((".", "~", "$")):
            return False  # a file in the temporary folder, named as such
        return self.root is None or not _within(full, self.root)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)
