"""One writer per run folder: an exclusive advisory lock (``flock``) on ``RUN/.lock``, taken before anything in the
folder is written and held while the process lives. The OS drops it when the process dies, so a SIGKILL never
leaves a stale lock; a second writer gets one line naming the process that holds it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

from evonas.errors import UserError

LOCK_FILE = ".lock"


class RunLock:
    """The held lock of one run folder (released by ``release``, or when the process ends)."""

    def __init__(self, run_dir: Path, handle: IO[str] | None) -> None:
        self.run_dir = run_dir
        self._handle = handle

    def release(self) -> None:
        """Let another process write the folder (the file is emptied: nobody holds it now)."""
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            self._handle.close()  # closing the file drops the flock
            self._handle = None


def lock_run(run_dir: Path) -> RunLock:
    """Take the folder's lock (making the folder if needed); a UserError if another process writes it. Platforms
    without ``fcntl`` get no lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX: nothing to lock with
        return RunLock(run_dir, None)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the life of the run
    except OSError as exc:
        raise UserError(f"cannot open {run_dir / LOCK_FILE} ({exc.strerror}); check the folder is writable") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{run_dir} is being written by {holder}; wait for it to finish or stop it, then try again") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} ({' '.join(['evonas', *sys.argv[1:3]])})")
    handle.flush()
    return RunLock(run_dir, handle)
