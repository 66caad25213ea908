"""Every file and folder a user names as an output, written one way.

- :func:`check_output` refuses, before any work, an output that cannot or
  must not be written: a folder where a file is meant (or the reverse), a
  parent that is not a folder or not writable, a symbolic link, FIFO, device
  or socket (framelab never writes through them), a path that is, contains
  or lies inside one of the run's inputs (or contains the current folder),
  and a non-empty folder framelab did not write (unless ``force``).
- A folder framelab writes carries :data:`MARKER`, which records what it
  holds (:data:`KINDS`); a folder is replaced only when it is empty, or
  framelab wrote it to hold the same kind of output. Folders written before
  the marker existed are known by their own files (:func:`framelab_kind`).
- :func:`claim` takes a lock (``fcntl.flock`` on a ``.<name>.lock`` sibling
  holding the PID) for the whole run; a second run writing the same output is
  refused with a message naming the first one's PID. The lock file is created
  new (``O_EXCL``, never through a link) and nothing framelab did not create
  is ever written to; a stale one left by a killed run is removed, not reused.
  The lock is re-entrant within a process and the file is removed on release.
- :class:`AtomicFile` writes ``.<name>.tmp-<pid>-<random>`` in the same
  folder, fsyncs it and renames it into place; :func:`atomic_folder` builds a
  folder whole under such a name and swaps it in, so no file of an older
  output survives beside the new ones. Both check the target again just
  before the rename. Both remove their temporary on any
  exception, ``KeyboardInterrupt`` and ``SystemExit`` included (the CLI turns
  SIGTERM into ``SystemExit``). A temporary left by a killed run (SIGKILL)
  is removed by the next run that claims the same output: whoever holds the
  lock knows that every temporary of that output is stale.
- Modes follow the umask: a new file is ``0o666 & ~umask``, a new folder
  ``0o777 & ~umask``; a replaced file keeps its mode.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from framelab.errors import DataError, Problem

try:
    import fcntl
except ImportError:  # Windows: the lock file's O_EXCL creation is the lock (see _acquire)
    fcntl = None

#: Marks a temporary of output ``<name>``: ``.<name>.tmp-<pid>-<random>``.
TMP_MARK = ".tmp-"
#: The swapped-out old folder, removed once the new one is in place.
OLD_MARK = ".old-"
#: The file framelab writes into every folder output: a folder holding it may be replaced by the next run.
MARKER = ".framelab-output"
#: What a folder output holds, recorded in its marker: a folder is replaced only by output of the same kind.
KINDS = ("model", "dataset", "report", "scores")
#: The kind of a marker that names none (written outside a stage, or edited by hand): any kind may replace it.
ANY_KIND = "output"

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: The files of a semeval2023 (``subtask-<n>.txt``) or semeval2020 (``SI.txt``, ``TC.txt``) scores folder.
_SCORES_FILE = re.compile(r"^(subtask-\d+|SI|TC)\.txt$")


@dataclass
class _Hold:
    """One output this process holds: its lock file descriptor, the holds on it, and what the stage allowed."""

    fd: int
    count: int
    kind: str | None
    force: bool
    what: str


_held: dict[Path, _Hold] = {}
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
            _held[path].count = 1
            release(path)


#: Depth of nested :func:`uninterrupted` blocks, and the interruption they hold back.
_guard: dict = {"depth": 0, "pending": None}


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold back an interruption (SIGTERM, Ctrl-C, as the CLI raises them through :func:`interrupt`) until the
    block ends.

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


def _special(path: Path) -> str | None:
    """What ``path`` is when it is neither a regular file nor a folder (a link is one, whatever it points to)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return None


def _legacy_kind(folder: Path) -> str | None:
    """The kind of output a folder written by framelab before :data:`MARKER` existed holds, known by its files."""
    if (folder / "framelab.json").is_file() or (folder / "ensemble.json").is_file():
        return "model"
    if (folder / "data_config.json").is_file():
        return "dataset"
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        metrics = None
    if isinstance(metrics, dict) and {"task", "split"} <= set(metrics):
        return "report"
    entries = list(folder.iterdir())
    if entries and all(_SCORES_FILE.match(p.name) and _special(p) is None and p.is_file() for p in entries):
        return "scores"  # a semeval2023 or semeval2020 submission folder, and nothing else
    return None


def framelab_kind(folder: str | Path) -> str | None:
    """What framelab wrote ``folder`` to hold (one of :data:`KINDS`, or :data:`ANY_KIND`); ``None``: not framelab's."""
    folder = Path(folder)
    marker = folder / MARKER
    if _special(marker) is None and marker.is_file():
        try:
            kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            kind = None
        return kind if kind in KINDS else ANY_KIND
    try:
        return _legacy_kind(folder)
    except OSError:
        return None


def write_marker(folder: Path, kind: str | None) -> None:
    """Write :data:`MARKER` into a folder framelab is building, so that a later run may replace it."""
    text = json.dumps(
        {
            "written_by": "framelab",
            "kind": kind or ANY_KIND,
            "note": "framelab replaces this folder whole when a run writes the same kind of output here again; "
            "delete this file to keep that from happening",
        },
        indent=2,
    )
    fd = os.open(folder / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def _check_apart(path: Path, what: str, inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is, contains or lies inside an input, or that is or contains the current folder."""
    target = Path(os.path.realpath(path))
    hint = "choose an output path outside every input, model and dataset of the run"
    for item in inputs:
        if item is None or str(item) == "":
            continue
        source = Path(os.path.realpath(item))
        if target == source:
            relation = "is"
        elif source in target.parents:
            relation = "lies inside"
        elif target in source.parents:
            relation = "contains"
        else:
            continue
        raise _refuse(path, f"{what} {relation} the input {item}: writing it would destroy what the run reads", hint)
    try:
        cwd = Path(os.path.realpath(os.getcwd()))
    except FileNotFoundError:
        return
    if target == cwd or target in cwd.parents:
        raise _refuse(path, f"{what} is or contains the current folder ({cwd})", "name a folder of its own, e.g. out")


def _check_replaceable(path: Path, what: str, kind: str | None) -> None:
    """Refuse to replace a non-empty folder that framelab did not write, or wrote to hold another kind of output."""
    try:
        entries = sorted(os.listdir(path))
    except OSError:
        return  # unreadable: the write itself fails with the reason
    if not entries:
        return
    made = framelab_kind(path)
    if made is None:
        shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
        raise _refuse(
            path,
            f"{what} is a folder framelab did not write (it holds {shown}; no {MARKER})",
            "choose a new or empty folder, or pass --force to replace it and everything in it",
        )
    if kind is not None and made not in (kind, ANY_KIND):
        raise _refuse(
            path,
            f"{what} holds a framelab {made}, not a {kind}",
            f"choose another folder, or pass --force to replace the {made}",
        )


def check_output(
    path: str | Path,
    *,
    folder: bool = False,
    what: str = "--out",
    kind: str | None = None,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
) -> Path:
    """``path`` as a Path when it may be written as a file (``folder=False``) or a folder; else :class:`DataError`.

    The one check every stage makes before its work (and :class:`AtomicFile` and :class:`AtomicFolder`
    again before they rename): ``inputs`` are what the run reads (input files and folders, model and
    dataset folders); ``kind`` is what a folder output holds (:data:`KINDS`); ``force`` lets a non-empty
    folder that framelab did not write (or wrote for another kind) be replaced. Links, FIFOs, devices and
    sockets are refused even with ``force``, and so is an output overlapping an input.
    """
    path = Path(path)
    kind_word = "folder" if folder else "file"
    if path.name in ("", ".", ".."):
        raise _refuse(
            path,
            f"{what} must name a {kind_word}, not {str(path)!r}",
            f"give a {kind_word} name, e.g. {'out' if folder else 'out.jsonl'}",
        )
    special = _special(path)
    if special is not None:
        raise _refuse(
            path,
            f"{what} is {special}; framelab writes only regular files and folders, never through one",
            f"give the path of a new or regular {kind_word}",
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
    _check_apart(path, what, inputs)
    if folder and path.is_dir() and not force:
        _check_replaceable(path, what, kind)
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


def _open_lock(lock: Path) -> tuple[int, bool] | None:
    """The lock file, opened without following a link: (descriptor, whether this call created it); ``None``: retry.

    A new lock file is created with ``O_EXCL``; an existing one is opened only when it is a regular file,
    and never truncated (it may be a killed run's, or a hard link someone put there).
    """
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666), True
    except FileExistsError:
        pass
    special = _special(lock)
    if special is not None:
        raise _refuse(
            lock,
            f"the lock file of this output is {special}, which framelab did not make",
            f"remove {lock}, then run again; framelab never writes through it",
        )
    try:
        fd = os.open(lock, os.O_RDWR | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None  # removed by the run that held it: create it afresh
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since the check above
            raise _refuse(lock, "the lock file of this output is a symbolic link", f"remove {lock}") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(lock, "the lock file of this output is not a regular file", f"remove {lock}, then run again")
    return fd, False


def _try_lock(fd: int) -> bool:
    """Take ``flock`` on ``fd`` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
            raise
        return False
    return True


def _read_pid(fd: int) -> str:
    """What the lock file at ``fd`` says: the PID of the run that holds it (lseek + read: Windows has no pread)."""
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 32).decode("ascii", "replace").strip()


def _same_file(path: Path, fd: int) -> bool:
    try:
        here, held = os.lstat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _acquire(path: Path) -> int:
    lock = _lock_path(path)
    for _ in range(20):
        opened = _open_lock(lock)
        if opened is None:
            continue
        fd, created = opened
        if fcntl is None and not created:
            # Without flock a lock file that exists is held, or was left by a killed run: only a person can tell.
            other = _read_pid(fd)
            os.close(fd)
            raise _refuse(
                path,
                f"another framelab run{f' (PID {other})' if other.isdigit() else ''} is writing this output "
                f"(lock {lock})",
                f"wait for it to finish; if no framelab run is writing it, delete {lock}",
            )
        if fcntl is not None and not _try_lock(fd):
            other = _read_pid(fd)
            os.close(fd)
            who = f"framelab run (PID {other})" if other.isdigit() else "framelab run"
            raise _refuse(
                path,
                f"another {who} is writing this output (lock {lock})",
                "wait for it to finish, or choose another --out",
            )
        # The holder before us may have removed the file between our open and our lock: then lock the new one.
        if not _same_file(lock, fd):
            os.close(fd)
            continue
        if not created:
            # A killed run's lock (or a file put there): ours now, but never written to. Remove it, make our own.
            os.unlink(lock)
            os.close(fd)
            continue
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd
    raise _refuse(path, f"could not take the lock {lock}", "retry; another run keeps replacing it")


def acquire(
    path: str | Path,
    *,
    folder: bool = False,
    what: str = "--out",
    kind: str | None = None,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
) -> Path:
    """Check (:func:`check_output`) and lock output ``path``, remove its stale temporaries; pair with :func:`release`.

    Re-entrant within a process: a later hold keeps the ``what``, ``kind`` and ``force`` of the first,
    with which the rename into place checks the output again.
    """
    path = Path(path).absolute()
    with uninterrupted():
        if path in _held:
            _held[path].count += 1
            return path
        check_output(path, folder=folder, what=what, kind=kind, inputs=inputs, force=force)
        path.parent.mkdir(parents=True, exist_ok=True)
        _held[path] = _Hold(_acquire(path), 1, kind, force, what)
        try:
            remove_stale(path)
        except BaseException:
            release(path)
            raise
    return path


def release(path: str | Path) -> None:
    """Give back one hold on the lock of ``path``; the last one removes the lock file (only if it is still ours)."""
    path = Path(path).absolute()
    with uninterrupted():
        entry = _held.get(path)
        if entry is None:
            return
        entry.count -= 1
        if entry.count > 0:
            return
        del _held[path]
        lock = _lock_path(path)
        if _same_file(lock, entry.fd):
            try:
                lock.unlink()
            except FileNotFoundError:
                pass
        os.close(entry.fd)


@contextmanager
def claim(
    path: str | Path | None,
    *,
    folder: bool = False,
    what: str = "--out",
    kind: str | None = None,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
) -> Iterator[Path | None]:
    """Hold output ``path`` for the block (nothing for ``None``, standard output); arguments as :func:`acquire`."""
    if path is None:
        yield None
        return
    held = None
    try:
        # A signal held back inside acquire is raised at the end of this block, once ``held`` is set.
        with uninterrupted():
            held = acquire(path, folder=folder, what=what, kind=kind, inputs=inputs, force=force)
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
    """What a file and a folder output share: the lock held for the run, and commit = move into place, or undo
    it all."""

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

    def _check_again(self, *, folder: bool) -> None:
        """Check the target again: since the run began it may have become a link, a pipe or a folder of other files."""
        hold = _held.get(self._held) if self._held is not None else None
        if hold is None:
            check_output(self.path, folder=folder)
        else:
            check_output(self.path, folder=folder, what=hold.what, kind=hold.kind, force=hold.force)

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            if self._held is not None:
                release(self._held)


class AtomicFile(_Output):
    """A text file that appears at ``path`` only when committed; ``abort`` (or any failure) leaves ``path`` as
    it was."""

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
        self._check_again(folder=False)
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
    """A folder built whole under a temporary name, with :data:`MARKER`, and swapped in at ``path`` on commit."""

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
                write_marker(tmp, _held[self._held].kind)
        except BaseException:
            self.abort()
            raise

    def _move(self) -> None:
        """Fsync the built files and swap the folder in for ``path`` (the old one back if the swap fails)."""
        for root, _, files in os.walk(self.tmp):
            for name in files:
                with open(os.path.join(root, name), "rb") as handle:
                    os.fsync(handle.fileno())
        self._check_again(folder=True)
        with uninterrupted():
            if os.path.lexists(self.path):
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
    leaves ``final`` as it was, absent or the previous version. The folder
    holds :data:`MARKER` of the kind, and is checked with the ``force``, that
    the stage's :func:`claim` of ``final`` named.
    """
    folder = AtomicFolder(final)
    try:
        yield folder.tmp
    except BaseException:
        folder.abort()
        raise
    folder.commit()
