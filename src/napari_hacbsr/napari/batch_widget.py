"""The "Batch" dock widget: Plugins → HACBSR → Batch.

Super-resolves a folder (or the open Image layers) into an output folder through `batching.BatchRun`,
on a local Dask cluster or the scheduler address given. The batch runs in a plain thread; its progress
reaches the widget through `ensure_main_thread`, so napari's main thread never waits on a worker and a
failed batch cannot take napari down. Stop cancels the items not yet finished: running ones stop within
a step and publish nothing, so OUT and the manifest agree (`BatchRun.cancel`).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, ProgressBar, PushButton, SpinBox, TextEdit
from superqt.utils import ensure_main_thread

if TYPE_CHECKING:  # pragma: no cover
    import napari

FOLDER, LAYERS = "Folder", "Open Image layers"
LAYER_COPIES = "layers"  # OUT/layers/<name>.tif: layers without a source file are copied here for the workers


def layer_inputs(layers: list[Any], out_dir: Path) -> list[Path]:
    """The file behind each Image layer; layers made in memory are copied (dtype kept) to OUT/layers."""
    import numpy as np
    import tifffile

    paths = []
    for layer in layers:
        source = getattr(getattr(layer, "source", None), "path", None)
        if source and Path(source).is_file():
            paths.append(Path(source))
            continue
        name = re.sub(r"[^\w.-]+", "_", layer.name).strip("._") or "layer"
        path = out_dir / LAYER_COPIES / f"{name}.tif"
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, np.asarray(layer.data))
        paths.append(path)
    return paths


class BatchWidget(Container):
    """Batch super-resolution of many images on a Dask cluster, with progress, failures and Stop."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=True)
        from ..core.config import MAX_SCALE

        self._viewer = viewer
        self._run: Any = None
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self.report: Any = None
        # HACBSRConfig fields for every item beyond scale (scripts and tests set e.g. iterations here);
        # empty means the engine's own defaults, as `hacbsr batch` without options.
        self.config_overrides: dict[str, Any] = {}

        self.source = ComboBox(label="Images", choices=[FOLDER, LAYERS], value=FOLDER)
        self.folder = FileEdit(label="Folder", mode="d", tooltip="every PNG/TIFF image in this folder")
        self.output = FileEdit(label="Output folder", mode="d", tooltip="outputs as `hacbsr run`, plus the manifest")
        self.scale = SpinBox(label="Scale ×", value=2, min=2, max=MAX_SCALE)
        self.scheduler = LineEdit(label="Scheduler", value="", tooltip="empty: a local cluster; or tcp://host:8786")
        self.run_button = PushButton(text="Run")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.progress = ProgressBar(label="Progress", value=0, min=0, max=1)
        self.status = Label(label="", value="")
        self.failures = TextEdit(label="Failures", value="")
        self.failures.native.setReadOnly(True)
        self.extend(
            [
                self.source,
                self.folder,
                self.output,
                self.scale,
                self.scheduler,
                self.run_button,
                self.stop_button,
                self.progress,
                self.status,
                self.failures,
            ]
        )
        self.source.changed.connect(self._on_source)
        self.run_button.changed.connect(self._on_run)
        self.stop_button.changed.connect(self._on_stop)

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """Whether a batch is running."""
        return self._thread is not None and self._thread.is_alive()

    def _on_source(self, _value: Any = None) -> None:
        self.folder.enabled = self.source.value == FOLDER

    def _image_layers(self) -> list[Any]:
        from napari.layers import Image

        return [layer for layer in self._viewer.layers if isinstance(layer, Image)]

    # ------------------------------------------------------------------ run / stop
    def _on_run(self, _value: Any = None) -> None:
        if self.running:
            return
        out = Path(self.output.value)
        if str(self.output.value) in ("", "."):
            self.status.value = "Choose an output folder first."
            return
        if self.source.value == LAYERS and not self._image_layers():
            self.status.value = "There are no Image layers open; open some or choose a folder."
            return
        self.failures.value = ""
        self.progress.value = 0
        self.report = None
        self._run = None
        self._stop_requested.clear()
        self._set_running(True)
        self.status.value = "Starting the cluster…" if not self.scheduler.value else "Connecting…"
        layers = self._image_layers() if self.source.value == LAYERS else None
        args = (layers, Path(self.folder.value), out, int(self.scale.value), self.scheduler.value.strip() or None)
        self._thread = threading.Thread(target=self._work, args=args, daemon=True, name="hacbsr-batch")
        self._thread.start()

    def _work(self, layers, folder: Path, out: Path, scale: int, scheduler: str | None) -> None:
        from ..batching.runner import BatchRun
        from ..core.config import HACBSRConfig

        try:
            inputs = layer_inputs(layers, out) if layers is not None else [folder]
            config = HACBSRConfig().replace(scale=scale, **self.config_overrides)
            run = BatchRun(inputs, out, config, scheduler=scheduler, on_item=self._on_item, log=self._on_log)
            self._run = run
            if self._stop_requested.is_set():  # Stop came while the inputs were being gathered
                run.cancel()
            self._on_planned(len(run.files))
            report = run.run()
        except (ValueError, ImportError, ConnectionError, OSError) as exc:
            self._on_finished(None, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a batch failure must never take napari down
            self._on_finished(None, f"{type(exc).__name__}: {exc}")
            return
        self._on_finished(report, "")

    def _on_stop(self, _value: Any = None) -> None:
        self._stop_requested.set()
        if self._run is not None:
            self._run.cancel()
        self.stop_button.enabled = False
        self.status.value = "Stopping: running items stop within a step and publish nothing…"

    def _set_running(self, running: bool) -> None:
        self.run_button.enabled = not running
        self.stop_button.enabled = running
        for control in (self.source, self.folder, self.output, self.scale, self.scheduler):
            control.enabled = not running
        if not running:
            self._on_source()

    # ------------------------------------------------------------------ progress (main thread)
    @ensure_main_thread
    def _on_planned(self, total: int) -> None:
        self.progress.max = max(total, 1)
        self.status.value = f"{total} images"

    @ensure_main_thread
    def _on_log(self, message: str) -> None:
        self.status.value = message

    @ensure_main_thread
    def _on_item(self, record: dict[str, Any], done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.value = f"{done} of {total}: {Path(record.get('input', record['key'])).name} {record['status']}"
        if record["status"] == "failed":
            line = f"{Path(record.get('input', record['key'])).name}: {' '.join(str(record.get('error')).split())}"
            self.failures.value = f"{self.failures.value}\n{line}".strip()

    @ensure_main_thread
    def _on_finished(self, report: Any, error: str) -> None:
        self.report = report
        self._set_running(False)
        if report is None:
            self.status.value = f"Batch not run: {error}"
            return
        self.status.value = report.summary()
        self.progress.value = sum(1 for item in report.items if item["status"] != "cancelled")
