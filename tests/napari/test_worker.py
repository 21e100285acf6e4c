"""The worker knows its run only through `request_stop`: quit() is the run's cooperative stop."""

from __future__ import annotations

import threading

from napari_hacbsr.napari.worker import HACBSRWorker


def _steps():
    yield 1


def test_quit_asks_the_run_to_stop_and_keeps_the_worker_going(qapp):
    worker = HACBSRWorker(_steps)
    asked: list[str] = []
    worker.request_stop = asked.append
    worker.quit()
    worker.stop()  # (the alias)
    assert asked == ["stopped by the user", "stopped by the user"]
    assert not worker.abort_requested  # the engine ends on its own and returns its estimate


def test_without_a_run_quit_is_superqts_and_abort_sets_the_stop_event(qapp):
    worker = HACBSRWorker(_steps)
    worker.quit()
    assert worker.abort_requested
    worker = HACBSRWorker(_steps)
    worker.stop_event = threading.Event()
    worker.request_stop = lambda reason: None
    worker.abort()
    assert worker.stop_event.is_set() and worker.abort_requested
