"""Bad options and images on `hacbsr run` / `hacbsr degrade`: exit 2 and a message that says what to do."""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_hacbsr.cli import main

from .test_output_failures import TINY


@pytest.fixture
def png(tmp_path):
    yy, xx = np.mgrid[0:40, 0:40]
    path = tmp_path / "moon.png"
    iio.imwrite(path, (127 + 100 * np.sin(xx / 3.0) * np.cos(yy / 5.0)).astype(np.uint8))
    return path


def run_err(capsys, *argv):
    with pytest.raises(SystemExit) as stop:  # argparse's own refusal
        main(list(argv))
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("roi", ["-1,0,10,10", "0,-3,10,10"])
def test_a_negative_roi_is_read_as_a_value_and_refused_in_words(png, capsys, roi):
    for form in (["--roi", roi], [f"--roi={roi}"]):
        err = run_err(capsys, "run", str(png), *form, *TINY)
        assert "x and y (the top-left column and row) must be >= 0" in err and "expected one argument" not in err


@pytest.mark.parametrize("value", ["nan", "-1", "0", "inf", "lots"])
def test_a_memory_limit_that_is_not_a_positive_number_exits_2(png, capsys, value):
    err = run_err(capsys, "run", str(png), "--memory-limit", value, *TINY)
    assert "--memory-limit must be a number of GB > 0" in err and "cannot convert" not in err


@pytest.mark.parametrize("axis", ["0", "-1", "2"])
def test_a_channel_axis_on_a_2d_image_is_refused_in_words(png, capsys, axis):
    assert main(["run", str(png), "--channel-axis", axis, *TINY]) == 2
    err = capsys.readouterr().err
    assert f"--channel-axis {axis} was given but the image is 2-D (40, 40)" in err and "IndexError" not in err


def test_a_channel_axis_out_of_range_for_a_3d_image_is_refused(tmp_path, capsys):
    path = tmp_path / "bands.tif"
    tifffile.imwrite(path, np.random.default_rng(0).random((2, 40, 40), dtype=np.float32))
    assert main(["run", str(path), "--channel-axis", "5", *TINY]) == 2
    assert "--channel-axis 5 is out of range for a 3-D image" in capsys.readouterr().err


def test_a_seed_too_large_for_the_generators_exits_2(png, capsys):
    assert main(["run", str(png), "--seed", str(2**70), *TINY]) == 2
    err = capsys.readouterr().err
    assert "seed must be an integer from 0 to 2**63 - 1" in err and "Overflow" not in err


def test_a_clip_checkpoint_that_is_not_weights_says_so(png, tmp_path, capsys):
    fake = tmp_path / "weights.pt"
    fake.write_text("these are not weights\n")
    argv = ["run", str(png), "--clip-checkpoint", str(fake), "--encoder", "clip", "-o", str(tmp_path / "o")]
    assert main([*argv, *TINY[:6], "--device", "cpu", "--quiet"]) == 3  # encoder=clip required: run-time failure
    err = capsys.readouterr().err
    assert f"CLIP checkpoint {str(fake)!r} is not an open_clip ViT-B-32 weights file" in err
    assert "give the .pt/.bin/.safetensors weights of ViT-B-32" in err  # what to do, not only the unpickler's words
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ degrade refuses what run refuses
def write(path, image):
    (tifffile.imwrite if path.suffix == ".tif" else iio.imwrite)(path, image)
    return path


@pytest.mark.parametrize(
    ("name", "image", "options", "says"),
    [
        ("nan.tif", np.full((40, 40), np.nan, np.float32), [], "no finite pixels"),
        ("complex.tif", (np.ones((40, 40)) + 1j * np.eye(40)).astype(np.complex64), [], "real numbers"),
        ("ok.png", None, ["--noise", "-1"], "noise level must be a finite number >= 0"),
        ("ok.png", None, ["--scale", "9"], "scale must be at most 8"),
        ("small.png", (np.arange(256).reshape(16, 16) % 251).astype(np.uint8), ["--scale", "4"], "gives a 4×4 LR"),
        ("line.png", np.arange(64, dtype=np.uint8)[None], [], "1×64 HR image gives a 0×32 LR image"),
    ],
)
def test_degrade_refuses_what_run_refuses(png, tmp_path, capsys, name, image, options, says):
    path = png if image is None else write(tmp_path / name, image)
    out = tmp_path / "out"
    assert main(["degrade", str(path), "-o", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not out.exists()  # nothing written, not even the folder
