"""The napari face of HACBSR: dock widgets, the run controller and its worker thread, layers, npe2 hooks.

Everything that imports napari, magicgui or Qt lives here; the engine (``core``), the file I/O
(``files``, ``outputs``, ``mission``) and the batch runner (``batching``) never import this package.
This ``__init__`` imports nothing, so ``napari_hacbsr.napari.<module>`` costs only that module.
(Inside this package, ``import napari`` is still napari itself: imports are absolute.)
"""
