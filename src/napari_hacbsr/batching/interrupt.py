"""The worker plugin of local clusters that keeps Ctrl-C from killing their workers.

Ctrl-C in a terminal reaches the whole process group, the worker processes of a local cluster too;
they died of it mid-item (Dask's CancelledError tracebacks filled the terminal) while the batch's own
process stops the items cleanly (`BatchRun.cancel`). Imported only once `distributed` is known to be
installed.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class IgnoreInterrupt(WorkerPlugin):
    """Ignore SIGINT in each worker process (also in workers restarted after a death)."""

    name = "hacbsr-ignore-interrupt"

    def setup(self, worker: Any) -> None:
        """Called on the worker process's main thread (its event loop), where signal handlers are set."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
