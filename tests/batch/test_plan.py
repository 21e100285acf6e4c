"""Planning a batch without a cluster: input expansion, the manifest, the report, bad arguments (exit 2)."""

from __future__ import annotations

import sys

import pytest

from napari_hacbsr.batching.inputs import BatchInputError, expand_inputs
from napari_hacbsr.batching.manifest import MANIFEST_NAME, Manifest, ManifestError, config_hash, file_hash
from napari_hacbsr.batching.report import BatchReport
from napari_hacbsr.cli import main

from ._data import write_images


def test_folders_globs_and_files_expand_to_unique_readable_images(tmp_path):
    a = write_images(tmp_path / "a", 2)
    b = write_images(tmp_path / "b", 1, prefix="other")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    odd = tmp_path / "c" / "scan.dat"
    odd.parent.mkdir()
    odd.write_bytes(b"?")
    out = tmp_path / "a" / "out"
    write_images(out, 1, prefix="frame0_HACBSR_x")  # earlier outputs inside OUT are never inputs

    found = expand_inputs([tmp_path / "a", str(tmp_path / "b" / "*.png"), a[0], odd], out_dir=out)
    assert found == [*a, *b, odd]  # folder order sorted, a duplicate listed once, a named file kept


@pytest.mark.parametrize(
    ("spec", "message"),
    [("missing.png", "no such file, folder or pattern"), ("*.tif", "matches no readable image files")],
)
def test_inputs_that_match_nothing_say_so(tmp_path, monkeypatch, spec, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BatchInputError, match=message):
        expand_inputs([spec])


def test_inputs_sharing_a_stem_are_refused(tmp_path):
    first = write_images(tmp_path / "x", 1)[0]
    second = write_images(tmp_path / "y", 1)[0]
    with pytest.raises(BatchInputError, match="share the name 'frame0'"):
        expand_inputs([first, second])


def test_manifest_keeps_last_record_survives_torn_line_and_checks_outputs(tmp_path):
    image = write_images(tmp_path, 1)[0]
    sr = tmp_path / "sr.tif"
    sr.write_bytes(b"x")
    manifest = Manifest.load(tmp_path)
    content, cfg = file_hash(image), config_hash({"scale": 2, "seed": 0})
    manifest.update("frame0", content_hash=content, config_hash=cfg, status="queued")
    manifest.update("frame0", status="done", outputs={"sr_tiff": str(sr)})
    with open(tmp_path / MANIFEST_NAME, "a") as fh:
        fh.write('{"key": "frame1", "stat')  # what a crash mid-write leaves

    again = Manifest.load(tmp_path)
    assert list(again.records) == ["frame0"] and again.records["frame0"]["status"] == "done"
    assert len((tmp_path / MANIFEST_NAME).read_text().splitlines()) == 1  # compacted
    assert again.is_done("frame0", content, cfg)
    assert not again.is_done("frame0", content, config_hash({"scale": 2, "seed": 1}))  # other settings
    assert not again.is_done("frame0", "another-input", cfg)
    assert config_hash({"seed": 0, "scale": 2, "extra": {"note": 1}}) == cfg  # provenance is not a setting
    sr.unlink()
    assert not again.is_done("frame0", content, cfg)  # an output was deleted: redo


def test_manifest_with_a_corrupt_middle_line_is_refused(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text('garbage\n{"key": "a", "status": "done"}\n')
    with pytest.raises(ManifestError, match="line 1 is not a manifest record; move the file away"):
        Manifest.load(tmp_path)


def test_report_exit_codes_and_table(tmp_path):
    done = {"key": "a", "input": "/x/a.png", "status": "done", "seconds": 2.0, "lr_consistency": 1e-3, "worker": "w:1"}
    failed = {"key": "b", "input": "/x/b.png", "status": "failed", "error": "b.png: cannot be\nread"}
    report = BatchReport(tmp_path, tmp_path / MANIFEST_NAME, items=[done, {**done, "key": "c", "status": "skipped"}])
    assert report.exit_code == 0
    report.items.append(failed)
    assert report.exit_code == 1
    table = report.table()
    assert "b.png: cannot be read" in table and "1.000e-03" in table
    assert "done 1, skipped 1, failed 1" in table.splitlines()[-1]
    report.interrupted = True
    assert report.exit_code == 130


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/*.png"], "matches no readable image files"),
        (["{img}", "--scale", "1"], "scale must be at least 2"),
        (["{img}", "--workers", "0"], "--workers must be >= 1"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys, args, message):
    img = write_images(tmp_path, 1)[0]
    argv = ["batch", *(a.format(img=img) for a in args), "-o", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()


def test_missing_distributed_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    img = write_images(tmp_path, 1)[0]
    assert main(["batch", str(img), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "pip install 'napari-hacbsr[batch]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was planned or written
