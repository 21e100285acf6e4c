"""The benchmark scripts, one module each, run from the repository root as ``python -m benchmarks.<name>``
(``benchmarks.quality``, ``benchmarks.anchor``, ``benchmarks.speed``, ...).

Nothing here is part of the installed plugin: the modules reach the engine through its public modules
(`napari_hacbsr.core.*`) exactly as a user would. `methods` is the one table of the methods they compare.
"""
