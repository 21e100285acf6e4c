"""Errors the engine raises on purpose, with messages that say what to do."""


class HACBSRError(RuntimeError):
    """Base class for run-time failures of a HACBSR run (bad input raises ValueError instead)."""


class OutOfMemoryError(HACBSRError):
    """The device ran out of memory; memory has been released and the next run can proceed."""


class EncoderUnavailableError(HACBSRError):
    """The CLIP encoder was required (encoder="clip") but its weights could not be loaded."""


class EncoderFallbackWarning(RuntimeWarning):
    """CLIP was wanted (encoder="auto") but its weights are missing: the pixel encoder is used."""
