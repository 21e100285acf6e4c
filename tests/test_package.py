import subprocess
import sys

import napari_hacbsr


def test_import_is_light():
    """napari imports plugin packages at start-up: no torch, open_clip or Qt at import time."""
    code = (
        "import sys, napari_hacbsr, napari_hacbsr.core.config; "
        "heavy = [m for m in ('torch', 'open_clip', 'qtpy', 'PyQt6', 'napari') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_public_api():
    from napari_hacbsr.core.api import super_resolve
    from napari_hacbsr.core.engine import iterate

    assert napari_hacbsr.super_resolve is super_resolve
    assert napari_hacbsr.iterate is iterate
    assert napari_hacbsr.HACBSRConfig().scale == 2
    try:
        napari_hacbsr.does_not_exist  # noqa: B018
    except AttributeError as exc:
        assert "does_not_exist" in str(exc)
    else:
        raise AssertionError("unknown attributes must raise AttributeError")


def test_core_does_not_import_napari_or_qt():
    code = (
        "import sys; import napari_hacbsr.core.engine, napari_hacbsr.core.api, napari_hacbsr.core.metrics, "
        "napari_hacbsr.core.sample, napari_hacbsr.cli; "
        "bad = [m for m in ('napari', 'qtpy', 'PyQt6', 'PySide6', 'magicgui') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
