"""DVC data-versioning anchor: run INSIDE the DVC venv (bench/.venvs/dvc), prints one JSON object on stdout.

    DVC_PACKAGES = ["dvc==3.67.1", "dvc-s3==3.3.0"]

(the same list is the module constant ``DVC_PACKAGES`` below; this file imports only the standard library at
module level, so the caller may import it from the project's venv). dvc-s3 3.3.0 rather than 3.2.2: 3.2.2
gets boto3 through ``aiobotocore[boto3]``, an extra that aiobotocore 3.x dropped, so with today's resolution
3.2.2 installs without boto3 and DVC reports the s3 remote as unsupported; 3.3.0 needs no boto3.

Measures the ``dvc`` CLI of this venv, one subprocess per command as a user types them, on the folder that
``--source`` names (``small/``, ``small_changed/``, ``big.bin``, ``big_append.bin``, ``big_insert.bin``; sizes
are read, never assumed). Everything happens under ``--workdir``:

- ``empty/``: a fresh git + DVC repo for the fixed cost of a command (``dvc status``, median of 5);
- ``repo/``: the main repo, default cache type (``reflink,copy``: a copy on ext4). ``dvc add data/small``
  (the small files), ``dvc status`` with nothing changed (median of 3; ``dvc data status --granular`` too),
  re-add after one file changed, ``dvc add data/big.bin``, then the appended and the inserted versions of it,
  ``dvc checkout`` back to the first big version and to the first small version (``git checkout REV --
  FILE.dvc`` first, as DVC's docs show), push and pull of the small folder to a local remote and, with the
  ``--s3-*`` options, to S3. Every add is committed to git (untimed) so there are versions to go back to;
- ``repo-hardlink/``: a fresh repo with ``cache.type hardlink`` for the big add once more;
- ``remote/``: the local remote; ``dvc-home/``: DVC's global/system config and site cache (hash state and
  indexes), kept inside the workdir so nothing outside it is read or written and runs do not share state.

Only the ``dvc`` commands are timed (``time.perf_counter`` around the steps of ``subprocess.run``: Popen +
communicate, in a process group of its own so that a timeout ends all of it); copies into the workspace,
git commits, ``dvc remote add/modify`` and the size accounting are not. Byte counts are sums of ``st_size``
over regular files with each inode counted once (so hardlinked workspace files cost nothing extra).

Each phase is bounded by ``--max-seconds`` (everything in it, timed or not); a command still running then is
killed, and the phase is recorded in ``cut_short`` (one entry per phase that ran, true when cut) and in
``errors``. A failing command records its phase, command and stderr excerpt in ``errors`` and the run goes
on with the phases that do not need it; phases not run (``--skip-big``, no S3 options, or a phase they need
failed) are listed in ``skipped`` with the reason. Progress goes to stderr; the last stdout line is the JSON
object (see ``bench/_anchor.py``'s ``run_json``). Credentials for S3 reach DVC only through ``dvc remote
modify --local`` and are masked in every message; ``.dvc/config.local`` is deleted after the S3 phases.

Usage (from the repo root)::

    bench/.venvs/dvc/bin/python bench/anchors/dvc_data.py --source SRC --workdir WORK [--skip-big]
        [--s3-endpoint http://127.0.0.1:PORT --s3-bucket B --s3-access-key K --s3-secret-key S]
        [--max-seconds 600]
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DVC_PACKAGES = ["dvc==3.67.1", "dvc-s3==3.3.0"]

_EXCERPT_CHARS = 1500
_WORK_NAMES = ("empty", "repo", "repo-hardlink", "remote", "dvc-home")
_LOOPBACK_HOSTS = ("localhost", "::1")
Result = dict[str, Any]


def _log(message: str) -> None:
    print(f"[dvc-anchor] {message}", file=sys.stderr, flush=True)


class PhaseError(Exception):
    """A phase cannot go on: a command failed or the phase ran out of time."""

    def __init__(self, message: str, *, cut_short: bool = False) -> None:
        super().__init__(message)
        self.cut_short = cut_short


@dataclass(slots=True, kw_only=True)
class Context:
    """What every phase needs: the commands, their environment, the folders, and the current phase's deadline."""

    dvc: list[str]
    env: dict[str, str]
    source: Path
    workdir: Path
    max_seconds: float
    secrets: list[str] = field(default_factory=list)
    deadline: float = math.inf
    commits: dict[str, str] = field(default_factory=dict)  # label -> git sha in repo/
    small_expected: Path | None = None  # the source folder that data/small.dvc at HEAD holds

    @property
    def repo(self) -> Path:
        return self.workdir / "repo"

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def run(self, argv: list[str], cwd: Path) -> tuple[float, str]:
        """Run one command within the phase's deadline; return (seconds, stdout). Raises PhaseError."""
        shown = self.mask(" ".join(["dvc", *argv[len(self.dvc) :]] if argv[: len(self.dvc)] == self.dvc else argv))
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            raise PhaseError(f"cut short: no time left for `{shown}` (--max-seconds)", cut_short=True)
        os.sync()  # untimed: no command pays for the previous step's unwritten pages
        started = time.perf_counter()
        # subprocess.run's own steps (Popen + communicate), but in a process group of its own, so that a
        # timeout also ends whatever the command started.
        with subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=None if math.isinf(remaining) else remaining)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise PhaseError(
                    f"cut short: `{shown}` still running after {time.perf_counter() - started:.1f} s (--max-seconds)",
                    cut_short=True,
                ) from None
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            output = (stderr or "") + (stdout or "")
            raise PhaseError(f"`{shown}` exited with {process.returncode}: {self.mask(_excerpt(output))}")
        return seconds, stdout

    def dvc_timed(self, *args: str, cwd: Path | None = None) -> tuple[float, str]:
        return self.run([*self.dvc, *args], cwd or self.repo)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(["git", *args], cwd or self.repo)[1]


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill the command and everything in its process group, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def _excerpt(text: str) -> str:
    text = text.strip()
    if len(text) <= _EXCERPT_CHARS:
        return text
    half = _EXCERPT_CHARS // 2
    return f"{text[:half]} [...] {text[-half:]}"


# --- files and sizes ----------------------------------------------------------------------------------------


def _regular_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for folder, _dirs, files in os.walk(root):
        for name in files:
            yield Path(folder, name)


def disk_usage(paths: Iterable[Path]) -> tuple[int, int]:
    """(bytes, files) of the regular files under ``paths``, each inode counted once (like ``du``, by st_size)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root in paths:
        if not root.exists():
            continue
        for path in _regular_files(root):
            st = path.lstat()
            key = (st.st_dev, st.st_ino)
            if not path.is_symlink() and key not in seen:
                seen.add(key)
                total += st.st_size
    return total, len(seen)


def _cache(repo: Path) -> Path:
    return repo / ".dvc" / "cache"


def _manifests(repo: Path) -> dict[Path, int]:
    """The ``.dir`` manifest objects in the cache and their sizes."""
    root = _cache(repo) / "files" / "md5"
    return {p: p.stat().st_size for p in root.rglob("*.dir")} if root.exists() else {}


def _relative_files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in _regular_files(root)}


def _same_tree(left: Path, right: Path) -> bool:
    """Whether two folders hold the same relative paths with the same bytes."""
    a, b = _relative_files(left), _relative_files(right)
    return a.keys() == b.keys() and all(filecmp.cmp(a[k], b[k], shallow=False) for k in a)


def _sync_tree(source: Path, target: Path) -> int:
    """Make ``target`` hold what ``source`` holds, touching only files that differ; return how many did.

    Files are replaced (unlink, then copy), never written through, so a hardlinked cache object stays intact.
    """
    wanted, present = _relative_files(source), _relative_files(target)
    changed = 0
    for rel, path in wanted.items():
        here = present.get(rel)
        if here is not None and filecmp.cmp(path, here, shallow=False):
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)
        shutil.copyfile(path, dest)
        changed += 1
    for rel in present.keys() - wanted.keys():
        (target / rel).unlink()
        changed += 1
    return changed


def _replace_file(source: Path, dest: Path) -> None:
    """Put a new version in the workspace the way a user's tool writes a fresh file (no write-through)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    shutil.copyfile(source, dest)


def _link_kind(workspace_file: Path) -> str:
    """How the workspace file relates to the cache: 'symlink', 'hardlink', or 'copy' (or reflink: same to us)."""
    if workspace_file.is_symlink():
        return "symlink"
    st = workspace_file.stat()
    if st.st_nlink > 1:
        return "hardlink"
    return "copy"


def _filesystem(path: Path) -> str:
    """The type of the filesystem holding ``path`` (longest matching mount point in /proc/self/mounts)."""
    best, kind = "", "unknown"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or len(parts[1]) <= len(best):
            continue
        if resolved == parts[1] or resolved.startswith(parts[1].rstrip("/") + "/"):
            best, kind = parts[1], parts[2]
    return kind


def read_sizes(source: Path, *, skip_big: bool) -> Result:
    small = list(_regular_files(source / "small"))
    out: Result = {"small_files": len(small), "small_bytes": sum(p.stat().st_size for p in small)}
    for name in ("big", "big_append", "big_insert"):
        path = source / f"{name}.bin"
        out[f"{name}_bytes"] = path.stat().st_size if path.is_file() and not skip_big else None
    return out


# --- repos ---------------------------------------------------------------------------------------------------


def new_repo(ctx: Context, path: Path, *, cache_type: str | None = None) -> None:
    """A fresh git repo with ``dvc init``, analytics, update checks and autostage off; committed. Untimed."""
    path.mkdir(parents=True)
    ctx.git("init", "-q", "-b", "main", cwd=path)
    ctx.dvc_timed("init", "-q", cwd=path)
    settings = [("core.analytics", "false"), ("core.autostage", "false"), ("core.check_update", "false")]
    if cache_type:
        settings.append(("cache.type", cache_type))
    for key, value in settings:
        ctx.dvc_timed("config", key, value, cwd=path)
    ctx.git("add", "-A", cwd=path)
    ctx.git("commit", "-q", "-m", "dvc init", cwd=path)


def commit(ctx: Context, label: str, *paths: str) -> str:
    """git add + commit the given paths in repo/; remember and return the sha."""
    ctx.git("add", *paths)
    ctx.git("commit", "-q", "-m", label)
    sha = ctx.git("rev-parse", "HEAD").strip()
    ctx.commits[label] = sha
    return sha


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _repeat(ctx: Context, count: int, *args: str, cwd: Path | None = None) -> tuple[list[float], str]:
    samples: list[float] = []
    output = ""
    for _ in range(count):
        seconds, output = ctx.dvc_timed(*args, cwd=cwd)
        samples.append(seconds)
    return samples, output


# --- phases: each fills ``res`` as it goes (so a failure keeps what was measured) and raises PhaseError ----


def phase_fixed_cost(ctx: Context, res: Result) -> None:
    empty = ctx.workdir / "empty"
    new_repo(ctx, empty)
    samples, output = _repeat(ctx, 5, "status", cwd=empty)
    res |= {"fixed_cost_s": _median(samples), "fixed_cost_samples_s": samples, "fixed_cost_output": output.strip()}
    samples, _ = _repeat(ctx, 5, "--version", cwd=empty)
    res |= {"version_cmd_s": _median(samples), "version_cmd_samples_s": samples}
    _log(f"fixed cost: dvc status {res['fixed_cost_s']:.2f} s, dvc --version {res['version_cmd_s']:.2f} s")


def phase_add_small(ctx: Context, res: Result) -> None:
    new_repo(ctx, ctx.repo)
    shutil.copytree(ctx.source / "small", ctx.repo / "data" / "small")
    seconds, _ = ctx.dvc_timed("add", "data/small")
    res["add_small_s"] = seconds
    objects_root = _cache(ctx.repo) / "files" / "md5"
    res["add_small_objects"] = sum(1 for _ in _regular_files(objects_root))
    res["add_small_manifest_bytes"] = sum(_manifests(ctx.repo).values())
    res["add_small_cache_bytes"] = disk_usage([_cache(ctx.repo)])[0]
    commit(ctx, "small v1", "data/small.dvc", "data/.gitignore")
    ctx.small_expected = ctx.source / "small"
    _log(f"add small: {seconds:.2f} s, {res['add_small_objects']} objects")


def phase_status_noop(ctx: Context, res: Result) -> None:
    samples, output = _repeat(ctx, 3, "status")
    res |= {
        "status_noop_small_s": _median(samples),
        "status_noop_small_samples_s": samples,
        "status_noop_small_output": output.strip(),
    }
    samples, output = _repeat(ctx, 3, "data", "status", "--granular")
    res |= {
        "data_status_noop_small_s": _median(samples),
        "data_status_noop_small_samples_s": samples,
        "data_status_noop_small_output": _excerpt(output),
    }
    _log(
        f"status (no-op): dvc status {res['status_noop_small_s']:.2f} s, "
        f"dvc data status --granular {res['data_status_noop_small_s']:.2f} s"
    )


def phase_readd_one_changed(ctx: Context, res: Result) -> None:
    changed = _sync_tree(ctx.source / "small_changed", ctx.repo / "data" / "small")
    res["readd_changed_files"] = changed
    before_bytes, before_files = disk_usage([_cache(ctx.repo)])
    manifests_before = _manifests(ctx.repo)
    seconds, _ = ctx.dvc_timed("add", "data/small")
    after_bytes, after_files = disk_usage([_cache(ctx.repo)])
    new_manifests = {p: n for p, n in _manifests(ctx.repo).items() if p not in manifests_before}
    res |= {
        "readd_one_changed_s": seconds,
        "readd_one_changed_new_bytes": after_bytes - before_bytes,
        "readd_one_changed_new_objects": after_files - before_files,
        "readd_one_changed_manifest_bytes": sum(new_manifests.values()),
    }
    commit(ctx, "small v2", "data/small.dvc")
    ctx.small_expected = ctx.source / "small_changed"
    _log(f"re-add ({changed} file changed): {seconds:.2f} s, cache +{res['readd_one_changed_new_bytes']:,} bytes")


def _add_big(ctx: Context, repo: Path, source: Path) -> tuple[float, int, int, str]:
    """Copy ``source`` to data/big.bin (untimed), time ``dvc add``; return (s, cache growth, disk growth, link)."""
    target = repo / "data" / "big.bin"
    _replace_file(source, target)
    before = disk_usage([_cache(repo)])[0]
    seconds, _ = ctx.dvc_timed("add", "data/big.bin", cwd=repo)
    cache_growth = disk_usage([_cache(repo)])[0] - before
    disk_growth = disk_usage([_cache(repo), target])[0] - before
    return seconds, cache_growth, disk_growth, _link_kind(target)


def phase_add_big(ctx: Context, res: Result) -> None:
    seconds, cache_bytes, disk_bytes, link = _add_big(ctx, ctx.repo, ctx.source / "big.bin")
    res |= {
        "add_big_s": seconds,
        "add_big_cache_bytes": cache_bytes,
        "add_big_disk_bytes": disk_bytes,
        "add_big_link": link,
    }
    commit(ctx, "big v1", "data/big.bin.dvc", "data/.gitignore")
    _log(f"add big ({link}): {seconds:.2f} s, cache +{cache_bytes:,}, disk +{disk_bytes:,} bytes")


def phase_add_big_hardlink(ctx: Context, res: Result) -> None:
    repo = ctx.workdir / "repo-hardlink"
    new_repo(ctx, repo, cache_type="hardlink")
    try:
        seconds, cache_bytes, disk_bytes, link = _add_big(ctx, repo, ctx.source / "big.bin")
        res |= {
            "add_big_hardlink_s": seconds,
            "add_big_hardlink_cache_bytes": cache_bytes,
            "add_big_hardlink_disk_bytes": disk_bytes,
            "add_big_hardlink_link": link,
        }
        _log(f"add big ({link}): {seconds:.2f} s, cache +{cache_bytes:,}, disk +{disk_bytes:,} bytes")
    finally:
        shutil.rmtree(repo, ignore_errors=True)  # frees its copy of the big file


def _add_version(ctx: Context, res: Result, name: str, label: str) -> None:
    source = ctx.source / f"big_{name}.bin"
    seconds, cache_bytes, _disk, _link = _add_big(ctx, ctx.repo, source)
    size = source.stat().st_size
    res |= {f"add_{name}_s": seconds, f"{name}_new_bytes": cache_bytes, f"{name}_new_share": cache_bytes / size}
    commit(ctx, label, "data/big.bin.dvc")
    _log(f"add big, {name}ed: {seconds:.2f} s, cache +{cache_bytes:,} bytes = {cache_bytes / size:.1%} of the file")


def phase_append(ctx: Context, res: Result) -> None:
    _add_version(ctx, res, "append", "big append")


def phase_insert(ctx: Context, res: Result) -> None:
    _add_version(ctx, res, "insert", "big insert")


def phase_checkout_previous(ctx: Context, res: Result) -> None:
    ctx.git("checkout", ctx.commits["big v1"], "--", "data/big.bin.dvc")
    seconds, output = ctx.dvc_timed("checkout", "data/big.bin")
    target = ctx.repo / "data" / "big.bin"
    res |= {
        "checkout_previous_s": seconds,
        "checkout_previous_output": _excerpt(output),
        "checkout_previous_restored_bytes": target.stat().st_size,
        "checkout_previous_matches_source": filecmp.cmp(target, ctx.source / "big.bin", shallow=False),
    }
    ctx.git("checkout", "HEAD", "--", "data/big.bin.dvc")  # the .dvc file back; the workspace keeps v1
    _log(f"checkout big v1: {seconds:.2f} s ({output.strip() or 'no output'})")


def phase_checkout_small_previous(ctx: Context, res: Result) -> None:
    ctx.git("checkout", ctx.commits["small v1"], "--", "data/small.dvc")
    seconds, output = ctx.dvc_timed("checkout", "data/small")
    res |= {
        "checkout_small_previous_s": seconds,
        "checkout_small_previous_output": _excerpt(output),
        "checkout_small_previous_matches_source": _same_tree(ctx.repo / "data" / "small", ctx.source / "small"),
    }
    _log(f"checkout small v1: {seconds:.2f} s ({output.strip() or 'no output'})")
    ctx.git("checkout", "HEAD", "--", "data/small.dvc")
    seconds, output = ctx.dvc_timed("checkout", "data/small")
    res |= {"checkout_small_latest_s": seconds, "checkout_small_latest_output": _excerpt(output)}


def _push(ctx: Context, res: Result, prefix: str, remote: str) -> None:
    seconds, output = ctx.dvc_timed("push", "-r", remote, "data/small.dvc")
    res |= {f"push_small_{prefix}_s": seconds, f"push_small_{prefix}_output": _excerpt(output)}
    _log(f"push small to {prefix}: {seconds:.2f} s ({output.strip()})")


def _pull(ctx: Context, res: Result, prefix: str, remote: str) -> None:
    shutil.rmtree(_cache(ctx.repo))
    shutil.rmtree(ctx.repo / "data" / "small")
    seconds, output = ctx.dvc_timed("pull", "-r", remote, "data/small.dvc")
    pulled = ctx.repo / "data" / "small"
    res |= {
        f"pull_small_{prefix}_s": seconds,
        f"pull_small_{prefix}_output": _excerpt(output),
        f"pull_small_{prefix}_files": sum(1 for _ in _regular_files(pulled)),
        f"pull_small_{prefix}_matches_source": ctx.small_expected is not None
        and _same_tree(pulled, ctx.small_expected),
    }
    _log(f"pull small from {prefix}: {seconds:.2f} s ({output.strip()})")


def phase_push_local(ctx: Context, res: Result) -> None:
    remote = ctx.workdir / "remote"
    ctx.dvc_timed("remote", "add", "-d", "local", str(remote))
    _push(ctx, res, "local", "local")
    res["push_small_local_objects"], res["push_small_local_bytes"] = disk_usage([remote])[::-1]


def phase_pull_local(ctx: Context, res: Result) -> None:
    _pull(ctx, res, "local", "local")


def _s3_fs(args: argparse.Namespace) -> Any:
    import s3fs  # in the DVC venv through dvc-s3

    return s3fs.S3FileSystem(key=args.s3_access_key, secret=args.s3_secret_key, endpoint_url=args.s3_endpoint)


def phase_push_s3(ctx: Context, res: Result, args: argparse.Namespace) -> None:
    host = urlsplit(args.s3_endpoint).hostname or ""
    if not (host.startswith("127.") or host in _LOOPBACK_HOSTS):
        raise PhaseError(f"the S3 endpoint must be on loopback, not {host!r}")
    prefix = f"dvc-bench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"  # fresh: nothing there to skip
    url = f"s3://{args.s3_bucket}/{prefix}"
    res["s3_url"] = url
    ctx.dvc_timed("remote", "add", "s3", url)
    for key, value in (
        ("endpointurl", args.s3_endpoint),
        ("access_key_id", args.s3_access_key),
        ("secret_access_key", args.s3_secret_key),
    ):
        ctx.dvc_timed("remote", "modify", "--local", "s3", key, value)
    _push(ctx, res, "s3", "s3")
    try:
        found = _s3_fs(args).find(f"{args.s3_bucket}/{prefix}", detail=True)
    except Exception as exc:  # counting is a check, not a figure: keep the push time
        raise PhaseError(f"pushed, but listing {url} failed: {ctx.mask(f'{type(exc).__name__}: {exc}')}") from None
    res["push_small_s3_objects"] = len(found)
    res["push_small_s3_bytes"] = sum(int(info.get("size", 0)) for info in found.values())


def phase_pull_s3(ctx: Context, res: Result) -> None:
    _pull(ctx, res, "s3", "s3")


# --- the run --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    run: Callable[[Context, Result], None]
    needs: tuple[str, ...] = ()
    big: bool = False  # skipped with --skip-big
    s3: bool = False  # runs only with the --s3-* options


def phases(args: argparse.Namespace) -> list[Phase]:
    return [
        Phase("fixed_cost", phase_fixed_cost),
        Phase("add_small", phase_add_small),
        Phase("status_noop_small", phase_status_noop, ("add_small",)),
        Phase("readd_one_changed", phase_readd_one_changed, ("add_small",)),
        Phase("add_big", phase_add_big, ("add_small",), big=True),
        Phase("add_big_hardlink", phase_add_big_hardlink, big=True),
        Phase("append", phase_append, ("add_big",), big=True),
        Phase("insert", phase_insert, ("add_big",), big=True),
        Phase("checkout_previous", phase_checkout_previous, ("add_big", "insert"), big=True),
        Phase("checkout_small_previous", phase_checkout_small_previous, ("readd_one_changed",)),
        Phase("push_small_local", phase_push_local, ("add_small",)),
        Phase("pull_small_local", phase_pull_local, ("push_small_local",)),
        Phase("push_small_s3", lambda ctx, res: phase_push_s3(ctx, res, args), ("add_small",), s3=True),
        Phase("pull_small_s3", phase_pull_s3, ("push_small_s3",), s3=True),
    ]


@dataclass(slots=True)
class Report:
    out: Result
    errors: dict[str, str] = field(default_factory=dict)
    cut_short: dict[str, bool] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    phase_s: dict[str, float] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def finish(self, started: float) -> None:
        """Record how the phases went and print the report as the last stdout line."""
        self.out |= {
            "cut_short": self.cut_short,
            "skipped": self.skipped,
            "errors": self.errors,
            "phase_s": self.phase_s,
            "total_s": time.perf_counter() - started,
        }
        print(json.dumps(self.out))

    def run(self, ctx: Context, phase: Phase) -> None:
        missing = [need for need in phase.needs if need not in self.done]
        if missing:
            self.skipped[phase.name] = f"needs {', '.join(missing)}"
            _log(f"{phase.name}: skipped (needs {', '.join(missing)})")
            return
        _log(f"{phase.name} ...")
        started = time.perf_counter()
        ctx.deadline = started + ctx.max_seconds
        cut = False
        try:
            phase.run(ctx, self.out)
            self.done.add(phase.name)
        except PhaseError as exc:
            cut = exc.cut_short
            self.errors[phase.name] = str(exc)
        except Exception as exc:  # a bug or an OS error: report it and go on with the other phases
            self.errors[phase.name] = ctx.mask(f"{type(exc).__name__}: {exc}\n{_excerpt(traceback.format_exc())}")
        finally:
            ctx.deadline = math.inf
            self.cut_short[phase.name] = cut
            self.phase_s[phase.name] = time.perf_counter() - started
        if phase.name in self.errors:
            _log(f"{phase.name}: FAILED: {self.errors[phase.name][:300]}")


def _s3_given(args: argparse.Namespace) -> bool:
    return all((args.s3_endpoint, args.s3_bucket, args.s3_access_key, args.s3_secret_key))


def _dvc_command() -> list[str]:
    beside = Path(sys.executable).parent / "dvc"
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "dvc"]


def _environment(workdir: Path) -> dict[str, str]:
    home = workdir / "dvc-home"
    gitconfig = home / "gitconfig"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig.write_text("[user]\n\tname = bench\n\temail = bench@localhost\n[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DVC_", "GIT_"))}
    return env | {
        "DVC_NO_ANALYTICS": "1",
        "DVC_STUDIO_OFFLINE": "1",
        "DVC_GLOBAL_CONFIG_DIR": str(home / "global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / "system"),
        "DVC_SITE_CACHE_DIR": str(home / "site-cache"),
        "GIT_CONFIG_GLOBAL": str(gitconfig),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, required=True, help="folder with small/, big*.bin, small_changed/")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder (emptied of earlier runs)")
    parser.add_argument("--s3-endpoint", help="e.g. http://127.0.0.1:8333 (loopback only)")
    parser.add_argument("--s3-bucket")
    parser.add_argument("--s3-access-key")
    parser.add_argument("--s3-secret-key")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time bound of each phase")
    parser.add_argument("--skip-big", action="store_true", help="skip the phases on the big file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    source, workdir = args.source.resolve(), args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    for name in _WORK_NAMES:  # only what an earlier run of this script wrote
        shutil.rmtree(workdir / name, ignore_errors=True)
    ctx = Context(
        dvc=_dvc_command(),
        env=_environment(workdir),
        source=source,
        workdir=workdir,
        max_seconds=args.max_seconds,
        secrets=[s for s in (args.s3_access_key, args.s3_secret_key) if s],
    )
    report = Report(out={"tool": "dvc", "python": platform.python_version()})
    try:
        report.out["version"] = ctx.dvc_timed("--version", cwd=workdir)[1].strip()
        report.out |= read_sizes(source, skip_big=args.skip_big)
        report.out |= {"filesystem": _filesystem(workdir), "status_command": "dvc status", "cpus": os.cpu_count()}
        report.out["dvc_packages"] = DVC_PACKAGES
        _log(f"dvc {report.out['version']}: {report.out['small_files']:,} small files, big {report.out['big_bytes']}")
        for phase in phases(args):
            if phase.big and args.skip_big:
                report.skipped[phase.name] = "--skip-big"
            elif phase.s3 and not _s3_given(args):
                report.skipped[phase.name] = "no --s3-* options"
            else:
                report.run(ctx, phase)
    except Exception as exc:  # setup failed (no dvc, no source): still print a JSON object
        report.errors["setup"] = ctx.mask(f"{type(exc).__name__}: {exc}")
        _log(f"setup FAILED: {report.errors['setup']}")
    finally:
        (ctx.repo / ".dvc" / "config.local").unlink(missing_ok=True)  # the S3 credentials
    report.out["commits"] = ctx.commits
    report.finish(started)


if __name__ == "__main__":
    main()
