"""Every file and folder a user names as an output, written one way.

- :func:`check_output` refuses, before any work, an output that cannot be
  written: a folder where a file is meant (or the reverse), a parent that is
  not a folder or not writable.
- :func:`claim` takes a lock (``fcntl.flock`` on a ``.<name>.lock`` sibling
  holding the PID) for the whole run; a second run writing the same output is
  refused with a message naming the first one's PID. The lock is re-entrant
  within a process and the file is removed on release.
- :class:`AtomicFile` writes ``.<name>.tmp-<pid>-<random>`` in the same
  folder, fsyncs it and renames it into place; :func:`atomic_folder` builds a
  folder whole under such a name and swaps it in, so no file of an older
  output survives beside the new ones. Both remove their temporary on any
  exception, ``KeyboardInterrupt`` and ``SystemExit`` included (the CLI turns
  SIGTERM into ``SystemExit``). A temporary left by a killed run (SIGKILL)
  is removed by the next run that claims the same output: whoever holds the
  lock knows that every temporary of that output is stale.
- Modes follow the umask: a new file is ``0o666 & ~umask``, a new folder
  ``0o777 & ~umask``; a replaced file keeps its mode.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from framelab.errors import DataError, Problem

#: Marks a temporary of output ``<name>``: ``.<name>.tmp-<pid>-<random>``.
TMP_MARK = ".tmp-"
#: The swapped-out old folder, removed once the new one is in place.
OLD_MARK = ".old-"

_held: dict[Path, list] = {}
#: Temporaries of this process not yet renamed into place or removed.
_live: set[Path] = set()


def cleanup() -> None:
    """Remove every temporary of this process and give back every lock it holds.

    The CLI calls it after SIGTERM or Ctrl-C: the exception they raise may
    land between a cleanup's first bytecode and its masked part, and this
    catches whatever that left.
    """
    with uninterrupted():
        for tmp in list(_live):
            _remove(tmp)
            _live.discard(tmp)
        for path in list(_held):
            _held[path][1] = 1
            release(path)


#: Depth of nested :func:`uninterrupted` blocks, and the interruption they hold back.
_guard: dict = {"depth": 0, "pending": None}


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold back an interruption (SIGTERM, Ctrl-C, as the CLI raises them through :func:`interrupt`) until the block ends.

    Taking or giving back a lock, and creating, swapping or dropping a temporary, must not be cut in half:
    that would leave a lock file or a temporary behind. A signal may reach any thread, so masking it in
    the main thread is not enough; the handler asks here instead.
    """
    _guard["depth"] += 1
    try:
        yield
    finally:
        _guard["depth"] -= 1
        if _guard["depth"] == 0 and _guard["pending"] is not None:
            pending, _guard["pending"] = _guard["pending"], None
            raise pending


def interrupt(exc: BaseException) -> None:
    """Raise ``exc`` (from a signal handler) now, or at the end of the :func:`uninterrupted` block running."""
    if _guard["depth"]:
        if _guard["pending"] is None:
            _guard["pending"] = exc
        return
    raise exc


def _refuse(path: Path, message: str, hint: str) -> DataError:
    return DataError(Problem(str(path), None, message, hint))


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def check_output(path: str | Path, *, folder: bool = False, what: str = "--out") -> Path:
    """``path`` as a Path when it can be written as a file (``folder=False``) or a folder; else :class:`DataError`."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.name in ("", ".", ".."):
        raise _refuse(
            path,
            f"{what} must name a {kind}, not {str(path)!r}",
            f"give a {kind} name, e.g. {'out' if folder else 'out.jsonl'}",
        )
    if path.is_dir() and not folder:
        raise _refuse(
            path,
            f"{what} is an existing folder, but this output is one file",
            f"name a file inside it, e.g. {path / 'out.jsonl'}",
        )
    if path.exists() and not path.is_dir() and folder:
        raise _refuse(path, f"{what} is an existing file, but this output is a folder", "name a new or existing folder")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise _refuse(
            base, f"{what} {path}: {base} is a file, not a folder", "choose an output path whose parents are folders"
        )
    if not os.access(base, os.W_OK | os.X_OK):
        raise _refuse(
            base,
            f"{what} {path}: folder is not writable",
            "choose a folder you can write to, or change its permissions",
        )
    return path


def temporary_name(path: Path) -> Path:
    """A fresh temporary sibling of ``path`` that :func:`claim` recognises as this output's."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def remove_stale(path: Path) -> list[Path]:
    """Remove the temporaries (and old folders) of output ``path``; call only while holding its lock."""
    if not path.parent.is_dir():
        return []
    stale = [
        p for p in path.parent.iterdir() if p.name.startswith((f".{path.name}{TMP_MARK}", f".{path.name}{OLD_MARK}"))
    ]
    old = [p for p in stale if p.name.startswith(f".{path.name}{OLD_MARK}")]
    if old and not os.path.lexists(path):
        # Killed between the two renames of a folder swap: the old folder goes back.
        old[0].rename(path)
        stale.remove(old[0])
    for p in stale:
        _remove(p)
    return stale


def _acquire(path: Path) -> int:
    lock = _lock_path(path)
    for _ in range(20):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            who = f"framelab run (PID {other})" if other.isdigit() else "framelab run"
            raise _refuse(
                path,
                f"another {who} is writing this output (lock {lock})",
                "wait for it to finish, or choose another --out",
            ) from None
        # The holder before us may have removed the file between our open and our lock: then lock the new one.
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)
    raise _refuse(path, f"could not take the lock {lock}", "retry; another run keeps replacing it")


def acquire(path: str | Path, *, folder: bool = False) -> Path:
    """Check and lock output ``path`` (re-entrant within a process) and remove its stale temporaries; pair with :func:`release`."""
    path = Path(path).absolute()
    with uninterrupted():
        if path in _held:
            _held[path][1] += 1
            return path
        check_output(path, folder=folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        _held[path] = [_acquire(path), 1]
        try:
            remove_stale(path)
        except BaseException:
            release(path)
            raise
    return path


def release(path: str | Path) -> None:
    """Give back one hold on the lock of ``path``; the last one removes the lock file."""
    path = Path(path).absolute()
    with uninterrupted():
        entry = _held.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[path]
        try:
            _lock_path(path).unlink()
        except FileNotFoundError:
            pass
        os.close(entry[0])


@contextmanager
def claim(path: str | Path | None, *, folder: bool = False) -> Iterator[Path | None]:
    """Hold output ``path`` for the block (nothing for ``None``, standard output)."""
    if path is None:
        yield None
        return
    held = None
    try:
        # A signal held back inside acquire is raised at the end of this block, once ``held`` is set.
        with uninterrupted():
            held = acquire(path, folder=folder)
        yield held
    finally:
        if held is not None:
            release(held)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _existing_mode(path: Path) -> int | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mode & 0o7777 if not os.path.isdir(path) else None


class _Output:
    """What a file and a folder output share: the lock held for the run, and commit = move into place, or undo it all."""

    path: Path
    done: bool
    _held: Path | None

    def _move(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def commit(self) -> str:
        """Move the output into place and release its lock; on any failure, undo it all. Returns the path."""
        try:
            self._move()
        except BaseException:
            self.abort()
            raise
        self._finish()
        return str(self.path)

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            if self._held is not None:
                release(self._held)


class AtomicFile(_Output):
    """A text file that appears at ``path`` only when committed; ``abort`` (or any failure) leaves ``path`` as it was."""

    def __init__(self, path: str | Path, *, newline: str = ""):
        self.path = Path(path)
        self.done = False
        self._held: Path | None = None
        self.tmp: Path | None = None
        self.handle: IO[str] | None = None
        try:
            # A signal held back here is raised at the end of the block; the except below then undoes it all.
            with uninterrupted():
                self._held = acquire(self.path)
                self.tmp = temporary_name(self.path)
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                _live.add(self.tmp)
                self.handle = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        except BaseException:
            self.abort()
            raise

    def _move(self) -> None:
        """Flush, fsync and rename into place (keeping a replaced file's mode)."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        mode = _existing_mode(self.path)
        if mode is not None:
            os.chmod(self.tmp, mode)
        os.replace(self.tmp, self.path)
        _live.discard(self.tmp)
        _fsync_folder(self.path.parent)

    def abort(self) -> None:
        """Drop the temporary."""
        with uninterrupted():
            try:
                if self.handle is not None:
                    self.handle.close()
            except OSError:
                pass
            if self.tmp is not None:
                _remove(Path(self.tmp))
                _live.discard(self.tmp)
            self._finish()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


class AtomicFolder(_Output):
    """A folder built whole under a temporary name and swapped in at ``path`` on commit."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.done = False
        self._held: Path | None = None
        self.tmp: Path | None = None
        try:
            with uninterrupted():
                self._held = acquire(self.path, folder=True)
                tmp = temporary_name(self.path)
                os.mkdir(tmp, 0o777)
                self.tmp = tmp
                _live.add(tmp)
        except BaseException:
            self.abort()
            raise

    def _move(self) -> None:
        """Fsync the built files and swap the folder in for ``path`` (the old one back if the swap fails)."""
        for root, _, files in os.walk(self.tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    os.fsync(handle.fileno())
        with uninterrupted():
            if self.path.exists():
                old = self.path.with_name(f".{self.path.name}{OLD_MARK}{os.getpid()}-{secrets.token_hex(4)}")
                self.path.rename(old)
                try:
                    self.tmp.rename(self.path)
                except BaseException:
                    old.rename(self.path)
                    raise
                _live.discard(self.tmp)
                shutil.rmtree(old, ignore_errors=True)
            else:
                self.tmp.rename(self.path)
                _live.discard(self.tmp)
        _fsync_folder(self.path.parent)

    def abort(self) -> None:
        """Drop the temporary folder."""
        with uninterrupted():
            if self.tmp is not None and self.tmp in _live:
                _remove(self.tmp)
                _live.discard(self.tmp)
            self._finish()


@contextmanager
def atomic_folder(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success it replaces ``final`` whole.

    A failure inside the block (an exception, Ctrl-C, SIGTERM through the CLI)
    leaves ``final`` as it was, absent or the previous version.
    """
    folder = AtomicFolder(final)
    try:
        yield folder.tmp
    except BaseException:
        folder.abort()
        raise
    folder.commit()
