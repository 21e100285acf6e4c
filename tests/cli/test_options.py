"""`--preset` and `--config` on `hacbsr run` / `batch`: the config's layers and the messages for bad files."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from napari_hacbsr.cli import build_parser, main
from napari_hacbsr.cli.options import engine_config
from napari_hacbsr.core.config import HACBSRConfig

from .test_cli import TINY_ARGS


def _config(*argv: str) -> HACBSRConfig:
    return engine_config(build_parser().parse_args(["run", "in.png", *argv]))


@pytest.fixture
def lr_png(tmp_path):
    yy, xx = np.mgrid[0:20, 0:20]
    path = tmp_path / "lr.png"
    iio.imwrite(path, (127 + 100 * np.sin(xx / 2.0) * np.cos(yy / 3.0)).astype(np.uint8))
    return path


def test_no_options_give_the_default_config_and_given_options_override():
    assert _config() == HACBSRConfig()
    config = _config("--seed", "3", "-s", "4", "--no-ck", "--ssim-share", "0.25", "--device", "cpu")
    assert (config.seed, config.scale, config.use_cks, config.ssim_share, config.device) == (3, 4, False, 0.25, "cpu")
    assert config.use_history and config.mode == "hacbsr"  # (flags left out keep the defaults)


def test_preset_is_the_base_and_options_override_it():
    assert _config("--preset", "default") == HACBSRConfig()
    noise_free = _config("--preset", "noise-free", "--seed", "2")
    assert noise_free.ssim_share == 1.0 and noise_free.seed == 2
    assert _config("--preset", "paper").sampling == "stride"


def test_config_file_bare_or_provenance_and_options_override_it(tmp_path):
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"mode": "mlmc", "seed": 5, "iterations": 7, "use_cks": False}))
    config = _config("--config", str(bare), "--seed", "9")
    assert (config.mode, config.seed, config.iterations, config.use_cks) == ("mlmc", 9, 7, False)

    written = HACBSRConfig(scale=3, theta_h=0.25, lr_noise=0.02, device="cpu")
    provenance = tmp_path / "run_HACBSR.json"
    provenance.write_text(json.dumps({"version": "x", "seed": 0, "config": written.to_dict(), "iterations_done": 3}))
    assert _config("--config", str(provenance)) == written
    assert _config("--config", str(provenance), "--mode", "mlmc") == written.replace(mode="mlmc")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"seed": 1, "bogus": 2}', "unknown HACBSRConfig field(s) ['bogus']"),
        ("[1, 2]", "expected a JSON object"),
        ('{"scale": 1}', "scale"),
    ],
)
@pytest.mark.parametrize("command", ["run", "batch"])
def test_bad_config_files_exit_2_with_a_message(lr_png, tmp_path, capsys, content, says, command):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    argv = [command, str(lr_png), *(["-o", str(tmp_path / "out")] if command == "batch" else []), "--config", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--config {path}" in err and says in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_preset_and_config_together_or_an_unknown_preset_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "in.png", "--preset", "paper", "--config", str(tmp_path / "run.json")])
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "in.png", "--preset", "nonsense"])
    assert exc.value.code == 2 and "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_a_run_replayed_from_its_json_gives_the_same_image(lr_png, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["run", str(lr_png), "-o", str(first), "--seed", "4", "--ssim-share", "0.5", *TINY_ARGS]) == 0
    written = json.loads((first / "lr_HACBSR.json").read_text())
    assert written["config"]["seed"] == 4 and written["config"]["ssim_share"] == 0.5
    assert main(["run", str(lr_png), "-o", str(second), "--config", str(first / "lr_HACBSR.json"), "--quiet"]) == 0
    replayed = json.loads((second / "lr_HACBSR.json").read_text())
    assert replayed["config"] == written["config"]
    sr_first, sr_second = (tifffile.imread(folder / "lr_HACBSR_x2.tif") for folder in (first, second))
    np.testing.assert_array_equal(sr_second, sr_first)


@pytest.mark.parametrize("module", ["napari_hacbsr", "napari_hacbsr.cli"])
def test_python_dash_m_runs_the_cli(module):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("napari-hacbsr "), proc.stderr


def test_run_with_the_noise_free_preset_is_the_api_run_of_that_preset_bit_for_bit(lr_png, tmp_path):
    from napari_hacbsr.core.api import super_resolve
    from napari_hacbsr.core.presets import preset
    from napari_hacbsr.files import read_image

    assert main(["run", str(lr_png), "-o", str(tmp_path), "--preset", "noise-free", *TINY_ARGS]) == 0
    written = json.loads((tmp_path / "lr_HACBSR.json").read_text())
    assert written["config"]["ssim_share"] == 1.0 and written["config"]["noise_gate"] is False
    assert written["plan"]["ssim_iterations"] == written["plan"]["iterations"] == 2  # 1-SSIM throughout
    image, _ = read_image(lr_png)
    cfg = preset("noise-free", iterations=2, kernel_warmup=3, encoder="fallback", device="cpu")
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "lr_HACBSR_x2.tif"), super_resolve(image, config=cfg).sr)
