"""How core.git compares with the git CLI on a large repository.

Generates (with `git fast-import`) a repository of 20,000 files (or --files) and 2,000 commits, then
times, against the git CLI in the same run: creating a worktree, the diff stats of a
run that changed 200 files, and landing that run with a merge. Prints medians and ratios.

    .venv/bin/python bench/git_ops.py [--reps 5] [--files 20000] [--keep DIR] [--only OPERATION]
                                      [--profile OPERATION]

Wall time of a worktree add swings with this machine's file creation cost from run to run;
the cpu columns (user + system time of either side's processes) say more steadily how much
work each does.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import git

changes_module = importlib.import_module("core.git.changes")  # the module, not the function
statworker = importlib.import_module("core.git.statworker")
FILES, COMMITS, TOUCHED, TARGET_TOUCHED = 20_000, 2_000, 200, 50
ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
       "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}


def sh(cwd: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, input=data, capture_output=True,
                          check=True).stdout.decode()


def path_of(i: int) -> str:
    return f"d{i // 1000:02d}/s{i // 100 % 10}/f{i % 100:03d}.txt"


def content(i: int, version: int) -> bytes:
    lines = [f"file {i} line {n}: {'lorem ipsum dolor sit amet ' * 2}\n" for n in range(30)]
    lines[version % 30] = f"file {i} changed in version {version}\n"
    return "".join(lines).encode()


def generate(root: Path) -> None:
    """FILES files, 100 to a directory; 2,000 commits each changing 10 files."""
    rnd = random.Random(1)
    sh(root.parent, "init", "-q", "-b", "main", str(root))
    out = [b"commit refs/heads/main\ncommitter Bench <bench@example.com> 1700000000 +0000\ndata 7\ninitial\n"]
    for i in range(FILES):
        data = content(i, 0)
        out.append(b"M 644 inline %s\ndata %d\n%s\n" % (path_of(i).encode(), len(data), data))
    for c in range(1, COMMITS):
        message = b"commit %d" % c
        out.append(b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n"
                   % (1_700_000_000 + c * 60, len(message), message))
        for i in rnd.sample(range(FILES), 10):
            data = content(i, c)
            out.append(b"M 644 inline %s\ndata %d\n%s\n" % (path_of(i).encode(), len(data), data))
    sh(root, "fast-import", "--quiet", data=b"".join(out))
    sh(root, "repack", "-q", "-a", "-d", "-f")  # as `git gc` leaves a repository: newest versions whole
    sh(root, "reset", "-q", "--hard", "main")
    sh(root, "tag", "generated")


def fresh(root: Path) -> None:
    """The generated state again, when reusing a kept repository."""
    sh(root, "reset", "-q", "--hard", "generated")
    sh(root, "worktree", "prune")
    for ref in sh(root, "for-each-ref", "--format=%(refname)", "refs/heads/corral/").split():
        sh(root, "update-ref", "-d", ref)


def timed(ours, theirs, reps: int, before=None) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(wall, cpu) seconds of ours(n) and theirs(n), taken in turns (who goes first alternates),
    each after flushing the disk cache so that one side's pending writes do not slow the other
    down. cpu is user + system time of this process (all its threads) and of its children, so
    that the file system's work is counted on both sides whoever does it."""
    out: tuple[list, list] = ([], [])
    for n in range(reps):
        for side in ((0, 1) if n % 2 == 0 else (1, 0)):
            fn = (ours, theirs)[side]
            if before:
                before(n)
            os.sync()
            usage, start = _cpu(), time.perf_counter()
            fn(n)
            out[side].append((time.perf_counter() - start, _cpu() - usage))
    return out


def _cpu() -> float:
    """User + system seconds of this process, its finished children and the stat worker that
    core.git keeps running."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime + _worker_cpu()


def _worker_cpu() -> float:
    worker = statworker._worker
    try:
        with open(f"/proc/{worker.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (AttributeError, OSError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def edit_files(path: Path, picks: list[int], version: int) -> None:
    for i in picks:
        (path / path_of(i)).write_bytes(content(i, version) + b"one more line\n")


def bench_worktrees(repo: Path, tmp: Path, reps: int) -> tuple[list[float], list[float]]:
    def ours(n):
        git.add_worktree(repo, tmp / f"ours{n}", f"corral/run-ours{n}")

    def theirs(n):
        sh(repo, "worktree", "add", "-q", "-b", f"corral/run-git{n}", str(tmp / f"git{n}"), "main")

    def clean(n):  # each turn starts with no other worktree on disk
        for name in os.listdir(tmp):
            shutil.rmtree(tmp / name)
        sh(repo, "worktree", "prune")

    results = timed(ours, theirs, reps, clean)
    clean(reps)
    return results


def bench_changes(repo: Path, tmp: Path, reps: int) -> tuple[list[float], list[float]]:
    wt = tmp / "run"
    base = git.add_worktree(repo, wt, "corral/run-diff")
    edit_files(wt, random.Random(2).sample(range(FILES), TOUCHED), 5000)

    def ours(n):
        changes_module._counts.clear()  # cold: no line counts remembered from the last call
        assert len(git.changes(wt, base)) == TOUCHED

    def theirs(n):
        assert len(sh(wt, "diff", "--numstat", base).splitlines()) == TOUCHED

    return timed(ours, theirs, reps)


def bench_merge(repo: Path, tmp: Path, reps: int) -> tuple[list[float], list[float]]:
    wt = tmp / "merge"
    git.add_worktree(repo, wt, "corral/run-merge")
    rnd = random.Random(3)
    picks = rnd.sample(range(FILES), TOUCHED + TARGET_TOUCHED)
    edit_files(wt, picks[:TOUCHED], 6000)
    git.commit_all(wt, "the run's work")
    edit_files(repo, picks[TOUCHED:], 7000)
    sh(repo, "commit", "-q", "-am", "the user's work meanwhile")
    old = sh(repo, "rev-parse", "main").strip()

    def reset(n):
        sh(repo, "reset", "-q", "--hard", old)

    def ours(n):
        assert git.land(repo, "corral/run-merge", "main").how == "merge"

    def theirs(n):
        sh(repo, "merge", "-q", "--no-edit", "corral/run-merge")

    results = timed(ours, theirs, reps, reset)
    reset(0)
    return results


BENCHES = {"worktree add": bench_worktrees, "diff stats (200 files)": bench_changes,
           "merge (200 + 50 files)": bench_merge}


def main() -> None:
    global FILES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--files", type=int, default=FILES, help="files in the generated repository")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this directory")
    parser.add_argument("--profile", choices=list(BENCHES), help="cProfile one operation (both sides and its set-up)")
    parser.add_argument("--only", choices=list(BENCHES), action="append", help="time only this operation (repeatable)")
    args = parser.parse_args()
    FILES = args.files
    top = args.keep or Path(tempfile.mkdtemp(prefix="corral-bench-"))
    repo = top / "repo"
    started = time.perf_counter()
    if not (repo / ".git").exists():
        top.mkdir(parents=True, exist_ok=True)
        generate(repo)
    else:
        fresh(repo)
    print(f"repository: {FILES} files, {COMMITS} commits, made in {time.perf_counter() - started:.1f}s")
    rows = []
    try:
        for name, bench in BENCHES.items():
            if (args.profile and name != args.profile) or (args.only and name not in args.only):
                continue
            tmp = Path(tempfile.mkdtemp(prefix="wt-", dir=top))
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
            ours, theirs = bench(repo, tmp, args.reps)
            if args.profile:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            rows.append((name, ours, theirs))
            shutil.rmtree(tmp)
            fresh(repo)
    finally:
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)
    print(f"\n{'operation':<26}{'core.git':>10}{'git CLI':>10}{'ratio':>7}   {'cpu: core.git':>13}{'git CLI':>9}"
          f"{'ratio':>7}   (medians of {args.reps}; ratios: medians of each turn's ratio)")
    for name, ours, theirs in rows:
        wall, cpu = ([statistics.median(x[i] for x in side) for side in (ours, theirs)] for i in (0, 1))
        ratio, cpu_ratio = (statistics.median(a[i] / b[i] for a, b in zip(ours, theirs, strict=True)) for i in (0, 1))
        print(f"{name:<26}{wall[0] * 1000:>8.0f}ms{wall[1] * 1000:>8.0f}ms{ratio:>6.1f}x   {cpu[0] * 1000:>11.0f}ms"
              f"{cpu[1] * 1000:>7.0f}ms{cpu_ratio:>6.1f}x")
    print(f"\ntotal {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
