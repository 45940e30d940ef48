"""Crash-safe writes: a file (or a folder, or a set of files) appears whole or not at all.

- `atomic_path(dest)` yields a temporary name beside `dest` and renames it over `dest` on
  success (`os.replace` is atomic on POSIX and Windows); on an exception it is removed.
- `atomic_folder(dest)` does the same for a folder: it is filled under a temporary name and
  swapped into place (replacing an older one), under a lock on the parent folder, so two
  concurrent writers leave the folder of one of them, never a mix.
- `commit_files(folder, {name: bytes})` writes several files as one unit (a checkpoint): all
  parts first, then a journal (the commit point), then the renames. `recover(folder)` rolls a
  journal left by a killed writer forward, so a folder holds one epoch's files, never two.
- Temporary names are `.<name>.<pid>.<random>.part`. A killed writer (`kill -9`) cannot
  remove its own, so every writer first removes the stale ones beside its destination
  (`remove_stale_parts`): those whose process is gone. Nothing else is ever deleted.
- Written files get the permissions an ordinary `open()` would give (0o666 minus the umask;
  folders 0o777 minus the umask), not the 0o600 of `mkstemp`.
- `probe_writable(folder, what)` creates a folder and proves it writable before any work,
  raising a one-line `UsageError` that names `what` (a flag or a variable).
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from aelab.settings import UsageError

PART_SUFFIX = ".part"
JOURNAL = ".aelab-commit.json"  # the commit point of `commit_files`
# .<name>.<pid>.<random>.part (mkstemp's random tail: letters, digits, _)
_PART = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<tag>[A-Za-z0-9_]+)\.part$")
_OLD_PART = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")  # .<name>.<random>.part, written before pids were added
_STARTED = time.time()


def _read_umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, for every thread, for a moment)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _read_umask()


def _ordinary_mode(path: Path, folder: bool = False) -> None:
    """Give `path` the mode `open()`/`mkdir()` would have given it under the umask."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if folder else 0o666) & ~UMASK)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return True
    try:  # a zombie (killed, not yet reaped) writes nothing more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_stale(entry: Path) -> bool:
    match = _PART.match(entry.name)
    if match is not None:
        return not _pid_alive(int(match["pid"]))
    if _OLD_PART.match(entry.name):  # no pid to ask: stale when older than this process
        with contextlib.suppress(OSError):
            return entry.lstat().st_mtime < _STARTED
    return False


def _remove(entry: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink()


def remove_stale_parts(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Remove the temporary files and folders (`.<name>.<pid>.<random>.part`) that writers
    killed before finishing left in `folder` (only `name`'s, when given); return them.
    A pending `commit_files` journal is rolled forward first, so its parts are kept."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    if (folder / JOURNAL).exists():
        recover(folder)
    pattern = f".{glob.escape(name)}.*{PART_SUFFIX}" if name is not None else f".*{PART_SUFFIX}"
    removed = []
    for entry in folder.glob(pattern):
        if _is_stale(entry):
            _remove(entry)
            removed.append(entry)
    return removed


def _part_name(destination: Path) -> tuple[str, str]:
    return f".{destination.name}.{os.getpid()}.", PART_SUFFIX


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `destination`; move it into place on success."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(destination.parent, destination.name)
    prefix, suffix = _part_name(destination)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=destination.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _ordinary_mode(tmp_path)
        os.replace(tmp_path, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    return Path(destination)


# --- several files as one unit ----------------------------------------------------------------

def commit_files(folder: str | os.PathLike, files: dict[str, bytes | None]) -> Path:
    """Write `files` ({name: content}; None removes that file) into `folder` so that a reader
    (or a later run, after `recover`) finds either all of the new files or all of the old
    ones, even if this process is killed at any moment: every part is written and synced
    first, then a journal naming them is written atomically (the commit point), then each
    part is renamed into place and the journal removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(folder)
    parts: dict[str, str | None] = {name: None for name, content in files.items() if content is None}
    try:
        for name, content in files.items():
            if content is None:
                continue
            prefix, suffix = _part_name(folder / name)
            fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
            parts[name] = Path(tmp).name
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            _ordinary_mode(Path(tmp))
        write_bytes_atomic(folder / JOURNAL, json.dumps({"parts": parts}).encode())
    except BaseException:
        for tmp in parts.values():
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    (folder / tmp).unlink()
        raise
    recover(folder)
    return folder


def recover(folder: str | os.PathLike) -> bool:
    """Finish a `commit_files` that was interrupted after its commit point (rename the parts
    its journal names into place, then remove the journal). True when there was one."""
    folder = Path(folder)
    journal = folder / JOURNAL
    try:
        parts = json.loads(journal.read_text())["parts"]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):  # a journal is written atomically: not ours
        parts = {}
    for name, tmp in (parts if isinstance(parts, dict) else {}).items():
        if not isinstance(name, str) or "/" in name or name.startswith(".") or \
                not (tmp is None or (isinstance(tmp, str) and "/" not in tmp)):
            continue
        with contextlib.suppress(FileNotFoundError):
            if tmp is None:
                (folder / name).unlink()
            else:
                os.replace(folder / tmp, folder / name)
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()
    return True


# --- folders ----------------------------------------------------------------------------------

@contextlib.contextmanager
def locked(folder: str | os.PathLike, *, wait: bool = True, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (`flock` on the folder itself: no lock file is left
    behind, and a killed holder releases it). wait=False: raise `UsageError` naming `what`
    at once when another process holds it. Where `fcntl` is missing (Windows) it locks nothing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise UsageError(f"{what or folder} is in use by another aelab run; wait for it to finish "
                             "or choose another folder") from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    return False


@contextlib.contextmanager
def atomic_folder(destination: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside `destination`; on success it replaces
    `destination` (an older folder is swapped out and removed). The folder is complete or
    absent at every moment, and concurrent writers serialise on the parent's lock, so the
    result is the folder of exactly one of them. On an exception the temporary one is removed."""
    destination = Path(destination)
    parent = destination.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(parent, destination.name)
    prefix, suffix = _part_name(destination)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    _ordinary_mode(tmp, folder=True)
    old: Path | None = None
    try:
        yield tmp
        with locked(parent):
            if destination.is_dir() and not destination.is_symlink():
                if _exchange(tmp, destination):  # one step: never absent
                    old = tmp
                else:
                    old = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
                    os.rename(destination, old / destination.name)
                    try:
                        os.rename(tmp, destination)
                    except BaseException:
                        os.rename(old / destination.name, destination)  # put the old one back
                        raise
            else:
                os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def probe_writable(folder: str | os.PathLike, what: str) -> Path:
    """Create `folder` (and its parents) and prove that a file can be written there, before
    any work is done; a failure is a one-line `UsageError` naming `what` (e.g. `--out runs`)."""
    folder = Path(folder).expanduser()
    try:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{what} is a file, not a folder: pass a folder to write into")
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=PART_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except UsageError:
        raise
    except OSError as err:
        reason = err.strerror or str(err)
        raise UsageError(f"{what}: cannot write there ({reason}: {err.filename or folder})") from None
    return folder


NON_FINITE = "non_finite"  # top-level note: where a NaN or infinity was written as null


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _finite(value: Any, path: str, found: list[str]) -> Any:
    """`value` as plain JSON data with every NaN/infinity replaced by None; their paths go to `found`."""
    if isinstance(value, float):  # numpy float64 too
        if math.isfinite(value):
            return value
        found.append(path)
        return None
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, dict):
        return {key: _finite(item, f"{path}.{key}" if path else str(key), found) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item, f"{path}[{i}]", found) for i, item in enumerate(value)]
    return _finite(_json_default(value), path, found)


def strict(obj: Any) -> Any:
    """`obj` as strict JSON data: NaN and infinities become null, and a dict gets a
    `"non_finite"` list with the path of each (e.g. `metrics.curve[3]`), added to any such
    list it already has. A non-dict holding one is refused (there is no place for the note)."""
    found: list[str] = []
    plain = _finite(obj, "", found)
    if found:
        if not isinstance(plain, dict):
            raise ValueError(f"cannot write non-finite values as strict JSON (at {', '.join(found)})")
        earlier = plain.get(NON_FINITE) or []
        plain[NON_FINITE] = list(dict.fromkeys([*earlier, *found]))
    return plain


def to_json(obj: Any) -> str:
    """Strict JSON text (see `strict`): nothing a strict parser would refuse gets out."""
    return json.dumps(strict(obj), indent=2, allow_nan=False)


def write_json_atomic(destination: str | os.PathLike, obj: Any) -> Path:
    return write_bytes_atomic(destination, (to_json(obj) + "\n").encode())


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())
