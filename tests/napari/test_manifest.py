"""The npe2 manifest is valid, declares what the issue asks for, and importing stays cheap."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import napari_hacbsr

MANIFEST = Path(napari_hacbsr.__file__).with_name("napari.yaml")
ROOT = Path(__file__).resolve().parents[2]


def test_manifest_contents():
    from npe2 import PluginManifest

    mf = PluginManifest.from_file(MANIFEST)
    assert mf.name == "napari-hacbsr"
    assert mf.categories == ["Image Processing"]
    widgets = {w.display_name: w.command for w in mf.contributions.widgets}
    # two widgets: napari's menu becomes Plugins -> HACBSR -> {Super-Resolution, Batch}
    assert widgets == {
        "Super-Resolution": "napari-hacbsr.make_widget",
        "Batch": "napari-hacbsr.make_batch_widget",
    }
    commands = {c.id: c.python_name for c in mf.contributions.commands}
    assert commands["napari-hacbsr.make_widget"] == "napari_hacbsr.napari.widget:HACBSRWidget"
    assert commands["napari-hacbsr.make_batch_widget"] == "napari_hacbsr.napari.batch_widget:BatchWidget"
    filter_menu = mf.contributions.menus["napari/layers/filter"]
    assert [m.command for m in filter_menu] == ["napari-hacbsr.make_widget"]
    samples = {s.key: s.display_name for s in mf.contributions.sample_data}
    assert set(samples) == {"moon_x2", "moon_x4"}
    assert all("degraded" in name for name in samples.values())


def test_installed_manifest_is_this_file_and_root_symlink_matches():
    from npe2 import PluginManifest

    installed = PluginManifest.from_distribution("napari-hacbsr")
    assert installed.name == "napari-hacbsr"
    root_link = ROOT / "napari.yaml"
    if root_link.exists():  # the repository's convenience symlink
        assert root_link.resolve() == MANIFEST.resolve()


def test_npe2_validate_with_imports():
    npe2 = shutil.which("npe2") or str(Path(sys.executable).with_name("npe2"))
    proc = subprocess.run([npe2, "validate", "napari-hacbsr", "--imports"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in proc.stdout


def test_import_and_manifest_do_not_load_torch_clip_or_qt():
    code = (
        "import sys, json, napari_hacbsr, npe2\n"
        "npe2.PluginManifest.from_distribution('napari-hacbsr')\n"
        "import napari_hacbsr.napari.layer_rules, napari_hacbsr.napari.placement, napari_hacbsr.napari.sample_data\n"
        "heavy = ('torch', 'open_clip', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("name", ["run_in_viewer", "HACBSRConfig", "super_resolve", "batch"])
def test_lazy_exports(name):
    assert callable(getattr(napari_hacbsr, name))
