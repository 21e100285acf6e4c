"""One batch item, run on a Dask worker: read -> super_resolve -> the same files as `hacbsr run`.

The files are written into a private folder under OUT/.hacbsr_tmp and renamed into OUT only when all
of them are complete (the JSON sidecar last), so a worker killed mid-item leaves no partial output in
OUT; the runner removes the orphaned private folder. Expected failures (unreadable file, invalid image,
out of memory, an OSError such as a full disk) come back as a "failed" outcome with the reason;
anything else raises, so Dask retries it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

TMP_DIR_NAME = ".hacbsr_tmp"
# Test-only fault injection: when this names a folder holding "<key>.kill" (text: how many attempts
# die, default 1), the worker process running that item counts it down and dies (os._exit) after
# writing its private files and before publishing them, as an out-of-memory kill would.
FAULT_ENV = "NAPARI_HACBSR_BATCH_FAULT_DIR"


def worker_label() -> str:
    """The worker's name in the manifest: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _fault_hook(key: str) -> None:
    folder = os.environ.get(FAULT_ENV)
    if not folder:
        return
    marker = Path(folder) / f"{key}.kill"
    try:
        remaining = int(marker.read_text().strip() or 1) - 1
    except FileNotFoundError:
        return
    if remaining > 0:
        marker.write_text(str(remaining))
    else:
        marker.unlink()
    os._exit(70)


def _publish(written: dict[str, Path], out_dir: Path) -> dict[str, str]:
    """Rename each private file into OUT (atomic per file, same file system); the JSON sidecar goes last."""
    final = {role: out_dir / path.name for role, path in written.items()}
    sidecar = json.loads(written["json"].read_text())
    sidecar["outputs"] = {role: str(path) for role, path in final.items()}  # where they live, not the tmp
    written["json"].write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
    for role in sorted(written, key=lambda r: r == "json"):
        os.replace(written[role], final[role])
    return {role: str(path) for role, path in final.items()}


def run_item(
    key: str,
    input_path: str,
    out_dir: str,
    config: dict[str, Any],
    channel_axis: int | None = None,
    stop_file: str | None = None,
) -> dict[str, Any]:
    """Super-resolve one file into `out_dir`; returns the outcome record for the manifest.

    While `stop_file` exists (the batch was stopped) the item stops within a step and publishes nothing.
    """
    from ..core.api import super_resolve
    from ..core.config import HACBSRConfig
    from ..core.errors import HACBSRError
    from ..files import read_product
    from ..outputs import write_result
    from .outdir import describe_os_error

    start = time.perf_counter()
    outcome: dict[str, Any] = {"key": key, "worker": worker_label()}
    out = Path(out_dir)
    private = out / TMP_DIR_NAME / f"{key}-{uuid.uuid4().hex[:12]}"
    stop = Path(stop_file) if stop_file else None

    def stopped() -> bool:
        return stop is not None and stop.exists()

    try:
        if stopped():
            outcome.update(status="cancelled", error="stopped before it started", seconds=0.0)
            return outcome
        image, axis, georef = read_product(input_path, channel_axis)  # georef: as `hacbsr run` writes it
        cfg = HACBSRConfig.from_dict(config)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            result = super_resolve(image, cfg.scale, config=cfg, channel_axis=axis, should_stop=stopped)
        source = {"input": str(input_path), "input_shape": list(image.shape)}
        written = write_result(private, Path(input_path).stem, result, source, georef)
        _fault_hook(key)
        if stopped():  # the last look before publishing: after it, the item is done and recorded so
            outcome.update(status="cancelled", error="stopped before it finished")
            outcome["seconds"] = time.perf_counter() - start
            return outcome
        outcome.update(
            status="done",
            outputs=_publish(written, out),
            error=None,
            lr_consistency=float(result.lr_consistency),
            device=result.device,
            iterations_done=result.iterations_done,
            warnings=[str(w.message) for w in caught],
        )
    except ValueError as exc:  # unreadable file, invalid image or option: ImageReadError is a ValueError
        message = str(exc)
        outcome.update(status="failed", error=message if message.startswith(input_path) else f"{input_path}: {message}")
    except OSError as exc:  # full disk, quota, permissions: fails once, in words (a retry would fail the same)
        reason = describe_os_error(exc, out)
        outcome.update(status="failed", error=f"{input_path}: cannot read or write {exc.filename or out}: {reason}")
    except HACBSRError as exc:  # out of memory (memory already released), CLIP required but missing
        outcome.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    outcome["seconds"] = time.perf_counter() - start
    return outcome
