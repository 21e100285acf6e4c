"""Batch runs on a real local Dask cluster (2 worker processes): outputs, isolation, faults, skip, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_hacbsr.batching.manifest import MANIFEST_NAME, Manifest
from napari_hacbsr.batching.outdir import LOCK_NAME
from napari_hacbsr.batching.runner import BatchRun
from napari_hacbsr.cli import main
from napari_hacbsr.core.config import HACBSRConfig
from napari_hacbsr.outputs import output_paths

from ._data import TINY, TINY_FLAGS, write_images

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _files(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()}


def test_outputs_equal_hacbsr_run_and_bad_files_are_isolated(cluster, tmp_path):
    import napari_hacbsr

    torch = pytest.importorskip("torch")
    good = write_images(tmp_path / "in", 2) + write_images(tmp_path / "in", 1, side=24, prefix="wide")
    (tmp_path / "in" / "broken.png").write_bytes(b"this is not a PNG")
    write_images(tmp_path / "in", 1, side=4, prefix="tiny")  # too small for the generator at x2
    out = tmp_path / "out"

    report = napari_hacbsr.batch(tmp_path / "in", out, scale=2, scheduler=cluster.address, progress=False, **TINY)

    assert sorted(item["key"] for item in report.done) == sorted(p.stem for p in good)
    failed = {item["key"]: item["error"] for item in report.failed}
    assert set(failed) == {"broken", "tiny0"}
    assert "broken.png: the file's contents are not a readable PNG image" in failed["broken"]
    assert "tiny0.png: image is 4×4 pixels" in failed["tiny0"]
    assert report.exit_code == 1
    assert all(item["lr_consistency"] > 0 and item["seconds"] > 0 for item in report.done)
    assert not (out / ".hacbsr_tmp").exists()

    # `hacbsr run` on the same item, same settings and seed, in this process with one torch thread as a worker
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for path in good:
            ref = tmp_path / "ref" / path.stem
            assert main(["run", str(path), "-o", str(ref), "--scale", "2", *TINY_FLAGS]) == 0
            ours, theirs = output_paths(out, path.stem, 2), output_paths(ref, path.stem, 2)
            assert {p.name for p in ours.values()} == {p.name for p in theirs.values()}
            for role in ("sr_tiff", "kernel_tiff"):
                np.testing.assert_allclose(tifffile.imread(ours[role]), tifffile.imread(theirs[role]), rtol=1e-5)
            sidecar = json.loads(ours["json"].read_text())
            assert sidecar["outputs"]["sr_tiff"] == str(ours["sr_tiff"])  # the published path, not the private one
            assert sidecar["config"] == json.loads(theirs["json"].read_text())["config"]
    finally:
        torch.set_num_threads(threads)


def test_second_run_does_no_work_and_other_settings_redo(cluster, tmp_path, monkeypatch, capsys):
    write_images(tmp_path / "in", 3)
    out = tmp_path / "out"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)  # the address from the environment
    argv = ["batch", str(tmp_path / "in" / "*.png"), "-o", str(out), "--scale", "2", *TINY_FLAGS]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "done 3, skipped 0, failed 0" in first
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert main(argv) == 0
    assert "done 0, skipped 3, failed 0" in capsys.readouterr().out
    ours = (MANIFEST_NAME, LOCK_NAME)  # the batch's own files; every output stays untouched
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name not in ours} == {
        k: v for k, v in stamps.items() if k not in ours
    }

    assert main([*argv, "--seed", "1"]) == 0  # a different config hash: the work is redone
    assert "done 3, skipped 0, failed 0" in capsys.readouterr().out


def test_killed_workers_leave_no_partial_file_retry_then_report(cluster, tmp_path):
    paths = write_images(tmp_path / "in", 4, prefix="doomed")  # stems no other test uses: markers stay local
    once, always = cluster.fault_dir / f"{paths[1].stem}.kill", cluster.fault_dir / f"{paths[2].stem}.kill"
    once.touch()  # frame1: its first worker dies after writing its private files; the retry succeeds
    always.write_text("99")  # frame2: dies every time it is tried (an out-of-memory kill, say): reported
    out = tmp_path / "out"
    config = HACBSRConfig(scale=2, **TINY)

    try:
        report = BatchRun([tmp_path / "in"], out, config, scheduler=cluster.address).run()
        assert not once.exists() and int(always.read_text()) < 99, "the faults were not all injected"
    finally:
        always.unlink(missing_ok=True)

    assert sorted(i["key"] for i in report.done) == [paths[0].stem, paths[1].stem, paths[3].stem]
    assert [i["key"] for i in report.failed] == [paths[2].stem] and report.exit_code == 1
    assert "the worker running this item died each time it was tried" in report.failed[0]["error"]
    records = Manifest.load(out).records
    assert sorted(records) == [p.stem for p in paths]
    assert records[paths[2].stem]["status"] == "failed"
    done = [p for p in paths if p != paths[2]]
    written = [
        p
        for path in done
        for role, p in output_paths(out, path.stem, 2).items()
        if role not in ("consistency_tiff", "frame_kernels_tiff", "frames_csv")
    ]
    expected = {MANIFEST_NAME, LOCK_NAME} | {p.name for p in written}  # (the LR-consistency map is the fast path's)
    assert _files(out) == expected  # every good item's outputs once, no private folder, no partial file
    for path in done:
        assert tifffile.imread(output_paths(out, path.stem, 2)["sr_tiff"]).shape == (40, 40)


def test_stopped_batch_resumes_where_it_stopped(cluster, tmp_path):
    paths = write_images(tmp_path / "in", 5)
    out = tmp_path / "out"
    config = HACBSRConfig(scale=2, **TINY)
    seen = []

    def stop_after_first(record, done, total):
        seen.append((record["key"], done, total))
        run.cancel()

    run = BatchRun([tmp_path / "in"], out, config, scheduler=cluster.address, workers=2, on_item=stop_after_first)
    first = run.run()
    assert seen[0][1:] == (1, 5)
    assert 1 <= len(first.done) < 5 and first.cancelled and first.exit_code == 1
    statuses = {k: r["status"] for k, r in Manifest.load(out).records.items()}
    assert sorted(statuses) == [p.stem for p in paths] and set(statuses.values()) <= {"done", "cancelled"}
    for key, status in statuses.items():  # the manifest says what OUT holds: an item stopped published nothing
        assert output_paths(out, key, 2)["json"].is_file() == (status == "done"), (key, status)

    second = BatchRun([tmp_path / "in"], out, config, scheduler=cluster.address).run()
    assert {i["key"] for i in second.skipped} == {i["key"] for i in first.done}
    assert len(second.skipped) + len(second.done) == 5 and second.exit_code == 0
    assert all(Path(p).is_file() for p in (output_paths(out, s.stem, 2)["sr_tiff"] for s in paths))


def test_a_lost_scheduler_ends_the_batch_in_words(tmp_path):
    import subprocess
    import sys
    import threading

    from napari_hacbsr.batching.cluster import probe_scheduler

    port = 8700 + (hash(str(tmp_path)) % 80)
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen(  # a scheduler without workers: the items stay queued until it dies
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", "127.0.0.1:0"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(60):
            try:
                probe_scheduler(address, connect_s=1, handshake_s=2)
                break
            except ConnectionError:
                continue
        write_images(tmp_path / "in", 2)
        out = tmp_path / "out"

        def kill_soon(message):
            if message.startswith("Dask dashboard"):
                threading.Timer(1.0, scheduler.kill).start()

        run = BatchRun([tmp_path / "in"], out, HACBSRConfig(scale=2, **TINY), scheduler=address, log=kill_soon)
        report = run.run()
    finally:
        scheduler.kill()
        scheduler.wait()
    assert report.error is not None, report.table()
    assert report.error.startswith(f"lost the Dask scheduler at {address}")
    assert "run the same batch again to resume" in report.error and report.exit_code == 1
    assert len(report.cancelled) == 2 and report.error in report.summary()
    assert {r["status"] for r in Manifest.load(out).records.values()} == {"cancelled"}
