"""The batch manifest: one record per input in OUT/hacbsr_batch.jsonl, what is done, what failed and why.

The file is JSON lines, appended as items finish (one line per change, the last line of a key wins), so
a crash costs at most a torn last line, which loading ignores. Loading compacts it to one line per key
with an atomic rename. Only the process driving the batch writes it; workers never do.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

MANIFEST_NAME = "hacbsr_batch.jsonl"
# queued: submitted, not finished (an interrupted batch leaves these); done / failed: finished;
# cancelled: stopped by the user before it finished. Only "done" is ever skipped.
STATUSES = ("queued", "done", "failed", "cancelled")
# Config fields that change what a run writes; `extra` is free-form provenance, `yield_every` only
# paces progress records.
_NOT_HASHED = ("extra", "yield_every")


def file_hash(path: str | Path) -> str:
    """sha256 of the file's bytes: the same frame under another name or folder is the same input."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_hash(config: dict[str, Any], channel_axis: int | None = None) -> str:
    """sha256 of the run's settings (config fields plus how the input is read), key order independent."""
    data = {k: v for k, v in config.items() if k not in _NOT_HASHED}
    data["channel_axis"] = channel_axis
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


class ManifestError(ValueError):
    """The manifest exists but cannot be used; the message says what to do."""


# The fields the batch reads back, and the types a record must give them (absent or null is fine,
# except where None is not in the tuple).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "status": (str,),
    "outputs": (dict, type(None)),
    "attempts": (int, type(None)),
    "content_hash": (str, type(None)),
    "config_hash": (str, type(None)),
}


def _field_problem(record: Any) -> str | None:
    """What is wrong with a parsed record's fields, or None."""
    if not isinstance(record, dict):
        return "is not a JSON object"
    if "key" not in record:
        return "has no 'key'"
    for name, types in _FIELD_TYPES.items():
        value = record.get(name)
        if name in record and (not isinstance(value, types) or isinstance(value, bool)):
            kinds = " or ".join("null" if t is type(None) else {dict: "an object", int: "an integer"}.get(t, "a string")
                                for t in types)  # fmt: skip
            return f"field {name!r} must be {kinds}, got {json.dumps(value)}"
    outputs = record.get("outputs") or {}
    if not all(isinstance(p, str) for p in outputs.values()):
        return "field 'outputs' must map each role to a path (a string)"
    if record.get("status") is not None and record["status"] not in STATUSES:
        return f"field 'status' must be one of {', '.join(STATUSES)}, got {json.dumps(record['status'])}"
    return None


class Manifest:
    """Records by key (the input's stem, which also names its outputs)."""

    def __init__(self, path: Path, records: dict[str, dict[str, Any]]):
        self.path = path
        self.records = records

    @classmethod
    def load(cls, out_dir: str | Path) -> Manifest:
        """The manifest in `out_dir` (empty when there is none yet); ManifestError when it cannot be read."""
        path = Path(out_dir) / MANIFEST_NAME
        records: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise ManifestError(f"{path}: cannot be read ({exc}); check its permissions") from None
            for number, line in enumerate(lines, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    if number != len(lines):  # a torn last line is what a crash leaves; anything else is not
                        raise ManifestError(
                            f"{path}: line {number} is not a manifest record; move the file away to start over"
                        ) from None
                    continue
                problem = _field_problem(record)
                if problem is not None:  # valid JSON that is not ours: edited by hand, or another program's
                    raise ManifestError(
                        f"{path}: line {number} {problem}; fix that line or move the file away to start over"
                    )
                records[record["key"]] = record
        manifest = cls(path, records)
        if records:
            manifest._compact()
        return manifest

    def _compact(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in self.records.values()))
        os.replace(tmp, self.path)

    def is_done(self, key: str, content_hash: str, cfg_hash: str) -> bool:
        """Finished before from the same bytes with the same settings, and every output still on disk."""
        rec = self.records.get(key)
        return bool(
            rec
            and rec.get("status") == "done"
            and rec.get("content_hash") == content_hash
            and rec.get("config_hash") == cfg_hash
            and rec.get("outputs")
            and all(Path(p).is_file() for p in rec["outputs"].values())
        )

    def update(self, key: str, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the key's record and append it to the file (flushed to disk)."""
        status = fields.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown manifest status {status!r}")
        record = {**self.records.get(key, {"key": key}), **fields, "updated": time.time()}
        self.records[key] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return record
