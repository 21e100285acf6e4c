"""An output folder that never holds a partial result, and output failures told in words.

`StagedOutput` probes the folder before any computation (it must exist or be creatable, be a folder and
take new files: a private staging folder is made in it), the files are written into that private folder,
and only a complete set is renamed into place (same file system, so each rename is atomic; the JSON
sidecar goes last). A failure anywhere removes the private folder and leaves OUT as it was.

`OutputError.code` is the exit status the command line returns: 2 when the folder as given cannot take
files (it is a file, read-only, not creatable: choose another with -o), 3 when writing ran out of room
(disk full, quota, file-size limit).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

#: the private folder's name prefix (hidden; batch runs use their own `.hacbsr_tmp`, cleaned by the runner)
STAGING_PREFIX = ".hacbsr_partial-"

_BAD_FOLDER = {  # errno -> reason: the folder as given cannot take files (exit 2)
    errno.EACCES: "permission denied (the folder is read-only for this user)",
    errno.EPERM: "permission denied (the folder is read-only for this user)",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "it is a file, not a folder",
    errno.ENAMETOOLONG: "the path is too long",
}
_NO_ROOM = {  # errno -> reason: writing ran out of room (exit 3)
    errno.ENOSPC: "the disk is full (no space left on the device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "a file is too large (a file-size limit, `ulimit -f`, or the file system's largest file)",
}


class OutputError(Exception):
    """The results cannot be written; the message names the folder and the reason, `code` the exit status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def describe_os_error(exc: OSError, folder: Path) -> tuple[str, int]:
    """(reason in words, exit status) for an OSError raised while writing into `folder`."""
    if exc.errno in _BAD_FOLDER:
        return _BAD_FOLDER[exc.errno], 2
    if exc.errno in _NO_ROOM:
        return _NO_ROOM[exc.errno], 3
    if exc.errno is None and "requested and" in str(exc):  # numpy/tifffile's short write ("N requested and M written")
        return _short_write_reason(folder), 3
    return exc.strerror or str(exc), 3


def _short_write_reason(folder: Path) -> str:
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        return f"a file is too large (this process may write files of at most {limit} bytes: `ulimit -f`)"
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    return "the disk is full (no space left on the device)" if free < 1 << 20 else "a write was cut short"


class StagedOutput:
    """Results written into a private folder inside `out_dir` and renamed into it only when complete.

    Use as a context manager around the run: entering probes the folder (OutputError, code 2, before
    any computation), `write(writer)` writes and publishes, leaving removes the private folder (and OUT
    itself when this run created it and nothing was published).
    """

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.private: Path | None = None
        self._created: list[Path] = []

    def __enter__(self) -> StagedOutput:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.discard()

    def _fail(self, exc: OSError, doing: str) -> OutputError:
        reason, code = describe_os_error(exc, self.out_dir)
        if code == 2:
            advice = "Choose another folder with -o"
        elif "too large" in reason:
            advice = "Raise the file-size limit, or choose another folder with -o"
        else:
            advice = "Free some space, or choose another folder with -o"
        return OutputError(f"{doing} {self.out_dir}: {reason}; no result was left there. {advice}", code)

    def open(self) -> Path:
        """Create OUT if needed and the private folder in it; OutputError (code 2) when OUT cannot take files."""
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise OutputError(f"the output folder {self.out_dir} is a file, not a folder; choose a folder with -o", 2)
        missing = [p for p in (self.out_dir, *self.out_dir.parents) if not p.exists()]
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._created = missing
            self.private = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.out_dir))
        except OSError as exc:
            self.discard()
            raise self._fail(exc, "cannot write into the output folder") from None
        return self.private

    def check_room(self, need_bytes: int) -> None:
        """OutputError (code 3, before the run) when OUT's file system has less free space than `need_bytes`."""
        try:
            free = shutil.disk_usage(self.out_dir).free
        except OSError:
            return  # (no answer: the write itself will tell)
        if free < need_bytes:
            raise OutputError(
                f"the output folder {self.out_dir} has {free / 1e6:.1f} MB free and the results need about "
                f"{need_bytes / 1e6:.1f} MB; nothing was run. Free some space, or choose another folder with -o",
                3,
            )

    def write(self, writer: Callable[[Path], dict[str, Path]]) -> dict[str, Path]:
        """`writer(private)` writes the files (returns them by role); publish them into OUT; their final paths.

        OutputError (the reason in words, code 2 or 3) for any OSError; nothing is left in OUT then.
        """
        if self.private is None:
            self.open()
        assert self.private is not None
        try:
            written = writer(self.private)
            return self._publish(written)
        except OSError as exc:
            raise self._fail(exc, "cannot write the results into") from None

    def _publish(self, written: dict[str, Path]) -> dict[str, Path]:
        final = {role: self.out_dir / path.name for role, path in written.items()}
        moved: list[Path] = []
        try:
            for role in sorted(written, key=lambda r: r == "json"):  # the sidecar last: it says the set is complete
                os.replace(written[role], final[role])
                moved.append(final[role])
        except OSError:
            for path in moved:  # all or nothing
                path.unlink(missing_ok=True)
            raise
        self._created = []  # OUT now holds a result: keep it
        return final

    def discard(self) -> None:
        """Remove the private folder, and the folders this run created if they hold nothing else."""
        if self.private is not None:
            shutil.rmtree(self.private, ignore_errors=True)
            self.private = None
        for folder in self._created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []
