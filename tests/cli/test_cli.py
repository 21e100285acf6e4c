import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_hacbsr.cli import main

TINY_ARGS = ["--iters", "2", "--kernel-warmup", "3", "--encoder", "fallback", "--device", "cpu", "--quiet"]


@pytest.fixture
def hr_png(tmp_path):
    yy, xx = np.mgrid[0:40, 0:40]
    img = (127 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0)).astype(np.uint8)
    path = tmp_path / "hr.png"
    iio.imwrite(path, img)
    return path


def test_degrade_then_run(hr_png, tmp_path, capsys):
    assert main(["degrade", str(hr_png), "--scale", "2", "--noise", "0.01", "-o", str(tmp_path / "lr")]) == 0
    lr_png = tmp_path / "lr" / "hr_LR_x2.png"
    assert iio.imread(lr_png).shape == (20, 20)
    params = json.loads((tmp_path / "lr" / "hr_LR_x2.json").read_text())
    assert params["protocol"] == "stride" and params["kernel_size"] == 11
    assert tifffile.imread(tmp_path / "lr" / "hr_LR_x2_kernel.tif").shape == (11, 11)

    out = tmp_path / "sr"
    assert main(["run", str(lr_png), "--scale", "2", "-o", str(out), *TINY_ARGS]) == 0
    sr = tifffile.imread(out / "hr_LR_x2_HACBSR_x2.tif")
    assert sr.shape == (40, 40) and sr.dtype == np.float32
    assert iio.imread(out / "hr_LR_x2_HACBSR_x2.png").dtype == np.uint8
    assert tifffile.imread(out / "hr_LR_x2_HACBSR_kernel.tif").shape == (11, 11)
    meta = json.loads((out / "hr_LR_x2_HACBSR.json").read_text())
    assert meta["config"]["scale"] == 2 and meta["iterations_done"] == 2 and meta["encoder"].startswith("fallback")
    assert "device CPU" in capsys.readouterr().out


def test_unreadable_and_missing_files_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["run", str(bad), *TINY_ARGS]) == 2
    assert "not a readable PNG image" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "absent.tif"), *TINY_ARGS]) == 2
    assert "no such file" in capsys.readouterr().err


def test_invalid_image_and_scale_exit_2(hr_png, tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    iio.imwrite(tiny, np.zeros((4, 4), np.uint8) + np.arange(4, dtype=np.uint8))
    assert main(["run", str(tiny), "--scale", "2", *TINY_ARGS]) == 2
    assert "at least" in capsys.readouterr().err
    assert main(["run", str(hr_png), "--scale", "1", *TINY_ARGS]) == 2
    assert "scale" in capsys.readouterr().err


def test_rgb_png_keeps_colour_and_gray_rgb_becomes_gray(tmp_path):
    from napari_hacbsr.files import read_image

    rng = np.random.default_rng(0)
    colour = (rng.random((20, 20, 3)) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "c.png", colour)
    img, axis = read_image(tmp_path / "c.png")
    assert img.shape == (20, 20, 3) and axis == -1
    gray = np.repeat(colour[..., :1], 3, axis=-1)
    iio.imwrite(tmp_path / "g.png", gray)
    img, axis = read_image(tmp_path / "g.png")
    assert img.shape == (20, 20) and axis is None


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.png", b"just some text, not a picture\n", "contents are not a readable PNG image"),
        ("notes.txt", b"hello\n", "'.txt' files are not images HACBSR reads"),
    ],
)
def test_unreadable_files_say_what_is_wrong_and_what_is_accepted(tmp_path, capsys, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["run", str(path), *TINY_ARGS]) == 2
    err = capsys.readouterr().err
    assert says in err and "Accepted: PNG, TIFF" in err
    for noise in ("pyav", "opencv", "unpack_from", "Traceback"):
        assert noise not in err


def test_too_small_image_fails_before_any_progress_bar(tmp_path, capsys):
    path = tmp_path / "tiny.png"
    iio.imwrite(path, (np.random.default_rng(0).random((10, 10)) * 255).astype(np.uint8))
    assert main(["run", str(path), "--iterations", "2", "--encoder", "fallback", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "needs at least 17×17" in err
    assert "it/s" not in err and "HACBSR ×2" not in err  # no tqdm bar was started


def test_png_preview_uses_the_source_display_mapping(hr_png, tmp_path):
    """An 8-bit source keeps 0..255: its PNG and the SR PNG blink against each other."""
    out = tmp_path / "sr"
    assert main(["run", str(hr_png), "-o", str(out), *TINY_ARGS]) == 0
    sr = tifffile.imread(out / "hr_HACBSR_x2.tif")
    png = iio.imread(out / "hr_HACBSR_x2.png")
    np.testing.assert_array_equal(png, np.round(np.clip(sr, 0, 255)).astype(np.uint8))


def test_run_reports_the_noise_level_and_the_loss_schedule_it_chose(hr_png, tmp_path, capsys):
    yy, xx = np.mgrid[0:20, 0:20]
    noise = np.random.default_rng(0).normal(0, 10, (20, 20))  # 5 % of the 200-level range
    lr_png = tmp_path / "hr_LR_x2.png"
    iio.imwrite(lr_png, np.clip(127 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0) + noise, 0, 255).astype(np.uint8))
    assert main(["run", str(lr_png), "--scale", "2", "-o", str(tmp_path / "a"), *TINY_ARGS]) == 0
    record = json.loads((tmp_path / "a" / "hr_LR_x2_HACBSR.json").read_text())
    assert record["config"]["lr_noise"] is None  # the user's config as given: a replay estimates again
    estimated = record["plan"]["lr_noise"]
    assert estimated > 0.01  # 5 % noise on a 40 px sine: above the gate, the paper's share (1 of 2)
    gain = estimated / 0.01  # the hyper-Laplacian's weight follows the noise above the gate
    said = (
        f"1-SSIM for 1 of 2 iterations, then MSE, hyper-Laplacian ×{gain:.1f} for the noise "
        f"(LR noise {100 * estimated:.2f} % of its range, gate 1 %)"
    )
    assert said in capsys.readouterr().out
    known = ["--lr-noise", "0.001"]  # the user's own noise level is used as given
    assert main(["run", str(lr_png), "--scale", "2", "-o", str(tmp_path / "b"), *TINY_ARGS, *known]) == 0
    assert json.loads((tmp_path / "b" / "hr_LR_x2_HACBSR.json").read_text())["plan"]["lr_noise"] == 0.001
    assert "1-SSIM for all 2 iterations (LR noise 0.10 % of its range, gate 1 %)" in capsys.readouterr().out
