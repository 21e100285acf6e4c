"""Noticing that a docked widget was taken out of the viewer (main thread only).

napari's ``remove_dock_widget`` (which the dock's × button calls) takes the widget out of its dock with
``setParent(None)`` and deletes only the dock: the widget itself is not destroyed, so its ``destroyed``
signal may never fire while a run it started goes on. A Qt event filter sees the parent change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QEvent, QObject


class RemovalWatcher(QObject):
    """Calls `on_removed` once, when the watched widget loses the parent it was docked in."""

    def __init__(self, native: Any, on_removed: Callable[[], None]) -> None:
        super().__init__(native)
        self._on_removed: Callable[[], None] | None = on_removed
        self._docked = native.parent() is not None
        native.installEventFilter(self)

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        """Qt's hook: note docking, report the first un-docking; never consumes the event."""
        if event.type() == QEvent.Type.ParentChange:
            if watched.parent() is not None:
                self._docked = True
            elif self._docked and self._on_removed is not None:
                on_removed, self._on_removed = self._on_removed, None
                on_removed()
        return False


def watch_removal(native: Any, on_removed: Callable[[], None]) -> RemovalWatcher:
    """Watch `native` (a QWidget); `on_removed()` runs when it is taken out of its dock."""
    return RemovalWatcher(native, on_removed)
