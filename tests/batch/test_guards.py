"""What a batch refuses before any work, in words: a scheduler address that is not one, an OUT that
cannot take outputs or is held by another batch, a manifest edited by hand, OUT that is the input folder;
and what an item does with a full disk. No cluster: each case ends before one would start."""

from __future__ import annotations

import errno
import http.server
import json
import socket
import threading
import time

import pytest

from napari_hacbsr.batching import cluster
from napari_hacbsr.batching.manifest import MANIFEST_NAME, Manifest, ManifestError
from napari_hacbsr.batching.outdir import LOCK_NAME, OutputFolderError, OutputLock, describe_os_error
from napari_hacbsr.cli import main

from ._data import TINY, TINY_FLAGS, write_images

pytest.importorskip("distributed")


@pytest.fixture
def silent_listener():
    """A loopback port that accepts connections and never says a word (as a wrong port can)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def http_server():
    """A tiny HTTP server on loopback, as the Dask dashboard's port is."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("listener", ["silent_listener", "http_server"])
def test_an_address_that_is_not_a_scheduler_is_refused_in_bounded_time(
    request, listener, tmp_path, monkeypatch, capsys
):
    address = request.getfixturevalue(listener)
    monkeypatch.setattr(cluster, "HANDSHAKE_SECONDS", 1)
    img = write_images(tmp_path, 1)[0]
    start = time.monotonic()
    code = main(["batch", str(img), "-o", str(tmp_path / "out"), "--scheduler", address, *TINY_FLAGS])
    assert time.monotonic() - start < 15  # it hung forever before
    assert code == 2
    err = capsys.readouterr().err
    assert f"{address} answers but is not a Dask scheduler" in err
    assert "the dashboard is usually :8787, the scheduler :8786" in err


def test_nothing_listening_says_it_cannot_reach_the_scheduler():
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(ConnectionError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        cluster.probe_scheduler(f"tcp://127.0.0.1:{port}", connect_s=0.5, handshake_s=0.5)


def test_a_second_batch_on_one_output_folder_is_refused_naming_the_first(tmp_path, capsys):
    img = write_images(tmp_path, 1)[0]
    out = tmp_path / "out"
    out.mkdir()
    with OutputLock(out):  # as the first batch holds it for its whole run
        info = json.loads((out / LOCK_NAME).read_text())
        assert main(["batch", str(img), "-o", str(out), *TINY_FLAGS]) == 2
        err = capsys.readouterr().err
        assert f"{out}: another hacbsr batch is writing into this folder (pid {info['pid']} on {info['host']}" in err
        assert not (out / MANIFEST_NAME).exists()
        with pytest.raises(OutputFolderError, match="another hacbsr batch"):
            OutputLock(out).__enter__()
    with OutputLock(out):  # released: the next batch takes it
        pass


def test_an_output_folder_that_is_a_file_is_refused_before_any_work(tmp_path, capsys):
    img = write_images(tmp_path, 1)[0]
    out = tmp_path / "out.tif"
    out.write_bytes(b"mine")
    assert main(["batch", str(img), "-o", str(out), *TINY_FLAGS]) == 2
    assert f"{out}: is a file, not a folder" in capsys.readouterr().err
    assert out.read_bytes() == b"mine"


def test_an_output_folder_that_cannot_be_written_is_refused_in_words(tmp_path, capsys, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "out"))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # (tests run as root, which chmod does not stop)
    img = write_images(tmp_path, 1)[0]
    assert main(["batch", str(img), "-o", str(tmp_path / "out"), *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out'}: cannot write the outputs here (the file system is read-only)" in err


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"key": "a", "status": "done", "outputs": "x"}, "line 1 field 'outputs' must be an object or null, got \"x\""),
        ({"key": "a", "status": "queued", "attempts": "abc"}, "field 'attempts' must be an integer or null"),
        ({"key": "a", "status": "finished"}, "field 'status' must be one of queued, done, failed, cancelled"),
        ([1, 2], "line 1 is not a JSON object"),
    ],
)
def test_manifest_records_with_wrong_types_name_the_file(tmp_path, capsys, record, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text(json.dumps(record) + "\n" + json.dumps({"key": "b", "status": "done"}) + "\n")
    with pytest.raises(ManifestError, match="fix that line or move the file away"):
        Manifest.load(out)
    img = write_images(tmp_path, 1)[0]
    assert main(["batch", str(img), "-o", str(out), *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert f"{out / MANIFEST_NAME}: " in err and message in err and "Traceback" not in err


def test_attempts_null_is_read_as_none_so_far(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"key": "a", "status": "failed", "attempts": None}) + "\n")
    assert Manifest.load(tmp_path).records["a"]["attempts"] is None  # and counts as 0 when resubmitted


@pytest.mark.parametrize("where", ["same", "inside"])
def test_output_folder_that_holds_the_inputs_says_so(tmp_path, capsys, where):
    out = tmp_path / "data"
    inputs = out if where == "same" else out / "in"
    write_images(inputs, 2)
    assert main(["batch", str(inputs), "-o", str(out), *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert f"the output folder {out} is this folder or holds it" in err and "holds no readable images" not in err
    assert main(["batch", str(inputs / "*.png"), "-o", str(out), *TINY_FLAGS]) == 2
    assert "every matching image is inside the output folder" in capsys.readouterr().err


def test_a_full_disk_fails_the_item_once_in_words_and_leaves_no_file(tmp_path, monkeypatch):
    from napari_hacbsr import files
    from napari_hacbsr.batching.item import TMP_DIR_NAME, run_item
    from napari_hacbsr.core.config import HACBSRConfig

    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(files, "write_tiff", disk_full)
    monkeypatch.setattr("napari_hacbsr.outputs.write_tiff", disk_full)
    img = write_images(tmp_path / "in", 1)[0]
    out = tmp_path / "out"
    outcome = run_item("frame0", str(img), str(out), HACBSRConfig(scale=2, **TINY).to_dict())  # no raise: no retry
    assert outcome["status"] == "failed"
    assert outcome["error"].startswith(f"{img}: cannot read or write ")
    assert outcome["error"].endswith(": the disk is full (no space left on the device)")
    assert [p.name for p in out.iterdir()] == [TMP_DIR_NAME] and not any((out / TMP_DIR_NAME).iterdir())


def test_a_short_write_without_errno_is_told_in_words(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10, 10, 0))
    assert describe_os_error(OSError("2304 requested and 1980 written"), tmp_path).startswith("the disk is full")
