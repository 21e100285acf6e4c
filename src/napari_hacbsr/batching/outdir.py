"""The batch's output folder: probed before any work, held by one batch at a time, its OSErrors in words.

A second `hacbsr batch` on the same OUT would compute every item again and its cleanup would remove
the first one's private files, so `OutputLock` holds an exclusive `fcntl.flock` on OUT/.hacbsr_batch.lock
for the whole run; the file says who holds it (pid, host, start time) for the refusal's message. The lock
file stays (removing a lock file races with a process about to lock it); the kernel drops the lock when
its holder exits, however it exits.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

LOCK_NAME = ".hacbsr_batch.lock"


class OutputFolderError(ValueError):
    """OUT cannot take the batch's outputs (a file, not writable, locked by another batch); says what to do."""


def describe_os_error(exc: OSError, folder: str | Path | None = None) -> str:
    """The reason of an OSError in words ("the disk is full ..."), as `hacbsr run` words it (`staging`)."""
    from ..staging import describe_os_error as reason_and_code

    return reason_and_code(exc, Path(folder) if folder is not None else Path("."))[0]


def probe_output_folder(out: str | Path) -> None:
    """Create OUT (with its parents) and write and remove a file in it; OutputFolderError if that fails."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out}: is a file, not a folder; choose an output folder (-o) that is a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".hacbsr_probe_", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputFolderError(
            f"{out}: cannot write the outputs here ({describe_os_error(exc, out)}); choose another output folder"
        ) from None


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["started"])))
        return f"pid {info['pid']} on {info['host']}, started {started}"
    except (ValueError, KeyError, TypeError):
        return "a process that left no details"


class OutputLock:
    """Context manager: the exclusive lock on OUT for one batch; OutputFolderError naming the holder."""

    def __init__(self, out: str | Path):
        self.path = Path(out) / LOCK_NAME
        self._fh: Any = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no flock, no lock (docs/user-guide.md says so)
            return self
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the whole batch
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.seek(0)
            holder = _holder(fh.read())
            fh.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise OutputFolderError(f"{self.path}: cannot be locked ({describe_os_error(exc)})") from None
            raise OutputFolderError(
                f"{self.path.parent}: another hacbsr batch is writing into this folder ({holder}); wait for it to "
                f"finish or choose another output folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}) + "\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor releases the flock
            self._fh = None
