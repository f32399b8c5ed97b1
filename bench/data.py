"""Data-versioning benchmark: modelyard's dataset registry against DVC 3.67, same work and run.

Work (full size): a folder of 20,000 files of 2 KiB in 100 subfolders, the same folder with one file changed, a
1 GiB random file, the same with 1% appended and with 100 bytes inserted mid-file. This script generates that
source folder once (seeded, deterministic: ``bench/.work/data-source/<sizes>/``, reused while its sizes match),
starts a SeaweedFS S3 server on loopback (``tests/fixtures/s3.py``) for the push/pull phases of both tools, runs
DVC in its own venv (``bench/.venvs/dvc``, created on first use) through ``bench/anchors/dvc_data.py``, then
modelyard in this interpreter on the same files, and prints each figure for both tools, the ratio modelyard /
DVC and the goal from ``shared/BENCHMARKS.md`` ("Data versioning and pipelines").

modelyard's side: an embedded home folder (SQLite + local blobs) per group of phases; commits, status, checkout
and push/pull are timed in-process around the API call, the CLI figures (fixed cost, status) as subprocesses.
DVC's ``dvc pull`` fetches and checks the files out into the workspace, so modelyard's pull figure is the pull
into a fresh home plus the checkout of the 20,000 files (both parts are shown below the table). Files of the
working copies get an mtime one hour in the past before the first commit, as files on a real disk have
(modelyard re-hashes files written just before a scan: git's "racy clean" rule). Every timed step, on both
sides, starts after an untimed ``os.sync()``, so no step pays for the pages an earlier step (or the other tool)
left unwritten: DVC does not fsync what it adds, and its gigabytes of dirty pages would otherwise be flushed
during modelyard's phases.

Every phase is bounded by ``--max-seconds`` (the DVC anchor bounds its phases the same way); a phase cut short
is reported with what it measured so far. ``--skip-big`` leaves out the phases on the big file.

Usage (from the repo root, with the project's venv)::

    .venv/bin/python bench/data.py                  # full size: ~3 min for DVC, about a minute for modelyard
    .venv/bin/python bench/data.py --quick          # smoke run: 2,000 files, 64 MiB, well under 2 minutes
    .venv/bin/python bench/data.py --only dvc       # the anchor alone (cached: bench/.work/dvc.json)
    .venv/bin/python bench/data.py --skip-dvc       # modelyard alone, DVC figures from that cache
    .venv/bin/python bench/data.py --skip-big --no-s3 --json results.json
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import hashlib
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
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from _anchor import BENCH_DIR, WORK_DIR, ensure_venv, run_json, write_report
from anchors.dvc_data import DVC_PACKAGES
from rich.console import Console
from rich.markup import escape
from rich.table import Table

REPO_ROOT = BENCH_DIR.parent
ANCHOR_SCRIPT = BENCH_DIR / "anchors" / "dvc_data.py"
DVC_CACHE = WORK_DIR / "dvc.json"
SOURCE_ROOT = WORK_DIR / "data-source"
MODELYARD_CLI = Path(sys.executable).parent / "modelyard"
SEED = "modelyard-bench-data/1"  # change it to get other bytes; the source folder is regenerated
S3_BUCKET = "bench-data"
_AGE_S = 3600.0  # working files are this old, as data files on a disk are
_PIECE = 16 * 1024 * 1024
KiB, MiB, GiB = 1024, 1024 * 1024, 1024 * 1024 * 1024

out = Console(width=None if sys.stdout.isatty() else 160)  # a file or pipe gets the whole table, unwrapped
err = Console(stderr=True, soft_wrap=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """The work of one benchmark run."""

    small_files: int
    small_dirs: int
    small_file_bytes: int
    big_bytes: int
    max_seconds: float  # time bound of each phase
    skip_big: bool = False

    @property
    def label(self) -> str:
        """The name of the source folder for these sizes."""
        return f"{self.small_files}x{self.small_file_bytes}-{self.big_bytes // MiB}MiB"


FULL = Sizes(small_files=20_000, small_dirs=100, small_file_bytes=2 * KiB, big_bytes=GiB, max_seconds=600)
QUICK = Sizes(small_files=2_000, small_dirs=100, small_file_bytes=2 * KiB, big_bytes=64 * MiB, max_seconds=60)


def _log(message: str) -> None:
    err.print(f"[dim]\\[bench][/dim] {message}", highlight=False)


# --- the source folder (both tools read it; deterministic) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    root: Path
    changed: str  # the relative path (inside small/) of the one file that differs in small_changed/


def _stream(label: str, length: int, offset: int = 0) -> bytes:
    """``length`` bytes of a seeded pseudo-random stream named ``label``, from ``offset`` (blake3 XOF)."""
    import blake3

    return blake3.blake3(f"{SEED}/{label}".encode()).digest(length=length, seek=offset)


def _small_relpath(sizes: Sizes, n: int) -> str:
    return f"d{n * sizes.small_dirs // sizes.small_files:02d}/f{n:05d}.bin"


def _changed_relpath(sizes: Sizes) -> str:
    return _small_relpath(sizes, sizes.small_files * 37 // 100)


def _files_ok(folder: Path, count: int, size: int) -> bool:
    found = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            if os.stat(os.path.join(base, name)).st_size != size:
                return False
            found += 1
    return found == count


def _big_sizes(sizes: Sizes) -> dict[str, int]:
    big = sizes.big_bytes
    return {"big.bin": big, "big_append.bin": big + big // 100, "big_insert.bin": big + 100}


def _write_small(sizes: Sizes, root: Path) -> None:
    small, changed = root / "small", root / "small_changed"
    for folder in (small, changed):
        shutil.rmtree(folder, ignore_errors=True)
    size = sizes.small_file_bytes
    data = _stream("small", sizes.small_files * size)
    for n in range(sizes.small_files):
        path = small / _small_relpath(sizes, n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[n * size : (n + 1) * size])
    shutil.copytree(small, changed)
    target = changed / _changed_relpath(sizes)
    target.unlink()
    target.write_bytes(_stream("small-changed", size))


def _write_big(sizes: Sizes, root: Path) -> None:
    big, append, insert = (root / name for name in _big_sizes(sizes))
    size = sizes.big_bytes
    with big.open("wb") as handle:
        for offset in range(0, size, _PIECE):
            handle.write(_stream("big", min(_PIECE, size - offset), offset))
    shutil.copyfile(big, append)
    with append.open("ab") as handle:
        handle.write(_stream("big-append", size // 100))
    half = size // 2
    with big.open("rb") as src, insert.open("wb") as dst:
        remaining = half
        while remaining:
            piece = src.read(min(_PIECE, remaining))
            dst.write(piece)
            remaining -= len(piece)
        dst.write(_stream("big-insert", 100))
        shutil.copyfileobj(src, dst, _PIECE)


def ensure_source(sizes: Sizes) -> Source:
    """Generate the source folder for ``sizes`` (or reuse it when its spec and file sizes match)."""
    root = SOURCE_ROOT / sizes.label
    spec_path = root / "source.json"
    small_spec = {
        "seed": SEED,
        "small_files": sizes.small_files,
        "small_dirs": sizes.small_dirs,
        "small_file_bytes": sizes.small_file_bytes,
        "changed": _changed_relpath(sizes),
    }
    try:
        spec = json.loads(spec_path.read_text())
    except (OSError, ValueError):
        spec = {}
    started = time.perf_counter()
    small_ok = {k: spec.get(k) for k in small_spec} == small_spec and all(
        _files_ok(root / name, sizes.small_files, sizes.small_file_bytes) for name in ("small", "small_changed")
    )
    if not small_ok:
        _log(f"generating {sizes.small_files:,} small files in {root} (seeded; once)")
        root.mkdir(parents=True, exist_ok=True)
        spec_path.unlink(missing_ok=True)
        spec = {}
        _write_small(sizes, root)
        spec = dict(small_spec)
        spec_path.write_text(json.dumps(spec, indent=1))
    if not sizes.skip_big:
        big_ok = spec.get("big_bytes") == sizes.big_bytes and all(
            (root / name).is_file() and (root / name).stat().st_size == n for name, n in _big_sizes(sizes).items()
        )
        if not big_ok:
            _log(f"generating big.bin ({sizes.big_bytes / GiB:.3g} GiB) and its two variants in {root} (once)")
            spec.pop("big_bytes", None)
            spec_path.write_text(json.dumps(spec, indent=1))
            _write_big(sizes, root)
            spec["big_bytes"] = sizes.big_bytes
            spec_path.write_text(json.dumps(spec, indent=1))
    if time.perf_counter() - started > 1:
        _log(f"source ready in {time.perf_counter() - started:.1f} s")
    return Source(root=root, changed=_changed_relpath(sizes))


# --- S3 (SeaweedFS on loopback, shared by both tools) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class S3:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    server: Any  # tests.fixtures.s3.S3Server


@contextlib.contextmanager
def s3_server(folder: Path, enabled: bool) -> Iterator[S3 | str]:
    """A running SeaweedFS with an empty bucket, or the reason there is none; always stopped on exit."""
    if not enabled:
        yield "--no-s3"
        return
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        from tests.fixtures.s3 import _start, _stop
    except Exception as exc:  # pytest or boto3 missing: benchmark without S3
        yield f"cannot import the SeaweedFS launcher: {type(exc).__name__}: {exc}"
        return
    shutil.rmtree(folder, ignore_errors=True)
    failures: list[str] = []
    started: Any = None
    for attempt in range(2):  # a second try covers a port grabbed between pick and bind
        try:
            started = _start(folder / f"try-{attempt}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the launcher uses pytest.fail (a BaseException) when `weed` is missing
            started = f"{type(exc).__name__}: {exc}"
        if not isinstance(started, str):
            break
        failures.append(started)
    if isinstance(started, str) or started is None:
        _log("[yellow]SeaweedFS did not start; S3 phases skipped[/yellow]:\n" + escape("\n".join(failures)))
        yield "SeaweedFS did not start: " + (failures[-1].splitlines()[0] if failures else "?")
        return
    server, process, ports = started
    try:
        client = server.client()
        try:
            client.create_bucket(Bucket=S3_BUCKET)
        finally:
            client.close()
        _log(f"SeaweedFS S3 at {server.endpoint_url}, bucket {S3_BUCKET}")
        yield S3(server.endpoint_url, S3_BUCKET, server.access_key, server.secret_key, server)
    finally:
        _stop(process, ports)
        _log("SeaweedFS stopped")


def _s3_objects(s3: S3, prefix: str) -> tuple[int, int]:
    """(objects, bytes) under ``prefix`` in the bucket."""
    client = s3.server.client()
    try:
        count = size = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                count += 1
                size += int(item.get("Size", 0))
        return count, size
    finally:
        client.close()


# --- DVC ------------------------------------------------------------------------------------------------------


def run_dvc(sizes: Sizes, source: Source, workdir: Path, s3: S3 | str) -> dict[str, Any]:
    """Ensure the DVC venv, run the anchor script there, cache and return its figures."""
    started = time.perf_counter()
    python = ensure_venv("dvc", DVC_PACKAGES)
    venv_s = time.perf_counter() - started
    args = [f"--source={source.root}", f"--workdir={workdir}", f"--max-seconds={sizes.max_seconds}"]
    if sizes.skip_big:
        args.append("--skip-big")
    shown = list(args)
    if isinstance(s3, S3):
        args += [
            f"--s3-endpoint={s3.endpoint}",
            f"--s3-bucket={s3.bucket}",
            f"--s3-access-key={s3.access_key}",
            f"--s3-secret-key={s3.secret_key}",
        ]
        shown += [f"--s3-endpoint={s3.endpoint}", f"--s3-bucket={s3.bucket}", "--s3-access-key=***", "..."]
    _log(f"DVC anchor: {python} {ANCHOR_SCRIPT.name} {' '.join(shown)}")
    try:
        result = run_json(python, ANCHOR_SCRIPT, args, timeout_s=16 * sizes.max_seconds + 600)
    except RuntimeError as exc:  # the message holds the command line: mask the secret
        message = str(exc).replace(s3.secret_key, "***") if isinstance(s3, S3) else str(exc)
        raise RuntimeError(message) from None
    result |= {
        "venv_ready_s": venv_s,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sizes": asdict(sizes),
        "s3": isinstance(s3, S3),
    }
    DVC_CACHE.parent.mkdir(parents=True, exist_ok=True)
    DVC_CACHE.write_text(json.dumps(result, indent=1))
    return result


def cached_dvc(sizes: Sizes) -> dict[str, Any] | None:
    """The last DVC result, if any; warns when it was measured at other sizes."""
    try:
        result: dict[str, Any] = json.loads(DVC_CACHE.read_text())
    except (OSError, ValueError):
        _log(f"no cached DVC result in {DVC_CACHE}: showing modelyard alone")
        return None
    wanted = {
        "small_files": sizes.small_files,
        "small_bytes": sizes.small_files * sizes.small_file_bytes,
        "big_bytes": None if sizes.skip_big else sizes.big_bytes,
    }
    differs = {k: (result.get(k), v) for k, v in wanted.items() if result.get(k) != v}
    if differs:
        _log(f"[yellow]cached DVC result was measured at other sizes (cached, now): {escape(str(differs))}[/yellow]")
    _log(f"DVC figures from {DVC_CACHE} (measured {result.get('measured_at', '?')})")
    result["cached"] = True
    return result


# --- modelyard: phases ----------------------------------------------------------------------------------------


class PhaseTimeout(BaseException):
    """Raised by the phase's alarm at --max-seconds (a BaseException, so no ``except Exception`` swallows it)."""


class PhaseError(Exception):
    """A phase cannot go on (a command failed, a result is wrong)."""


@dataclass(slots=True, kw_only=True)
class Context:
    sizes: Sizes
    source: Source
    workdir: Path
    s3: S3 | str
    s3_prefix: str = ""
    deadline: float = math.inf

    def path(self, name: str) -> Path:
        return self.workdir / name

    def remaining(self) -> float:
        return self.deadline - time.perf_counter()


def _client(home: Path | str, artifacts: str | None = None) -> Any:
    from modelyard.client import Client

    return Client(str(home), artifacts=artifacts)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    os.sync()  # untimed: no phase pays for the previous phase's (or the other tool's) unwritten pages
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "AWS_"))}


def _cli(ctx: Context, *args: str) -> tuple[float, str]:
    """Run ``modelyard ARGS`` as a user types it (cwd: the workdir, no MODELYARD_* env); (seconds, stdout)."""
    command = [str(MODELYARD_CLI), *args]
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=ctx.workdir,
        env=_cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=max(ctx.remaining(), 0.1) if math.isfinite(ctx.deadline) else None,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise PhaseError(f"`modelyard {' '.join(args)}` exited with {done.returncode}: {done.stderr[-1500:]}")
    return seconds, done.stdout


def _age(folder: Path) -> None:
    """Give every file under ``folder`` an mtime one hour in the past."""
    past = time.time() - _AGE_S
    for base, _dirs, files in os.walk(folder):
        for name in files:
            os.utime(os.path.join(base, name), (past, past))


def _objects(home: Path) -> int:
    root = home / "blobs" / "objects"
    return sum(len(files) for _base, _dirs, files in os.walk(root)) if root.exists() else 0


def _tree_bytes(root: Path) -> int:
    if root.is_file():
        return root.stat().st_size
    total = 0
    for base, _dirs, files in os.walk(root):
        total += sum(os.lstat(os.path.join(base, name)).st_size for name in files)
    return total


def _same_tree(left: Path, right: Path) -> bool:
    def files(root: Path) -> dict[str, Path]:
        return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}

    a, b = files(left), files(right)
    return a.keys() == b.keys() and all(filecmp.cmp(a[k], b[k], shallow=False) for k in a)


def _replace_file(source: Path, dest: Path) -> None:
    """A new version of a file, written the way tools write one (unlink, then a fresh file), as DVC's side does."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    shutil.copyfile(source, dest)


def phase_fixed_cost(ctx: Context, res: dict[str, Any]) -> None:
    home = ctx.path("empty-home")
    _client(home).close()  # an initialised, empty home (like DVC's `dvc init`ed empty repo)
    samples = [_cli(ctx, "--uri", str(home), "data", "list")[0] for _ in range(5)]
    res |= {"fixed_cost_s": statistics.median(samples), "fixed_cost_samples_s": samples}
    samples = [_cli(ctx, "--version")[0] for _ in range(5)]
    res |= {"version_cmd_s": statistics.median(samples), "version_cmd_samples_s": samples}
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import modelyard"], check=True, timeout=max(ctx.remaining(), 0.1))
        samples.append(time.perf_counter() - started)
    res |= {"import_s": statistics.median(samples), "import_samples_s": samples}
    _log(
        f"fixed cost: data list {res['fixed_cost_s']:.2f} s, --version {res['version_cmd_s']:.2f} s, "
        f"import {res['import_s']:.2f} s"
    )


def phase_add_small(ctx: Context, res: dict[str, Any]) -> None:
    work, home = ctx.path("small-work"), ctx.path("small-home")
    shutil.copytree(ctx.source.root / "small", work)
    _age(work)
    with _client(home) as client:
        seconds, version = _timed(lambda: client.datasets.commit("small", work, message="small v1"))
    res |= {
        "add_small_s": seconds,
        "add_small_files": version.file_count,
        "add_small_file_bytes": version.size_bytes,
        "add_small_stored_bytes": version.stored_bytes,
        "add_small_objects": _objects(home),
        "add_small_db_bytes": sum(_tree_bytes(p) for p in home.glob("modelyard.db*")),
    }
    _log(
        f"add small: {seconds:.2f} s, {version.file_count:,} files, stored {version.stored_bytes:,} bytes "
        f"in {res['add_small_objects']} objects"
    )


def phase_status_noop(ctx: Context, res: dict[str, Any]) -> None:
    work, home = ctx.path("small-work"), ctx.path("small-home")
    with _client(home) as client:
        samples, hashed = [], []
        for _ in range(3):
            seconds, found = _timed(lambda: client.datasets.status(work))
            samples.append(seconds)
            hashed.append(found.hashed)
            if not found.is_clean:
                raise PhaseError(f"status of the committed folder is not clean: {found}")
    res |= {
        "status_noop_small_inproc_s": statistics.median(samples),
        "status_noop_small_inproc_samples_s": samples,
        "status_noop_small_inproc_hashed": hashed,
        "status_noop_small_unchanged": found.unchanged,
    }
    samples = []
    for _ in range(3):
        seconds, output = _cli(ctx, "--uri", str(home), "data", "status", str(work))
        samples.append(seconds)
    _seconds, shown = _cli(ctx, "--uri", str(home), "data", "status", str(work), "--json")  # untimed: `hashed`
    detail = json.loads(shown)
    res |= {
        "status_noop_small_cli_s": statistics.median(samples),
        "status_noop_small_cli_samples_s": samples,
        "status_noop_small_cli_output": output.strip(),
        "status_noop_small_cli_hashed": detail.get("hashed"),
        "status_noop_small_cli_clean": detail.get("clean"),
    }
    _log(
        f"status (no-op): in-process {res['status_noop_small_inproc_s'] * 1000:.0f} ms (hashed {hashed}), "
        f"CLI {res['status_noop_small_cli_s']:.2f} s (hashed {detail.get('hashed')})"
    )


def phase_readd_one_changed(ctx: Context, res: dict[str, Any]) -> None:
    work, home = ctx.path("small-work"), ctx.path("small-home")
    _replace_file(ctx.source.root / "small_changed" / ctx.source.changed, work / ctx.source.changed)
    before = _objects(home)
    with _client(home) as client:
        status_s, found = _timed(lambda: client.datasets.status(work))
        seconds, version = _timed(lambda: client.datasets.commit("small", work, message="small v2"))
    if found.modified != [ctx.source.changed] or found.added or found.removed:
        raise PhaseError(f"status after changing {ctx.source.changed} reports {found}")
    res |= {
        "readd_one_changed_s": seconds,
        "readd_one_changed_stored_bytes": version.stored_bytes,
        "readd_one_changed_new_objects": _objects(home) - before,
        "readd_one_changed_version": version.number,
        "status_one_changed_s": status_s,
        "status_one_changed_hashed": found.hashed,
    }
    _log(f"re-add (1 file changed): {seconds * 1000:.0f} ms, stored {version.stored_bytes:,} bytes")


def _push(ctx: Context, res: dict[str, Any], prefix: str, remote: Any) -> None:
    with _client(ctx.path("small-home")) as client:
        seconds, report = _timed(lambda: client.datasets.push("small@latest", remote))
    res |= {
        f"push_small_{prefix}_s": seconds,
        f"push_small_{prefix}_chunks": report.chunks_sent,
        f"push_small_{prefix}_bytes_sent": report.bytes_sent,
        f"push_small_{prefix}_packs": report.packs_written,
        f"push_small_{prefix}_versions": report.versions,
    }
    _log(f"push small to {prefix}: {seconds:.2f} s ({report.chunks_sent:,} chunks in {report.packs_written} packs)")


def _pull(ctx: Context, res: dict[str, Any], prefix: str, remote: Any) -> None:
    home, files = ctx.path(f"pulled-{prefix}-home"), ctx.path(f"pulled-{prefix}-files")
    with _client(home) as client:
        fetch_s, report = _timed(lambda: client.datasets.pull("small@latest", remote))
        checkout_s, _ = _timed(lambda: client.datasets.checkout("small@latest", files))
    res |= {
        f"pull_small_{prefix}_s": fetch_s + checkout_s,
        f"pull_small_{prefix}_fetch_s": fetch_s,
        f"pull_small_{prefix}_checkout_s": checkout_s,
        f"pull_small_{prefix}_chunks": report.chunks_sent,
        f"pull_small_{prefix}_versions": report.versions,
        f"pull_small_{prefix}_matches_source": _same_tree(files, ctx.source.root / "small_changed"),
    }
    if prefix == "local":  # untimed: how much the first status of a fresh checkout reads (the stat cache's promise)
        with _client(home) as client:
            res["status_after_checkout_hashed"] = client.datasets.status(files).hashed
    _log(f"pull small from {prefix}: {fetch_s:.2f} s + checkout {checkout_s:.2f} s")


def phase_push_local(ctx: Context, res: dict[str, Any]) -> None:
    remote_home = ctx.path("remote-local")
    with _client(remote_home) as remote:
        _push(ctx, res, "local", remote)
    res["push_small_local_objects"] = _objects(remote_home)


def phase_pull_local(ctx: Context, res: dict[str, Any]) -> None:
    with _client(ctx.path("remote-local")) as remote:
        _pull(ctx, res, "local", remote)


@contextlib.contextmanager
def _s3_remote(ctx: Context) -> Iterator[Any]:
    """The S3 team store (SQLite next to the workdir + packs in the bucket); credentials in the env meanwhile."""
    if not isinstance(ctx.s3, S3):
        raise PhaseError(ctx.s3)
    names = {
        "MODELYARD_S3_ENDPOINT": ctx.s3.endpoint,
        "AWS_ACCESS_KEY_ID": ctx.s3.access_key,
        "AWS_SECRET_ACCESS_KEY": ctx.s3.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        db = ctx.path("remote-s3.db")
        with _client(f"sqlite:///{db}", artifacts=f"s3://{ctx.s3.bucket}/{ctx.s3_prefix}") as remote:
            yield remote
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def phase_push_s3(ctx: Context, res: dict[str, Any]) -> None:
    ctx.s3_prefix = f"modelyard-bench-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    with _s3_remote(ctx) as remote:
        _push(ctx, res, "s3", remote)
    assert isinstance(ctx.s3, S3)
    res["push_small_s3_objects"], res["push_small_s3_object_bytes"] = _s3_objects(ctx.s3, ctx.s3_prefix + "/")


def phase_pull_s3(ctx: Context, res: dict[str, Any]) -> None:
    with _s3_remote(ctx) as remote:
        _pull(ctx, res, "s3", remote)


def _add_big(ctx: Context, source: Path) -> tuple[float, Any, int]:
    """Put ``source`` in the working folder as big.bin (untimed), time the commit; (s, version, store growth)."""
    home, target = ctx.path("big-home"), ctx.path("big-work") / "big.bin"
    _replace_file(source, target)
    before = _tree_bytes(home) if home.exists() else 0
    with _client(home) as client:
        seconds, version = _timed(lambda: client.datasets.commit("big", target, message=source.name))
    return seconds, version, _tree_bytes(home) - before


def phase_add_big(ctx: Context, res: dict[str, Any]) -> None:
    seconds, version, growth = _add_big(ctx, ctx.source.root / "big.bin")
    res |= {
        "add_big_s": seconds,
        "add_big_gbps": version.size_bytes / seconds / 1e9,
        "add_big_stored_bytes": version.stored_bytes,
        "add_big_store_bytes": growth,
        "add_big_objects": _objects(ctx.path("big-home")),
    }
    _log(f"add big: {seconds:.2f} s ({res['add_big_gbps']:.2f} GB/s), store +{growth:,} bytes")


def _add_version(ctx: Context, res: dict[str, Any], name: str) -> None:
    source = ctx.source.root / f"big_{name}.bin"
    seconds, version, growth = _add_big(ctx, source)
    size = source.stat().st_size
    res |= {
        f"add_{name}_s": seconds,
        f"{name}_new_bytes": version.stored_bytes,
        f"{name}_new_share": version.stored_bytes / size,
        f"{name}_store_bytes": growth,
        f"{name}_version": version.number,
    }
    _log(
        f"add big, {name}ed: {seconds:.2f} s, stored {version.stored_bytes:,} bytes = {version.stored_bytes / size:.3%}"
    )


def phase_append(ctx: Context, res: dict[str, Any]) -> None:
    _add_version(ctx, res, "append")


def phase_insert(ctx: Context, res: dict[str, Any]) -> None:
    _add_version(ctx, res, "insert")


def phase_checkout_previous(ctx: Context, res: dict[str, Any]) -> None:
    dest = ctx.path("big-checkout")
    with _client(ctx.path("big-home")) as client:
        seconds, _ = _timed(lambda: client.datasets.checkout("big@1", dest))
    restored = dest / "big.bin"
    res |= {
        "checkout_previous_s": seconds,
        "checkout_previous_restored_bytes": restored.stat().st_size,
        "checkout_previous_matches_source": filecmp.cmp(restored, ctx.source.root / "big.bin", shallow=False),
    }
    _log(f"checkout big@1: {seconds:.2f} s")


def phase_durable_copy(ctx: Context, res: dict[str, Any]) -> None:
    """Context: a plain copy of the big file with fsync, the floor for an add that survives a power cut."""
    source = ctx.source.root / "big.bin"
    target = ctx.workdir / "durable-copy.bin"

    def copy() -> None:
        with source.open("rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 4 * MiB)
            dst.flush()
            os.fsync(dst.fileno())

    try:
        seconds, _ = _timed(copy)
    finally:
        target.unlink(missing_ok=True)
    res["durable_copy_s"] = seconds
    res["durable_copy_gbps"] = source.stat().st_size / seconds / 1e9


def phase_hashing(ctx: Context, res: dict[str, Any]) -> None:
    """Context: hash and chunking throughput of this machine on an in-memory buffer (GB/s)."""
    import blake3
    from pyfastcdc import FastCDC

    from modelyard.data.chunks import CHUNK_AVG, CHUNK_MAX, CHUNK_MIN

    data = _stream("hashing", min(256 * MiB, max(ctx.sizes.big_bytes, 16 * MiB)))

    def cdc_blake3() -> None:
        for chunk in FastCDC(CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX).cut_buf(data):
            blake3.blake3(chunk.data).digest()

    calls: dict[str, Callable[[], object]] = {
        "md5": lambda: hashlib.md5(data).digest(),
        "sha256": lambda: hashlib.sha256(data).digest(),
        "blake3_1_thread": lambda: blake3.blake3(data).digest(),
        "blake3_all_threads": lambda: blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest(),
        "fastcdc": lambda: sum(1 for _ in FastCDC(CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX).cut_buf(data)),
        "fastcdc_blake3": cdc_blake3,
    }
    rates = {}
    for name, call in calls.items():
        seconds = min(_timed(call)[0] for _ in range(3))
        rates[name] = len(data) / seconds / 1e9
    res["hashing_gbps"] = rates
    res["hashing_buffer_bytes"] = len(data)


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    run: Callable[[Context, dict[str, Any]], None]
    needs: tuple[str, ...] = ()
    big: bool = False
    s3: bool = False


PHASES = [
    Phase("fixed_cost", phase_fixed_cost),
    Phase("add_small", phase_add_small),
    Phase("status_noop_small", phase_status_noop, ("add_small",)),
    Phase("readd_one_changed", phase_readd_one_changed, ("add_small",)),
    Phase("push_small_local", phase_push_local, ("readd_one_changed",)),
    Phase("pull_small_local", phase_pull_local, ("push_small_local",)),
    Phase("push_small_s3", phase_push_s3, ("readd_one_changed",), s3=True),
    Phase("pull_small_s3", phase_pull_s3, ("push_small_s3",), s3=True),
    Phase("durable_copy", phase_durable_copy, big=True),
    Phase("add_big", phase_add_big, big=True),
    Phase("append", phase_append, ("add_big",), big=True),
    Phase("insert", phase_insert, ("add_big",), big=True),
    Phase("checkout_previous", phase_checkout_previous, ("add_big",), big=True),
    Phase("hashing", phase_hashing),
]


@dataclass(slots=True)
class Report:
    out: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    cut_short: dict[str, bool] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    phase_s: dict[str, float] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def run(self, ctx: Context, phase: Phase) -> None:
        missing = [need for need in phase.needs if need not in self.done]
        if missing:
            self.skipped[phase.name] = f"needs {', '.join(missing)}"
            _log(f"{phase.name}: skipped (needs {', '.join(missing)})")
            return
        started = time.perf_counter()
        ctx.deadline = started + ctx.sizes.max_seconds
        cut = False
        with _alarm(ctx.sizes.max_seconds, phase.name):
            try:
                phase.run(ctx, self.out)
                self.done.add(phase.name)
            except PhaseTimeout as exc:
                cut = True
                self.errors[phase.name] = str(exc)
            except subprocess.TimeoutExpired as exc:
                cut = True
                self.errors[phase.name] = f"cut short: `{exc.cmd}` still running (--max-seconds)"
            except Exception as exc:  # a bug or a failing command: report it and go on with the other phases
                self.errors[phase.name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-3000:]}"
            finally:
                ctx.deadline = math.inf
                self.cut_short[phase.name] = cut
                self.phase_s[phase.name] = time.perf_counter() - started
        if phase.name in self.errors:
            _log(f"[red]{phase.name}: FAILED[/red]: {escape(self.errors[phase.name][:600])}")


@contextlib.contextmanager
def _alarm(seconds: float, name: str) -> Iterator[None]:
    """Raise PhaseTimeout in this (main) thread after ``seconds``."""

    def ring(_signum: int, _frame: FrameType | None) -> None:
        raise PhaseTimeout(f"cut short after {seconds:g} s (--max-seconds) in phase {name}")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_modelyard(sizes: Sizes, source: Source, workdir: Path, s3: S3 | str) -> dict[str, Any]:
    """The same work as the DVC anchor, in this interpreter, under a fresh ``workdir``."""
    import modelyard as my

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    started = time.perf_counter()
    report = Report(
        out={
            "tool": "modelyard",
            "version": my.__version__,
            "python": platform.python_version(),
            "backend": "embedded (SQLite + blobs folder), in-process; CLI for fixed cost and status",
            "sizes": asdict(sizes),
            "small_files": sizes.small_files,
            "small_bytes": sizes.small_files * sizes.small_file_bytes,
            "big_bytes": None if sizes.skip_big else sizes.big_bytes,
        }
    )
    ctx = Context(sizes=sizes, source=source, workdir=workdir.resolve(), s3=s3)
    for phase in PHASES:
        if phase.big and sizes.skip_big:
            report.skipped[phase.name] = "--skip-big"
        elif phase.s3 and not isinstance(s3, S3):
            report.skipped[phase.name] = s3
        else:
            _log(f"modelyard {phase.name} ...")
            report.run(ctx, phase)
    report.out |= {
        "cut_short": report.cut_short,
        "skipped": report.skipped,
        "errors": report.errors,
        "phase_s": report.phase_s,
        "total_s": time.perf_counter() - started,
    }
    return report.out


# --- report ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """One row of the table: which figures to compare, and how to judge modelyard's."""

    id: str
    key: str  # modelyard's figure
    dvc_key: str  # DVC's figure
    label: str
    unit: str  # "s", "bytes", "objects", "share", "GB/s"
    reference: str  # DVC's figure in shared/BENCHMARKS.md
    goal: str = "-"
    goal_ratio: float | None = None  # modelyard / DVC at most this
    goal_max: float | None = None  # modelyard's value at most this
    goal_min: float | None = None  # modelyard's value at least this

    def is_met(self, value: float | None, ratio: float | None) -> bool | None:
        """Whether the goal is met; None when there is no goal or a figure is missing."""
        if self.goal_max is not None:
            return None if value is None else value <= self.goal_max
        if self.goal_min is not None:
            return None if value is None else value >= self.goal_min
        if self.goal_ratio is not None:
            return None if ratio is None else ratio <= self.goal_ratio
        return None


def _faster(id: str, label: str, factor: float, reference: str, *, goal: str | None = None) -> Figure:
    return Figure(
        id=id,
        key=id,
        dvc_key=id,
        label=label,
        unit="s",
        reference=reference,
        goal=goal or f"<= 1/{factor:g}",
        goal_ratio=1 / factor,
    )


def _at_most(id: str, label: str, limit: float, reference: str, *, dvc_key: str | None = None) -> Figure:
    return Figure(
        id=id,
        key=id,
        dvc_key=dvc_key or id,
        label=label,
        unit="s",
        reference=reference,
        goal=f"<= {limit:g} s",
        goal_max=limit,
    )


FIGURES = [
    _at_most("fixed_cost_s", "fixed cost of a command (dvc status / modelyard data list, empty)", 0.15, "0.45-0.6 s"),
    _faster("add_small_s", "add {files} x 2 KiB files", 10, "8.0-16.9 s"),
    Figure(
        id="add_small_objects",
        key="add_small_objects",
        dvc_key="add_small_objects",
        label="  objects in the store after that add",
        unit="objects",
        reference="20,001",
    ),
    Figure(
        id="add_small_bytes",
        key="add_small_stored_bytes",
        dvc_key="add_small_cache_bytes",
        label="  bytes stored by that add (DVC: cache)",
        unit="bytes",
        reference="1.64 MB manifest",
    ),
    _at_most(
        "status_noop_small_inproc_s",
        "no-op status, {files} files, in-process",
        0.15,
        "1.23 s",
        dvc_key="status_noop_small_s",
    ),
    _at_most(
        "status_noop_small_cli_s", "no-op status, {files} files, CLI", 0.15, "1.23 s", dvc_key="status_noop_small_s"
    ),
    _at_most("readd_one_changed_s", "re-add after changing 1 of {files} files", 0.2, "2.1 s"),
    Figure(
        id="readd_bytes",
        key="readd_one_changed_stored_bytes",
        dvc_key="readd_one_changed_new_bytes",
        label="  new bytes stored by that re-add",
        unit="bytes",
        reference="1.6 MB",
        goal="O(change): <= 64 KiB",
        goal_max=64 * KiB,
    ),
    _faster("add_big_s", "add one {big} file (DVC: copy)", 4, "5.4 s"),
    Figure(
        id="add_big_vs_hardlink",
        key="add_big_s",
        dvc_key="add_big_hardlink_s",
        label="  the same, DVC with cache.type hardlink",
        unit="s",
        reference="2.8 s",
    ),
    Figure(
        id="add_big_gbps",
        key="add_big_gbps",
        dvc_key="add_big_gbps",
        label="  add throughput",
        unit="GB/s",
        reference="0.2 GB/s",
        goal=">= 1 GB/s",
        goal_min=1.0,
    ),
    Figure(
        id="add_big_store",
        key="add_big_store_bytes",
        dvc_key="add_big_cache_bytes",
        label="  store growth (DVC: cache; its copy mode holds 2 copies on disk)",
        unit="bytes",
        reference="2 GB on disk",
    ),
    Figure(
        id="append_new_share",
        key="append_new_share",
        dvc_key="append_new_share",
        label="new storage after appending 1% to the {big} file",
        unit="share",
        reference="101%",
        goal="<= 1.5%",
        goal_max=0.015,
    ),
    Figure(
        id="insert_new_share",
        key="insert_new_share",
        dvc_key="insert_new_share",
        label="new storage after inserting 100 bytes mid-file",
        unit="share",
        reference="100%",
        goal="<= 0.1%",
        goal_max=0.001,
    ),
    _faster("checkout_previous_s", "checkout of the first {big} version", 1, "2.6 s", goal="faster"),
    _faster("push_small_local_s", "push {files} files to a local remote", 10, "8.1 s"),
    _faster("pull_small_local_s", "pull them from it (+ checkout, as dvc pull does)", 10, "15.7 s"),
    Figure(
        id="push_small_local_objects",
        key="push_small_local_objects",
        dvc_key="push_small_local_objects",
        label="  objects in the local remote",
        unit="objects",
        reference="-",
    ),
    _faster("push_small_s3_s", "push {files} files to S3 (SeaweedFS)", 10, "-"),
    _faster("pull_small_s3_s", "pull them from S3 (+ checkout)", 10, "-"),
    Figure(
        id="push_small_s3_objects",
        key="push_small_s3_objects",
        dvc_key="push_small_s3_objects",
        label="  objects in the S3 remote",
        unit="objects",
        reference="-",
    ),
]


def _derive_dvc(dvc: dict[str, Any] | None) -> dict[str, Any] | None:
    """Figures computed from the anchor's (throughput)."""
    if not dvc:
        return dvc
    derived = dict(dvc)
    if dvc.get("add_big_s") and dvc.get("big_bytes"):
        derived["add_big_gbps"] = dvc["big_bytes"] / dvc["add_big_s"] / 1e9
    return derived


def _fmt_bytes(value: float) -> str:
    if abs(value) < 10_000:
        return f"{value:,.0f} B"
    for limit, unit in ((1e6, "kB"), (1e9, "MB")):
        if abs(value) < limit:
            return f"{value / (limit / 1000):,.1f} {unit}"
    return f"{value / 1e9:,.2f} GB"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s" if value >= 0.1 else f"{value * 1000:.1f} ms"
    if unit == "bytes":
        return _fmt_bytes(value)
    if unit == "share":
        return f"{value * 100:.3g}%"
    if unit == "GB/s":
        return f"{value:.2f} GB/s"
    return f"{value:,.0f}"


def _fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio >= 1:
        return f"{ratio:,.1f}x" if ratio < 10 else f"{ratio:,.0f}x"
    return f"1/{1 / ratio:,.1f}" if ratio > 0.1 else f"1/{1 / ratio:,.0f}"


def _label(figure: Figure, sizes: Sizes) -> str:
    big = f"{sizes.big_bytes // GiB} GiB" if sizes.big_bytes >= GiB else f"{sizes.big_bytes // MiB} MiB"
    return figure.label.format(files=f"{sizes.small_files:,}", big=big)


def compare(dvc: dict[str, Any] | None, mine: dict[str, Any] | None, sizes: Sizes) -> list[dict[str, Any]]:
    """One row per figure: both values, ratio modelyard / DVC, goal, and whether it is met."""
    theirs_all = _derive_dvc(dvc) or {}
    rows = []
    for figure in FIGURES:
        theirs = theirs_all.get(figure.dvc_key)
        ours = mine.get(figure.key) if mine else None
        theirs = theirs if isinstance(theirs, int | float) else None
        ours = ours if isinstance(ours, int | float) else None
        ratio = ours / theirs if ours is not None and theirs else None
        rows.append(
            {
                "id": figure.id,
                "label": _label(figure, sizes),
                "unit": figure.unit,
                "reference_dvc": figure.reference,
                "dvc": theirs,
                "modelyard": ours,
                "ratio": ratio,
                "goal": figure.goal,
                "met": figure.is_met(ours, ratio),
            }
        )
    return rows


def _sync_notes(m: dict[str, Any], prefix: str) -> list[str]:
    lines = []
    if f"push_small_{prefix}_s" in m:
        lines.append(
            f"modelyard push to {prefix}: versions {m[f'push_small_{prefix}_versions']}, "
            f"{m[f'push_small_{prefix}_chunks']:,} chunks, "
            f"{_fmt_bytes(m[f'push_small_{prefix}_bytes_sent'])} in {m[f'push_small_{prefix}_packs']} pack(s)"
        )
    if f"pull_small_{prefix}_s" in m:
        lines.append(
            f"modelyard pull from {prefix}: {_fmt(m[f'pull_small_{prefix}_fetch_s'], 's')} pull + "
            f"{_fmt(m[f'pull_small_{prefix}_checkout_s'], 's')} checkout; files match the source: "
            f"{m[f'pull_small_{prefix}_matches_source']}"
        )
    return lines


_MODELYARD_NOTES: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    (
        "add_small_s",
        lambda m: (
            f"modelyard add small: {m['add_small_files']:,} files, {_fmt_bytes(m['add_small_file_bytes'])} of "
            f"file bytes, stored {_fmt_bytes(m['add_small_stored_bytes'])} in {m['add_small_objects']} "
            f"object(s); SQLite {_fmt_bytes(m['add_small_db_bytes'])} (chunk index + stat cache)"
        ),
    ),
    (
        "status_noop_small_cli_s",
        lambda m: (
            f"modelyard no-op status read {m['status_noop_small_inproc_hashed']} files in-process and "
            f"{m['status_noop_small_cli_hashed']} in the CLI; CLI said: {m['status_noop_small_cli_output']}"
        ),
    ),
    (
        "readd_one_changed_s",
        lambda m: (
            f"modelyard re-add: status before it {_fmt(m['status_one_changed_s'], 's')} "
            f"(hashed {m['status_one_changed_hashed']}), {m['readd_one_changed_new_objects']} new object(s)"
        ),
    ),
    (
        "status_after_checkout_hashed",
        lambda m: (
            f"modelyard first status of the pulled checkout (files written by checkout) re-read "
            f"{m['status_after_checkout_hashed']:,} of {m['small_files']:,} files"
        ),
    ),
    (
        "checkout_previous_s",
        lambda m: f"modelyard checkout big@1 matches the source: {m['checkout_previous_matches_source']}",
    ),
    (
        "durable_copy_s",
        lambda m: (
            f"disk here: a plain copy of big.bin with fsync took {m['durable_copy_s']:.2f} s "
            f"({m['durable_copy_gbps']:.2f} GB/s), the floor for an add that keeps its data across a power cut"
        ),
    ),
    (
        "hashing_gbps",
        lambda m: (
            f"hashing here (GB/s, {_fmt_bytes(m['hashing_buffer_bytes'])} in memory): "
            + ", ".join(f"{k} {v:.2f}" for k, v in m["hashing_gbps"].items())
        ),
    ),
]

_DVC_NOTES: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    (
        "data_status_noop_small_s",
        lambda d: f"DVC `dvc data status --granular` (no-op): {_fmt(d['data_status_noop_small_s'], 's')}",
    ),
    (
        "add_big_disk_bytes",
        lambda d: (
            f"DVC add big: {d.get('add_big_link')} in the workspace, disk +{_fmt_bytes(d['add_big_disk_bytes'])}; "
            f"hardlink mode disk +{_fmt_bytes(d.get('add_big_hardlink_disk_bytes') or 0)}; "
            f"filesystem {d.get('filesystem')}"
        ),
    ),
    *(
        (
            f"pull_small_{prefix}_s",
            lambda d, p=prefix: (
                f"DVC pull from {p}: {d.get(f'pull_small_{p}_files')} files, "
                f"match the source: {d.get(f'pull_small_{p}_matches_source')}"
            ),
        )
        for prefix in ("local", "s3")
    ),
]


def _problems(tool: str, result: dict[str, Any]) -> list[str]:
    lines = [
        f"[red]{tool} {phase} failed[/red]: {escape(message.splitlines()[0][:300])}"
        for phase, message in (result.get("errors") or {}).items()
    ]
    cut = [p for p, c in (result.get("cut_short") or {}).items() if c]
    if cut:
        lines.append(f"[yellow]{tool} phases cut short by --max-seconds: {', '.join(cut)}[/yellow]")
    skipped = result.get("skipped") or {}
    if skipped:
        lines.append(f"{tool} skipped: " + escape(", ".join(f"{p} ({why})" for p, why in skipped.items())))
    return lines


def _notes(dvc: dict[str, Any] | None, mine: dict[str, Any] | None) -> list[str]:
    """The lines below the table: what the figures are made of, checks, failures."""
    lines: list[str] = []
    if mine:
        lines += [note(mine) for key, note in _MODELYARD_NOTES[:3] if key in mine]
        lines += [line for prefix in ("local", "s3") for line in _sync_notes(mine, prefix)]
        lines += [note(mine) for key, note in _MODELYARD_NOTES[3:] if key in mine]
    if dvc:
        lines += [note(dvc) for key, note in _DVC_NOTES if key in dvc]
    for tool, result in (("DVC", dvc), ("modelyard", mine)):
        if result:
            lines += _problems(tool, result)
    return lines


def print_table(
    rows: list[dict[str, Any]], dvc: dict[str, Any] | None, mine: dict[str, Any] | None, load: list[float]
) -> None:
    version = dvc.get("version", "?") if dvc else "not run"
    cached = " (cached)" if dvc and dvc.get("cached") else ""
    table = Table(title="Data versioning: modelyard vs DVC (ext4, same files)", title_justify="left")
    table.add_column("figure")
    table.add_column("DVC (BENCHMARKS.md)", justify="right", style="dim")
    table.add_column(f"DVC {version}{cached}", justify="right")
    table.add_column("modelyard", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("goal", justify="right")
    table.add_column("met", justify="center")
    for row in rows:
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[row["met"]]
        table.add_row(
            row["label"],
            row["reference_dvc"],
            _fmt(row["dvc"], row["unit"]),
            _fmt(row["modelyard"], row["unit"]),
            _fmt_ratio(row["ratio"]),
            row["goal"],
            met,
        )
    out.print(table)
    for line in _notes(dvc, mine):
        out.print(line, highlight=False, soft_wrap=True)
    if dvc and "total_s" in dvc:
        out.print(f"DVC venv ready in {dvc.get('venv_ready_s', 0):.1f} s; anchor script {dvc['total_s']:.1f} s")
    if mine:
        out.print(f"modelyard {mine['version']}: {mine['total_s']:.1f} s")
    if load:
        out.print(f"load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} CPUs")


# --- main -----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", choices=["dvc", "modelyard"], help="measure one tool only")
    parser.add_argument("--skip-dvc", action="store_true", help="measure modelyard only; DVC figures from the cache")
    parser.add_argument("--skip-big", action="store_true", help="leave out the phases on the big file")
    parser.add_argument("--no-s3", action="store_true", help="no SeaweedFS server, no S3 phases")
    parser.add_argument("--max-seconds", type=float, help="time bound of each phase")
    parser.add_argument("--workdir", type=Path, default=WORK_DIR / "data", help="scratch folder (wiped)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.max_seconds is not None:
        sizes = replace(sizes, max_seconds=args.max_seconds)
    if args.skip_big:
        sizes = replace(sizes, skip_big=True)
    skip_dvc = args.skip_dvc or args.only == "modelyard"
    started = time.perf_counter()
    workdir = args.workdir.resolve()
    source = ensure_source(sizes)
    load = [os.getloadavg()[0]]
    if load[0] > (os.cpu_count() or 1) / 2:
        _log(f"[yellow]the machine is busy (load average {load[0]:.1f}): timings will be noisy[/yellow]")

    dvc: dict[str, Any] | None = None
    mine: dict[str, Any] | None = None
    failed = False
    with s3_server(workdir / "seaweedfs", not args.no_s3) as s3:
        if not skip_dvc:
            try:
                dvc = run_dvc(sizes, source, workdir / "dvc", s3)
            except RuntimeError as exc:
                failed = True
                err.print(f"[red]DVC anchor failed:[/red] {escape(str(exc))}", highlight=False)
            _log(f"DVC part done in {time.perf_counter() - started:.1f} s")
        else:
            dvc = cached_dvc(sizes)
        if args.only != "dvc":
            try:
                mine = run_modelyard(sizes, source, workdir / "modelyard", s3)
            except Exception:  # a benchmark reports the failure and still prints the anchor's figures
                failed = True
                err.print("[red]modelyard side failed:[/red]")
                err.print(traceback.format_exc(), highlight=False, markup=False)
    failed = failed or bool(mine and mine.get("errors"))
    load.append(os.getloadavg()[0])

    rows = compare(dvc, mine, sizes)
    print_table(rows, dvc, mine, load)
    if args.json:
        write_report(
            args.json,
            "data",
            started=started,
            machine={"load_average_start_end": load},
            sizes=asdict(sizes),
            source=str(source.root),
            figures=rows,
            dvc=dvc,
            modelyard=mine,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
