"""One writer per output folder: the lock file `DIR/.lrmo-lock`.

`claim_folder` (solver/io/output.py) takes it on rank 0 for the whole MPI world when a
command claims its folder; the command releases it when it ends, completed, failed or
interrupted (`lrmo.cli.main`, `lrmo.run`/`lrmo.sweep`; `atexit` as a backstop). A second
writer is refused (`LockHeld`, exit 4) with one line naming the holder: host, pid, start
time and command.

Mechanism: the holder's description (JSON) is written to a private temporary file, which
is then hard-linked to `.lrmo-lock`. `link` fails atomically when the name exists, also
on NFS, and a reader never sees a half-written lock. Where a file system has no hard
links, `O_CREAT | O_EXCL` (atomic on local file systems and NFSv3+). Not `flock`/`fcntl`:
those locks depend on the network file system (NFS's lock daemon, Lustre's `flock` mount
option) and cannot be read by the process they refuse.

A lock survives its process when that process is killed (SIGKILL, out of memory, a node
failure), so a lock is *stale*, and replaced with a note, when its holder

- ran on this host and its pid no longer exists, is a zombie, or now belongs to another
  process (the process start time in /proc differs), or the host has rebooted since
  (another boot id);
- is an earlier run of this Slurm job: same SLURM_JOB_ID, a lower SLURM_RESTART_COUNT
  (a requeued job, on whatever node).

A holder on another host cannot be checked from here: it is refused like a live one,
unless `overwrite` (`--overwrite`), which replaces it with a note. A live holder on this
host is refused even then. A lock's age says nothing (runs last days): no expiry.

Limits: hosts are told apart by `socket.gethostname()` (two containers sharing a folder
and a host name, each with its own pid namespace, look like one host); the lock guards
against lrmo processes only.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shlex
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

LOCK_NAME = ".lrmo-lock"
BREAKER_AGE_S = 60.0  # replacing a stale lock takes milliseconds; a breaker older is left over

_HELD: dict[str, list] = {}  # resolved folder -> [token, count]: this process's locks
_RANK_0: dict[str, str] = {}  # resolved folder -> token: locks rank 0 of this MPI run holds


class LockHeld(OSError):
    """The folder is being written by another process (the message names it)."""


def _boot_id() -> str | None:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return None


def _process_start(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of `pid` from /proc, None without it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[19])


def command_line() -> str:
    """This process's command, as typed: `lrmo run ...` or `script.py ...`."""
    argv = list(sys.argv) or ["python"]
    head = Path(argv[0]).name
    words = (["lrmo"] if head in ("lrmo", "__main__.py") else [head]) + argv[1:]
    text = shlex.join(words)
    return text if len(text) <= 300 else text[:297] + "..."


def describe(holder: dict) -> str:
    """`lrmo run ...` (pid P on host H, started T)."""
    return (f"`{holder.get('command_line', holder.get('command', '?'))}` (pid {holder.get('pid', '?')} "
            f"on host {holder.get('host', '?')}, started {holder.get('started_utc', '?')})")


def _holder(command: str, token: str) -> dict:
    pid = os.getpid()
    start = _process_start(pid)
    return {"host": socket.gethostname(), "pid": pid,
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command, "command_line": command_line(), "token": token,
            "boot_id": _boot_id(), "process_start_ticks": start[1] if start else None,
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "slurm_restart_count": int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)}


def _read(lock: Path, patience_s: float = 1.0) -> dict | None:
    """The holder in `lock`; {} if it vanished; None if it stays unreadable (an
    O_EXCL-created lock is empty for a moment)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            holder = json.loads(lock.read_text(encoding="utf-8"))
            if isinstance(holder, dict):
                return holder
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def why_stale(holder: dict) -> str | None:
    """Why `holder` no longer runs, or None if it may (see the module's rules)."""
    job = os.environ.get("SLURM_JOB_ID")
    restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
    if job and holder.get("slurm_job_id") == job and int(holder.get("slurm_restart_count") or 0) < restarts:
        return f"an earlier run of Slurm job {job} (requeued)"
    if holder.get("host") != socket.gethostname():
        return None
    if holder.get("boot_id") and _boot_id() and holder["boot_id"] != _boot_id():
        return "the host has rebooted since"
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return None
    if pid == os.getpid():  # not one of ours (acquire checked): an earlier process's
        return "its pid is now this process"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "that process no longer exists"
    except PermissionError:
        pass  # exists, another user's
    start = _process_start(pid)
    if start is not None and start[0] == "Z":
        return "that process has ended (a zombie)"
    if start is not None and holder.get("process_start_ticks") not in (None, start[1]):
        return "that pid now belongs to another process"
    return None


def _create(lock: Path, text: str) -> bool:
    """Create `lock` holding `text` unless it exists (atomic); True if created."""
    tmp = lock.with_name(f"{LOCK_NAME}.{socket.gethostname()}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            os.link(tmp, lock)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links here: exclusive creation
            pass
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _remove_if_unchanged(lock: Path, judged: dict | None) -> None:
    """Remove `lock` if it still holds `judged`, one process at a time (a breaker file):
    two processes replacing the same stale lock must not remove each other's new one."""
    breaker = lock.with_name(LOCK_NAME + ".break")
    try:
        os.close(os.open(breaker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        with contextlib.suppress(OSError):
            if time.time() - breaker.stat().st_mtime > BREAKER_AGE_S:
                breaker.unlink()
        return  # another process is replacing it: try again
    try:
        if _read(lock, patience_s=0.0) == judged:
            lock.unlink()
    except FileNotFoundError:
        pass
    finally:
        with contextlib.suppress(OSError):
            breaker.unlink()


def acquire(folder: str | Path, command: str, overwrite: bool = False) -> str | None:
    """Take the lock on `folder` (which exists) for this process; re-entrant. Returns a
    note when a stale lock (or, with `overwrite`, another host's) was replaced; raises
    LockHeld naming a live holder. Rank-local: call on rank 0."""
    folder = Path(folder)
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        return None
    lock = folder / LOCK_NAME
    token = secrets.token_hex(8)
    text = json.dumps(_holder(command, token), indent=1) + "\n"
    note = None
    for _ in range(20):
        if _create(lock, text):
            _HELD[key] = [token, 1]
            return note
        holder = _read(lock)
        if holder == {}:
            continue  # released meanwhile
        if holder is None:
            if not overwrite:
                raise LockHeld(f"{folder} has an unreadable lock {lock}; if no lrmo process writes "
                               "there, remove it or add --overwrite")
            reason = "it was unreadable (--overwrite)"
        else:
            reason = why_stale(holder)
            if reason is None and overwrite and holder.get("host") != socket.gethostname():
                reason = "it was held on another host, which cannot be checked from here (--overwrite)"
            if reason is None:
                advice = ("wait for it to end or choose another --out" if holder.get("host") == socket.gethostname()
                          else "another host, which cannot be checked from here: if that job has ended, "
                          "add --overwrite")
                raise LockHeld(f"{folder} is being written by another lrmo process: {describe(holder)}; "
                               f"{advice} (lock: {lock})")
        note = f"replaced a stale lock on {folder}, of {describe(holder or {})}: {reason}"
        _remove_if_unchanged(lock, holder)
        time.sleep(0.01)
    raise LockHeld(f"{folder}: could not take the lock {lock} (it keeps changing hands)")


def _remove_if_held(key: str, token: str) -> None:
    lock = Path(key) / LOCK_NAME
    with contextlib.suppress(OSError):
        if (_read(lock, patience_s=0.0) or {}).get("token") == token:
            lock.unlink()


def release(folder: str | Path) -> None:
    """Give up this process's hold on `folder`; the file goes with the last hold."""
    key = str(Path(folder).resolve())
    if key not in _HELD:
        return
    _HELD[key][1] -= 1
    if _HELD[key][1] > 0:
        return
    token, _ = _HELD.pop(key)
    _remove_if_held(key, token)


def release_all() -> None:
    """Every lock this process holds (at the end of a command, and at exit)."""
    for key in list(_HELD):
        _HELD[key][1] = 1
        release(key)


def token(folder: str | Path) -> str | None:
    """The token of this process's lock on `folder`, None if it holds none."""
    return _HELD.get(str(Path(folder).resolve()), [None])[0]


def held_by_rank_0(folder: str | Path, token: str | None) -> None:
    """On the other ranks of an MPI run: rank 0 holds the lock on `folder` with `token`
    (solver/io/output.py `claim_folder`), for `release_for_abort`."""
    key = str(Path(folder).resolve())
    if token is not None and key not in _HELD:
        _RANK_0[key] = token


def release_for_abort() -> None:
    """Before this rank aborts the MPI run (solver/io/rank_errors.py): its own locks and
    those rank 0 holds, whose process the abort kills before it can release them; each
    only while it still holds the same token (not a lock taken since by another run)."""
    release_all()
    for key, held in list(_RANK_0.items()):
        _remove_if_held(key, held)
    _RANK_0.clear()


def is_locked(folder: str | Path) -> bool:
    return (Path(folder) / LOCK_NAME).exists()


atexit.register(release_all)
