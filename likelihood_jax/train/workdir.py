"""What a run's workdir holds besides its results, and who may write or wipe it.

A workdir that the command line runs in holds, next to the checkpoints and metrics:

* ``config.json`` (:data:`CONFIG_RECORD`): the run's config. A later command in the same
  workdir must have the same config, apart from :data:`RESUMABLE_FIELDS` (what is
  logged, not what is computed).
* ``.likelihood_jax_run`` (:data:`MARKER_FILE`): the marker, holding a run id, written
  when the run starts. Only a folder that holds it is a run of this project, and only
  such a folder may be wiped by ``--overwrite``.
* ``.likelihood_jax_lock`` (:data:`LOCK_FILE`): the lock of the process training in the
  workdir (its pid, host and start time). A second run in the same workdir is refused
  while that process lives; the lock of a process that died (``kill -9``) is taken over.

Checkpoints carry :func:`config_hash` of the config that wrote them (a sha256 over the
config without :data:`RESUMABLE_FIELDS` and :data:`EVAL_FIELDS`), so a checkpoint is
never resumed, or evaluated, under another config, even when ``config.json`` is gone.

This module imports no jax (the command line uses it before JAX starts).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import uuid
from typing import Any

import ml_collections

CONFIG_RECORD = "config.json"
MARKER_FILE = ".likelihood_jax_run"
LOCK_FILE = ".likelihood_jax_lock"
#: Fields that may differ when a run is resumed: they change what is logged, not what is
#: computed.
RESUMABLE_FIELDS = ("log_every", "eval_every", "checkpoint_every", "num_plot_samples",
                    "stage_root")
#: Fields that change only how a checkpoint is evaluated (``--mode eval`` may change them).
EVAL_FIELDS = ("eval_batches", "eval_batch_size")


class WorkdirError(ValueError):
    """The workdir cannot be used (a file, not writable, locked, a bad record)."""


def as_dict(config: ml_collections.ConfigDict | dict) -> dict:
    """``config`` as the plain JSON data written to ``config.json``."""
    if isinstance(config, ml_collections.ConfigDict):
        return json.loads(config.to_json_best_effort())
    return json.loads(json.dumps(config))


def flatten(config: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a.b": value}`` for every leaf of a nested dict."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differing_fields(saved: dict, current: dict, ignore: tuple[str, ...] = RESUMABLE_FIELDS
                     ) -> list[str]:
    """Sorted dotted names of the leaves in which two configs differ, except ``ignore``."""
    old, new = flatten(as_dict(saved)), flatten(as_dict(current))
    return sorted(k for k in set(old) | set(new)
                  if old.get(k) != new.get(k) and k not in ignore)


def config_hash(config: ml_collections.ConfigDict | dict) -> str:
    """The first 16 hex digits of a sha256 over ``config`` without resumable or eval fields.

    Two configs get the same hash exactly when they differ only in
    :data:`RESUMABLE_FIELDS` and :data:`EVAL_FIELDS` (a ``ConfigDict`` and the
    ``config.json`` written from it hash alike).
    """
    leaves = {k: v for k, v in flatten(as_dict(config)).items()
              if k not in RESUMABLE_FIELDS + EVAL_FIELDS}
    text = json.dumps(leaves, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe_fields(names: list[str], limit: int = 6) -> str:
    """``"a, b, c ..."``: at most ``limit`` names."""
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def read_record(workdir: str) -> dict | None:
    """The config recorded in ``workdir/config.json``; None when there is none.

    Raises:
      WorkdirError: the file is not a JSON object (the message names the file).
    """
    path = os.path.join(workdir, CONFIG_RECORD)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise WorkdirError(f"{path} is not valid JSON ({err}); restore it or choose "
                           f"another --workdir") from None
    if not isinstance(record, dict):
        raise WorkdirError(f"{path} holds a {type(record).__name__}, not a config")
    return record


def write_json_atomically(path: str, value: Any) -> None:
    """Writes ``value`` to a temporary name and renames it: readers see all or nothing."""
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(partial, path)


def is_marked_run(workdir: str) -> bool:
    """Whether ``workdir`` holds the :data:`MARKER_FILE` of a run of this project."""
    return os.path.isfile(os.path.join(workdir, MARKER_FILE))


def mark_run(workdir: str) -> str:
    """Writes :data:`MARKER_FILE` (a new run id) unless present; returns the run id."""
    path = os.path.join(workdir, MARKER_FILE)
    if os.path.isfile(path):
        with open(path) as f:
            return f.read().strip()
    run_id = uuid.uuid4().hex
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "w") as f:
        f.write(run_id + "\n")
    os.replace(partial, path)
    return run_id


def wipe(workdir: str) -> None:
    """Deletes everything in a marked run's ``workdir`` except the lock.

    Raises:
      WorkdirError: ``workdir`` holds no :data:`MARKER_FILE` (it is not a run of this
        project, and nothing is deleted).
    """
    import shutil

    if not is_marked_run(workdir):
        raise WorkdirError(f"{workdir} holds no {MARKER_FILE} marker: it is not a run of "
                           f"likelihood_jax, so it is not deleted")
    for name in sorted(os.listdir(workdir), key=lambda n: n == MARKER_FILE):  # marker last
        if name == LOCK_FILE:
            continue
        path = os.path.join(workdir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def make_writable(workdir: str) -> None:
    """Creates ``workdir`` if needed and checks that files can be written in it.

    Raises:
      WorkdirError: it is a file, or it (or a parent) cannot be created or written.
    """
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise WorkdirError(f"workdir {workdir} is a file, not a folder; choose another "
                           f"--workdir")
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, f".write_test{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise WorkdirError(f"cannot write in workdir {workdir}: {err.strerror or err} "
                           f"({err.filename or workdir})") from None


# -- The lock -----------------------------------------------------------------


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _this_process() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "start": _process_start(os.getpid())}


def _is_alive(holder: dict[str, Any]) -> bool:
    """Whether the process that wrote a lock still runs (another host's: assumed so)."""
    if not holder:  # unreadable: no process could have written it (locks appear whole)
        return False
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    start = _process_start(pid)
    return start is None or holder.get("start") in (None, start)  # else the pid was reused


def _read_lock(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            holder = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: stale
    return holder if isinstance(holder, dict) else {}


def lock_holder(workdir: str) -> dict[str, Any] | None:
    """The content of ``workdir``'s lock (pid, host, start), or None without a lock."""
    return _read_lock(os.path.join(workdir, LOCK_FILE))


def _create_lock(path: str, holder: dict[str, Any]) -> bool:
    """Creates the lock file holding ``holder`` whole; False if it exists."""
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "w") as f:
        json.dump(holder, f)
    try:
        os.link(partial, path)  # atomic, fails if it exists: never seen half-written
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: create it exclusively instead
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(holder, f)
        return True
    finally:
        os.remove(partial)


def _remove_stale(path: str, stale: dict[str, Any]) -> None:
    """Removes the lock at ``path`` if it is still ``stale`` (not one taken meanwhile)."""
    aside = f"{path}.stale{os.getpid()}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read_lock(aside) != stale:  # another process took it over first
        with contextlib.suppress(OSError):
            os.link(aside, path)  # put it back
    os.remove(aside)


def acquire_lock(workdir: str) -> bool:
    """Takes ``workdir``'s lock for this process; True if it was taken now.

    Re-entrant: False when this process already holds it. The lock of a process
    that no longer runs (killed) is taken over.

    Raises:
      WorkdirError: another live process holds the lock.
    """
    path = os.path.join(workdir, LOCK_FILE)
    me = _this_process()
    for _ in range(5):
        if _create_lock(path, me):
            return True
        holder = lock_holder(workdir)
        if holder is None:
            continue  # released meanwhile
        if holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
            return False
        if _is_alive(holder):
            raise WorkdirError(
                f"workdir {workdir} is in use by process {holder.get('pid')} on "
                f"{holder.get('host')} (lock file {path}); wait for that run to end, "
                f"or delete the lock file if that process is gone")
        _remove_stale(path, holder)  # a dead process's lock: take it over
    raise WorkdirError(f"could not take the lock {path}: other processes keep taking it")


def release_lock(workdir: str) -> None:
    """Removes ``workdir``'s lock if this process holds it."""
    holder = lock_holder(workdir)
    me = _this_process()
    if holder and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(workdir, LOCK_FILE))


@contextlib.contextmanager
def locked(workdir: str):
    """Holds ``workdir``'s lock (created and checked writable first) for the block."""
    make_writable(workdir)
    taken = acquire_lock(workdir)
    try:
        yield
    finally:
        if taken:
            release_lock(workdir)
