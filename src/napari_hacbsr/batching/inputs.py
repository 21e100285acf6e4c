"""Turn the batch's INPUT arguments (files, folders, globs) into one ordered list of image files."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from ..files import READABLE_SUFFIXES

GLOB_CHARS = set("*?[")


class BatchInputError(ValueError):
    """The inputs cannot make a batch (nothing matched, colliding names); the message says what to do."""


def _is_inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and (path == folder or folder in path.parents)


def _readable_files(paths: Iterable[Path], skip_dir: Path | None) -> list[Path]:
    return sorted(
        p
        for p in paths
        if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES and not _is_inside(p.resolve(), skip_dir)
    )


def expand_inputs(specs: Iterable[str | Path], out_dir: str | Path | None = None) -> list[Path]:
    """Files as given; folders -> their readable images (not recursive); globs -> matching readable images.

    Files inside `out_dir` are never picked up by a folder or glob (so the outputs of an earlier run in
    the same folder are not super-resolved again). Each input's stem names its outputs, so two inputs
    with one stem are an error, as is a spec that matches nothing.
    """
    skip_dir = Path(out_dir).resolve() if out_dir is not None else None
    found: list[Path] = []
    for spec in specs:
        text = str(spec)
        path = Path(text).expanduser()
        if path.is_dir():
            matches = _readable_files(path.iterdir(), skip_dir)
            if not matches and _readable_files(path.iterdir(), None):
                raise BatchInputError(
                    f"{path}: the output folder {out_dir} is this folder or holds it, and files in the output "
                    f"folder are never inputs (outputs of earlier runs); choose an output folder (-o) outside it"
                )
            if not matches:
                raise BatchInputError(
                    f"{path}: folder holds no readable images ({', '.join(sorted(READABLE_SUFFIXES))})"
                )
        elif path.exists():
            matches = [path]  # named explicitly: tried whatever its suffix, a failure is reported per item
        elif GLOB_CHARS & set(text):
            candidates = [Path(m) for m in glob.glob(str(path), recursive=True)]
            matches = _readable_files(candidates, skip_dir)
            if not matches and _readable_files(candidates, None):
                raise BatchInputError(
                    f"{text}: every matching image is inside the output folder {out_dir}, and files in the output "
                    f"folder are never inputs; choose an output folder (-o) outside them"
                )
            if not matches:
                raise BatchInputError(f"{text}: the pattern matches no readable image files")
        else:
            raise BatchInputError(f"{text}: no such file, folder or pattern")
        found.extend(matches)

    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    by_stem: dict[str, Path] = {}
    for p in unique.values():
        other = by_stem.setdefault(p.stem, p)
        if other is not p:
            raise BatchInputError(
                f"{other} and {p} share the name {p.stem!r}, so their outputs would overwrite each other; "
                f"run them as two batches with different output folders"
            )
    if not unique:
        raise BatchInputError("no inputs given")
    return list(unique.values())
