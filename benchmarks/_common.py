"""Helpers every benchmark shares: the HR image list, peak memory, machine provenance, CSV and Markdown.

The methods the benchmarks compare are in `benchmarks.methods`; the cached LR sets in `benchmarks.lr_cache`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import platform
import subprocess
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from napari_hacbsr.files import write_json  # noqa: F401  (the one JSON writer, atomic)

from .paths import BENCH_OUT, DEFAULT_HR_DIR, REPO_ROOT  # noqa: F401  (re-exported for the scripts)


# ---------------------------------------------------------------------------- images
def read_manifest(hr_dir: Path) -> dict[str, dict[str, str]]:
    """filename -> manifest row (empty when the folder has no MANIFEST.csv)."""
    path = Path(hr_dir) / "MANIFEST.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as fh:
        return {row["filename"]: row for row in csv.DictReader(fh)}


IMAGE_EXTS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


def list_images(
    hr_dir: Path, limit: int | None = None, select: str = "spread", names: Iterable[str] | None = None
) -> list[tuple[Path, str]]:
    """The HR images to benchmark, as (path, body) pairs, in a deterministic order.

    select="sorted": file-name order. select="spread" (default): round-robin over planetary bodies
    (Ceres first, as in the paper; then bodies alphabetically), so a small `limit` still covers
    several bodies. `names` restricts to those file names (or stems).
    """
    hr_dir = Path(hr_dir)
    if not hr_dir.is_dir():
        raise SystemExit(f"HR folder not found: {hr_dir} (pass --hr-dir)")
    manifest = read_manifest(hr_dir)
    files = sorted(p for p in hr_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if names:
        wanted = set(names)
        files = [p for p in files if p.name in wanted or p.stem in wanted]
        missing = wanted - {p.name for p in files} - {p.stem for p in files}
        if missing:
            raise SystemExit(f"image(s) not found in {hr_dir}: {sorted(missing)}")
    if not files:
        raise SystemExit(f"no images ({', '.join(IMAGE_EXTS)}) in {hr_dir}")

    def body_of(p: Path) -> str:
        row = manifest.get(p.name)
        if row and row.get("body"):
            return row["body"]
        return p.stem.split("_")[0].capitalize()

    pairs = [(p, body_of(p)) for p in files]
    if names:  # the order given
        rank = {n: i for i, n in enumerate(names)}
        pairs.sort(key=lambda pb: rank.get(pb[0].name, rank.get(pb[0].stem, 0)))
    elif select == "spread":
        groups: dict[str, list[tuple[Path, str]]] = {}
        for pair in pairs:
            groups.setdefault(pair[1], []).append(pair)
        order = sorted(groups, key=lambda b: (b.lower() != "ceres", b.lower()))
        spread: list[tuple[Path, str]] = []
        depth = 0
        while len(spread) < len(pairs):
            for body in order:
                if depth < len(groups[body]):
                    spread.append(groups[body][depth])
            depth += 1
        pairs = spread
    elif select != "sorted":
        raise ValueError(f"select must be 'spread' or 'sorted', got {select!r}")
    return pairs[:limit] if limit else pairs


def load_gray01(path: Path) -> np.ndarray:
    """An 8/16-bit image file as a 2-D float64 array in [0, 1] (colour is converted to luma)."""
    from PIL import Image

    from napari_hacbsr.core.image import unit_range_by_dtype

    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L"):
            return unit_range_by_dtype(np.asarray(im).astype(np.uint16))
        return unit_range_by_dtype(np.asarray(im.convert("L")))


def derived_seed(stem: str, scale: int, seed: int) -> int:
    """Per-image degradation seed: crc32("<stem>|x<scale>|<seed>"). Stable across runs/machines."""
    return zlib.crc32(f"{stem}|x{scale}|{seed}".encode()) & 0x7FFFFFFF


def save_png01(path: Path, img: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    from napari_hacbsr.core.image import quantize_8bit

    Image.fromarray(quantize_8bit(img).astype(np.uint8)).save(path)


# ---------------------------------------------------------------------------- peak memory
def _proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak memory of the block: CUDA max allocated on a CUDA device, else process peak RSS.

    CPU: resets the kernel's high-water mark (`echo 5 > /proc/self/clear_refs`) and reads VmHWM
    afterwards; where that is unavailable, a 20 ms sampling thread over VmRSS (or ru_maxrss) is
    used. The value is the whole process's RSS (Python + torch + data), not an increment.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.cuda = str(device).startswith("cuda")
        self.peak_mb = float("nan")
        self.kind = "cuda_max_allocated" if self.cuda else "cpu_peak_rss"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sampled = 0

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return self
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._hwm = True
        except OSError:
            self._hwm = False
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            kb = _proc_status_kb("VmRSS")
            if kb is None:
                import resource

                kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self._sampled = max(self._sampled, kb)
            self._stop.wait(0.02)

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_mb = self._sampled / 1024.0
        else:
            kb = _proc_status_kb("VmHWM")
            self.peak_mb = kb / 1024.0 if kb is not None else float("nan")


# ---------------------------------------------------------------------------- machine / provenance
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str | None = None) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
    }
    try:
        import napari_hacbsr

        info["napari_hacbsr"] = getattr(napari_hacbsr, "__version__", "?")
    except Exception:  # noqa: BLE001 - provenance only
        info["napari_hacbsr"] = None
    if device is not None:
        info["device"] = device
    return info


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        sha = out.stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return sha + ("+dirty-src" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def fmt(value: Any, digits: int = 2) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value) if value not in (None, "") else "–"
    if not np.isfinite(v):
        return "–"
    return f"{v:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """A results CSV's rows (none when the file does not exist yet)."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def append_csv_row(path: Path, row: dict[str, Any], fields: list[str]) -> None:
    """Append one finished run to a results CSV and sync it, so a crash loses at most the run in progress.

    A new file gets `fields` as its header; an existing one keeps its own columns (a CSV written by an
    older version stays readable), and a row's keys outside them are dropped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        with open(path, newline="") as fh:
            fields = next(csv.reader(fh), None) or fields
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def write_rows_csv(path: Path, rows: list[dict[str, Any]], commit: str | None) -> None:
    """A benchmark's rows as CSV, each stamped with the commit whose code produced it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*rows[0], "git_commit"])
        writer.writeheader()
        writer.writerows({**r, "git_commit": commit} for r in rows)


def print_and_write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Print rows as a markdown table and write them to `path` as CSV stamped with the current commit."""
    header = list(rows[0])
    print(markdown_table(header, [[str(r[h]) for h in header] for r in rows]))
    write_rows_csv(path, rows, git_commit())
    print(f"\nwrote {path}")
