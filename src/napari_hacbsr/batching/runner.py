"""Drive a batch on Dask distributed: a local cluster by default, any cluster by its address, one code path.

The driving process hashes the inputs, skips what the manifest says is done, submits one task per
remaining input (`item.run_item`) and records each outcome in the manifest as it finishes
(`as_completed`). Workers read the inputs and write OUT themselves, so a remote cluster needs the same
paths on its workers (a shared file system) and napari-hacbsr installed there.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core.config import HACBSRConfig
from .cluster import LOCAL_CLUSTER_CONFIG, SCHEDULER_ENV, connect, require_distributed, start_local_cluster
from .inputs import expand_inputs
from .item import TMP_DIR_NAME, run_item
from .manifest import Manifest, config_hash, file_hash
from .outdir import OutputLock, probe_output_folder
from .report import BatchReport

# Retries of an item whose task raised unexpectedly (expected failures are outcomes, never retried).
DEFAULT_RETRIES = 1
# After Stop or Ctrl-C, how long the batch waits for the items running on workers: they poll the stop
# file every step and return without publishing, or return done when they were already publishing, so
# the manifest says what OUT holds. Past this, they are cancelled and recorded so (a second Ctrl-C too).
STOP_WAIT_S = 60.0
POLL_S = 0.2  # how often the driver looks for finished items
LOST = "scheduler-connection-lost"  # Dask's reason for the futures of a client that lost its scheduler


def _failure_reason(future) -> str:
    from distributed import KilledWorker

    exc = future.exception()
    if isinstance(exc, KilledWorker):
        return (
            "the worker running this item died each time it was tried (killed: out of memory, or a crash); "
            "try a smaller image or a machine with more memory"
        )
    return f"{type(exc).__name__}: {exc}"


def _cancel_reason(future) -> str:
    try:
        future.result(timeout=0)
    except BaseException as exc:  # noqa: BLE001 - FutureCancelledError carries Dask's reason in its text
        return str(exc)
    return ""


class BatchRun:
    """One batch: plan (hash inputs, skip what is done) then `run()`; `cancel()` may come from any thread."""

    def __init__(
        self,
        inputs: Iterable[str | Path],
        out: str | Path,
        config: HACBSRConfig,
        *,
        scheduler: str | None = None,
        workers: int | None = None,
        channel_axis: int | None = None,
        retries: int = DEFAULT_RETRIES,
        progress: bool = False,
        on_item: Callable[[dict[str, Any], int, int], Any] | None = None,
        log: Callable[[str], Any] | None = None,
    ):
        require_distributed()  # before any work: the message names the extra to install
        self.out = Path(out)
        self.files = expand_inputs(inputs, self.out)
        probe_output_folder(self.out)  # a file, a read-only folder: refused before any work
        self.config = config
        self.scheduler, self.workers = scheduler, workers
        self.channel_axis, self.retries = channel_axis, retries
        self.progress, self.on_item = progress, on_item
        self.log = log or (lambda message: None)
        self._cancelled = threading.Event()
        self._batch_id = uuid.uuid4().hex[:8]
        # workers see Stop through this file (the batch needs a file system they share with it anyway)
        self._stop_file = self.out / TMP_DIR_NAME / f"stop-{self._batch_id}"
        self._client = None
        self._pending: dict[Any, str] = {}
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Stop (from any thread): running items stop within a step without publishing, the rest never start."""
        self._cancelled.set()
        try:
            self._stop_file.parent.mkdir(parents=True, exist_ok=True)
            self._stop_file.touch()
        except OSError:  # OUT gone or unwritable: the items are cancelled after STOP_WAIT_S instead
            pass

    def run(self) -> BatchReport:
        """Run the items still to do on the cluster and return the BatchReport."""
        probe_output_folder(self.out)
        with OutputLock(self.out):  # one batch per OUT: refuses a second one, naming the first
            return self._run_locked()

    def _run_locked(self) -> BatchReport:
        start = time.perf_counter()
        manifest = Manifest.load(self.out)
        report = BatchReport(out_dir=self.out, manifest=manifest.path)
        cfg = self.config.to_dict()
        cfg_hash = config_hash(cfg, self.channel_axis)
        todo: list[tuple[str, Path, str]] = []
        for path in self.files:
            key = path.stem
            try:
                content = file_hash(path)
            except OSError as exc:
                record = manifest.update(key, input=str(path), status="failed", error=f"{path}: cannot be read ({exc})")
                report.items.append(record)
                continue
            if manifest.is_done(key, content, cfg_hash):
                report.items.append({**manifest.records[key], "status": "skipped"})
            else:
                todo.append((key, path, content))
        self._notify_planned(report, len(self.files))
        if todo and not self._cancelled.is_set():
            try:
                self._execute(todo, cfg, cfg_hash, manifest, report)
            except KeyboardInterrupt:
                report.interrupted = True
                self.cancel()
        finished = {item["key"] for item in report.items}
        for key, path, _ in todo:  # stopped or interrupted before it finished: the next run does it
            if key not in finished:
                record = manifest.update(key, input=str(path), status="cancelled", error="stopped before it finished")
                report.items.append(record)
        self._pending.clear()
        report.wall_seconds = time.perf_counter() - start
        return report

    def _address(self) -> str:
        return self.scheduler or os.environ.get(SCHEDULER_ENV) or "the local cluster"

    def _notify_planned(self, report: BatchReport, total: int) -> None:
        if self.on_item is not None:
            for done, record in enumerate(report.items, 1):
                self.on_item(record, done, total)

    def _execute(self, todo, cfg, cfg_hash, manifest: Manifest, report: BatchReport) -> None:
        import logging

        # the Client logs the lost scheduler as tracebacks; the report says it in words
        client_log = logging.getLogger("distributed.client")
        level = client_log.level
        with connect(self.scheduler, self.workers) as client:
            report.dashboard = client.dashboard_link
            self.log(f"Dask dashboard: {report.dashboard}")
            client_log.setLevel(logging.CRITICAL)
            try:
                with self._lock:
                    self._client = client
                    self._submit(client, todo, cfg, cfg_hash, manifest)
                self._collect(manifest, report)
                if self._pending and report.error is None:  # not back within STOP_WAIT_S of Stop
                    client.cancel(list(self._pending))
            finally:
                client_log.setLevel(level)
                with self._lock:
                    self._client = None
        if not self._pending:
            shutil.rmtree(self.out / TMP_DIR_NAME, ignore_errors=True)  # private files of killed workers

    def _submit(self, client, todo, cfg, cfg_hash, manifest: Manifest) -> None:
        for key, path, content in todo:
            previous = manifest.records.get(key, {})
            manifest.update(
                key,
                input=str(path),
                content_hash=content,
                config_hash=cfg_hash,
                status="queued",
                error=None,
                attempts=(previous.get("attempts") or 0) + 1,
                queued_at=time.time(),
            )
            args = (key, str(path), str(self.out), cfg, self.channel_axis, str(self._stop_file))
            task = f"hacbsr-{key}-{self._batch_id}"
            future = client.submit(run_item, *args, key=task, retries=self.retries, pure=False)
            self._pending[future] = key

    def _collect(self, manifest: Manifest, report: BatchReport) -> None:
        """Record each item as it finishes (any order); after Stop, wait (bounded) for the running ones."""
        distributed = require_distributed()
        total = len(self.files)
        bar = self._bar(total, len(report.items))
        completed = distributed.as_completed(list(self._pending))
        deadline = None
        try:
            while not completed.is_empty():
                try:
                    if self._cancelled.is_set() and deadline is None:
                        deadline = time.monotonic() + STOP_WAIT_S
                    if deadline is not None and time.monotonic() > deadline:
                        return
                    ready = completed.next_batch(block=False)
                    if not ready:
                        time.sleep(POLL_S)
                    for future in ready:
                        if self._record(future, manifest, report, total, bar):
                            return  # the scheduler is gone: what did not finish is recorded cancelled
                except KeyboardInterrupt:
                    if report.interrupted:  # a second Ctrl-C: stop waiting for the running items
                        return
                    report.interrupted = True
                    self.log("hacbsr: interrupted; waiting for the running items to stop (Ctrl-C again: don't wait)")
                    self.cancel()
        finally:
            if bar is not None:
                bar.close()

    def _record(self, future, manifest: Manifest, report: BatchReport, total: int, bar) -> bool:
        """Record one finished future; True when it says the scheduler was lost."""
        with self._lock:
            key = self._pending.pop(future, None)
        if key is None:
            return False
        if future.status == "finished":
            outcome = {k: v for k, v in future.result().items() if k != "key"}
        elif future.status == "cancelled":
            # the batch cancels nothing itself before Stop: a future cancelled otherwise lost its scheduler
            if not self._cancelled.is_set() or LOST in _cancel_reason(future):
                self._pending[future] = key  # recorded cancelled with the rest
                report.error = (
                    f"lost the Dask scheduler at {self._address()} (it stopped or the network "
                    f"failed); the items not finished are recorded cancelled: run the same batch again to resume"
                )
                self.log(f"hacbsr: error: {report.error}")
                return True
            outcome = {"status": "cancelled", "error": "stopped before it finished"}
        else:
            outcome = {"status": "failed", "error": _failure_reason(future)}
        record = manifest.update(key, **outcome, finished_at=time.time())
        report.items.append(record)
        if bar is not None:
            bar.update(1)
        if self.on_item is not None:
            self.on_item(record, len(report.items), total)
        return False

    def _bar(self, total: int, already: int):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=already, desc="HACBSR batch", unit="item")


__all__ = ["LOCAL_CLUSTER_CONFIG", "BatchRun", "run_batch", "start_local_cluster"]  # (benchmarks/batch.py)


def run_batch(
    inputs: Iterable[str | Path] | str | Path, out: str | Path, config: HACBSRConfig, **options: Any
) -> BatchReport:
    """Plan and run a batch (see `BatchRun` for the options); returns its report."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    return BatchRun(inputs, out, config, **options).run()
