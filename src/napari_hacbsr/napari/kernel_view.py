"""The estimated kernel, enlarged in the dock with its shape numbers (a kernel is 11–21 px: as a
layer over a frame it is a dot, and beside a crop it would cover the parent frame).
"""

from __future__ import annotations

import numpy as np
from magicgui.widgets import Container, Label

#: side of the enlarged kernel picture, in screen pixels
VIEW_SIDE = 126


def kernel_rgba(kernel: np.ndarray, side: int = VIEW_SIDE) -> np.ndarray:
    """The kernel as an (side', side', 4) uint8 picture: inferno colours, nearest-neighbour enlarged."""
    from napari.utils.colormaps import ensure_colormap

    k = np.asarray(kernel, dtype=np.float64)
    peak = k.max()
    unit = k / peak if peak > 0 else np.zeros_like(k)
    rgba = ensure_colormap("inferno").map(unit.ravel()).reshape(*k.shape, 4)
    repeat = max(1, side // max(k.shape))
    big = np.kron(rgba, np.ones((repeat, repeat, 1)))
    return np.ascontiguousarray(np.round(big * 255).astype(np.uint8))


class KernelView(Container):
    """Enlarged kernel + "FWHM a × b px (HR), ellipticity e, orientation θ°"."""

    def __init__(self) -> None:
        super().__init__(labels=False)
        self.picture = Label(value="")
        self.numbers = Label(value="Kernel: shown here once the run has one.")
        self.numbers.native.setWordWrap(True)
        from qtpy.QtWidgets import QSizePolicy

        # (wraps to the dock's width instead of widening it; its height follows the text)
        self.numbers.native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.extend([self.picture, self.numbers])
        self.shape = None  # the last KernelShape shown

    def show_kernel(self, kernel: np.ndarray) -> None:
        """Show `kernel` enlarged with its shape numbers."""
        from qtpy.QtGui import QImage, QPixmap

        from ..core.kernel_stats import kernel_shape

        rgba = kernel_rgba(kernel)
        h, w = rgba.shape[:2]
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        self.picture.native.setPixmap(QPixmap.fromImage(image))
        self.shape = kernel_shape(kernel)
        self.numbers.value = f"Kernel {kernel.shape[0]}×{kernel.shape[1]}: {self.shape.describe()}"
