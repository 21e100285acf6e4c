"""Output failures of `hacbsr run` and `hacbsr degrade`: found before the run, told in words with the
documented exit status (2: the folder cannot take files, 3: writing ran out of room), never a partial file set."""

import errno
import json
import os
import resource

import imageio.v3 as iio
import numpy as np
import pytest

from napari_hacbsr.cli import main

TINY = ["--iters", "2", "--inner-steps", "1", "--kernel-warmup", "2", "--encoder", "fallback", "--device", "cpu"]
TINY += ["--quiet"]


@pytest.fixture
def png(tmp_path):
    yy, xx = np.mgrid[0:40, 0:40]
    path = tmp_path / "in" / "moon.png"
    path.parent.mkdir()
    iio.imwrite(path, (127 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0)).astype(np.uint8))
    return path


def command(kind, png, out):
    return ["run", str(png), "-o", str(out), *TINY] if kind == "run" else ["degrade", str(png), "-o", str(out)]


def entries(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("kind", ["run", "degrade"])
def test_an_output_path_that_is_a_file_is_refused_before_the_run(kind, png, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert main(command(kind, png, out)) == 2
    err = capsys.readouterr().err
    assert f"{out} is a file, not a folder" in err and "Traceback" not in err
    assert "estimate" not in err  # refused before anything was computed
    assert out.read_text() == "not a folder"
    assert main(command(kind, png, out / "below")) == 2  # a path through a file
    assert "a part of the path is a file" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("kind", ["run", "degrade"])
def test_a_read_only_folder_is_refused_before_the_run(kind, png, tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(command(kind, png, out)) == 2
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err
    assert "read-only" in err and "estimate" not in err and entries(out) == []


@pytest.mark.parametrize("kind", ["run", "degrade"])
@pytest.mark.parametrize(("code", "says"), [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_a_folder_that_takes_no_files_is_refused_before_the_run(kind, code, says, png, tmp_path, capsys, monkeypatch):
    def refuse(**kwargs):  # what mkdtemp meets in a read-only folder or file system (root ignores chmod)
        raise OSError(code, os.strerror(code), kwargs.get("dir"))

    monkeypatch.setattr("tempfile.mkdtemp", refuse)
    out = tmp_path / "new" / "out"
    assert main(command(kind, png, out)) == 2
    err = capsys.readouterr().err
    assert says in err and str(out) in err and "estimate" not in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()  # the folders made for the probe are gone again


@pytest.mark.parametrize("kind", ["run", "degrade"])
def test_a_full_disk_midway_leaves_nothing_and_says_disk_full(kind, png, tmp_path, capsys, monkeypatch):
    import napari_hacbsr.cli.degrade as degrade_module
    import napari_hacbsr.outputs as outputs_module

    module = outputs_module if kind == "run" else degrade_module
    real_write_png, calls = module.write_png, []

    def write_png_then_disk_full(path, image):
        calls.append(path)
        if len(calls) == 2:  # the second PNG: some files are already written
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write_png(path, image)

    monkeypatch.setattr(module, "write_png", write_png_then_disk_full)
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.txt").write_text("kept")
    assert main(command(kind, png, out)) == 3
    err = capsys.readouterr().err
    assert "the disk is full" in err and str(out) in err and "Traceback" not in err
    assert len(calls) == 2 and entries(out) == ["earlier.txt"]  # no partial files, no private folder left


@pytest.mark.parametrize("kind", ["run", "degrade"])
def test_too_little_free_space_is_refused_before_the_run(kind, png, tmp_path, capsys, monkeypatch):
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr("napari_hacbsr.staging.shutil.disk_usage", lambda path: real(path)._replace(free=50_000))
    out = tmp_path / "out"
    assert main(command(kind, png, out)) == 3
    err = capsys.readouterr().err
    assert f"{out} has 0.1 MB free and the results need about" in err and "estimate" not in err
    assert not out.exists()


def test_a_file_size_limit_is_told_in_words(png, tmp_path, capsys):
    """A real limit (`ulimit -f`): tifffile's short write ("N requested and M written") becomes words, exit 3."""
    out = tmp_path / "out"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4000, hard))  # the 80² float32 SR TIFF needs 25 kB
    try:
        status = main(command("run", png, out))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    err = capsys.readouterr().err
    assert status == 3, err
    assert "a file is too large" in err and "ulimit -f" in err and "requested and" not in err
    assert entries(out) == []


def test_a_finished_run_leaves_only_its_files_and_names_them(png, tmp_path):
    out = tmp_path / "out"
    assert main(command("run", png, out)) == 0
    names = entries(out)
    assert not [n for n in names if n.startswith(".")]  # the private folder is gone
    record = json.loads((out / "moon_HACBSR.json").read_text())
    assert sorted(os.path.basename(p) for p in record["outputs"].values()) == names  # final paths, not private
    assert all(os.path.dirname(p) == str(out) for p in record["outputs"].values())


def test_a_failed_run_removes_the_output_folder_it_created(png, tmp_path, capsys):
    out = tmp_path / "made" / "out"
    assert main([*command("run", png, out), "--roi", "30,30,20,20"]) == 2  # leaves the image
    assert "leaves the 40×40 image" in capsys.readouterr().err
    assert not (tmp_path / "made").exists()
