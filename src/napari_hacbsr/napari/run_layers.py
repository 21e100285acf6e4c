"""The layers of one napari run: what the run controller writes, always on the main thread.

A mixin of ``run.HACBSRRun``: the SR layer keeps the source's display, tiles are painted into it,
the kernel goes to a hidden layer, the kernel map to its own layers, and the user's selection is
given back after every write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .kernel_map_layers import add_kernel_map_layers
from .layer_rules import unwrap

if TYPE_CHECKING:  # pragma: no cover
    from ..core.records import Result, Step


class RunLayers:
    """Layer writing for HACBSRRun (which sets the attributes used here)."""

    def _live_metadata(self, step: Step) -> dict[str, Any]:
        from ..core.records import package_version

        return {
            "status": "running",
            "version": package_version(),
            "source_layer": self.source_name,
            "sr_layer": self.sr_name,
            "kernel_layer": self.kernel_name,
            "config": self.config.to_dict(),
            "plan": self.plan.to_dict(),
            "seed": self.config.seed,
            "device": self.device,
            "device_name": self.device_description,
            "iteration": int(step.iteration),
            "total": int(step.total),
            "stage": step.stage,
            "losses": dict(step.losses),
        }

    def _present(self, layer: Any) -> bool:
        raw = unwrap(layer)
        return layer is not None and any(unwrap(x) is raw for x in self.viewer.layers)

    def _show(
        self,
        sr: np.ndarray | None,
        kernel: np.ndarray | None,
        provenance: dict[str, Any],
        final: bool,
        box: tuple[int, int, int, int] | None = None,
        result: Result | None = None,
    ) -> None:
        metadata = {"hacbsr": provenance}
        sr_metadata = {**metadata, **self._sr_georef}
        layers = unwrap(self.viewer).layers
        active = layers.selection.active
        selected = set(layers.selection)
        # A live layer the user deleted is not re-created until the final result arrives.
        if box is not None:  # a tile of a tiled run: painted into the frame (never creates the layer)
            if self._present(self.sr_layer) and sr is not None:
                self.sr_layer.data[box[0] : box[2], box[1] : box[3]] = sr
                self.sr_layer.refresh()
        elif self._present(self.sr_layer):
            if sr is not None:  # (None: keep the picture shown)
                self.sr_layer.data = sr
            self.sr_layer.metadata = sr_metadata
            self.sr_layer.contrast_limits = self._sr_style["contrast_limits"]  # the source's, at every update
        elif sr is not None and (self.sr_layer is None or final):
            self.sr_layer = self.viewer.add_image(
                sr if final else np.array(sr),  # a live layer is painted into: our own copy
                name=self.sr_name,
                metadata=sr_metadata,
                **self._sr_style,
                **self._sr_geometry,
            )
        if kernel is not None:
            if self._present(self.kernel_layer):
                self.kernel_layer.data = kernel
                self.kernel_layer.metadata = metadata
                self.kernel_layer.reset_contrast_limits()
            elif self.kernel_layer is None or final:
                # hidden: beside a crop it would cover the parent frame, and at frame zoom it is a dot;
                # the widget shows it enlarged with its width and shape
                self.kernel_layer = self.viewer.add_image(
                    kernel,
                    name=self.kernel_name,
                    metadata=metadata,
                    colormap="inferno",
                    visible=False,
                    **self._kernel_geometry,
                )
        if result is not None:
            self.kernel_map_layers = add_kernel_map_layers(
                self.viewer, self.source, result, self.kernel_name, self.origin
            )
            if result.consistency_map is not None:  # where the result disagrees with the data (fast path)
                self.kernel_map_layers.append(self._add_consistency_layer(result))
        # adding a layer makes it the active one: give the user's selection back
        layers.selection.clear()
        layers.selection.update(selected)
        layers.selection.active = active

    def _add_consistency_layer(self, result: Result) -> Any:
        """|A x − y| per LR pixel, in the data's units, over the source's pixels of the region run."""
        source = unwrap(self.source)
        scale = np.asarray(source.scale[-2:], dtype=float)
        translate = np.asarray(source.translate[-2:], dtype=float) + np.asarray(self.origin) * scale
        values = result.consistency_map
        values = values[0] if values.shape[0] == 1 else np.moveaxis(values, 0, -1).mean(axis=-1)
        finite = values[np.isfinite(values)]
        return self.viewer.add_image(
            values,
            name=self.sr_name.replace("_HACBSR_x", "_HACBSR_lr_consistency_x"),
            colormap="magma",
            contrast_limits=[0.0, float(np.percentile(finite, 99.5)) + 1e-12 if finite.size else 1.0],
            opacity=0.7,
            visible=False,
            metadata={"hacbsr": {"lr_consistency": "|A x - y| per LR pixel, data units"}},
            scale=scale,
            translate=translate,
        )
