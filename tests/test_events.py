"""The upload event: validation and blob resolution (CONTRACT.md section 1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forensics.errors import BlobNotFound, BlobOutsideRoot, InvalidEvent
from forensics.events import UploadEvent, resolve_blob


def test_valid_event_round_trips():
    ev = UploadEvent.from_json({"evidence_id": "E:1.a_b-c", "seller_id": "S1", "blob": "x.jpg",
                                "uploaded_at": "2026-01-02T03:04:05Z", "claimed": {"total": 12.5, "junk": 1}})
    assert ev.uploaded_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert ev.claimed == {"total": "12.5"}
    assert UploadEvent.from_json(ev.to_json()) == ev


@pytest.mark.parametrize("patch", [
    {"evidence_id": ""}, {"evidence_id": "a" * 129}, {"evidence_id": "a b"}, {"seller_id": None},
    {"seller_id": "s/1"}, {"blob": ""}, {"uploaded_at": "yesterday"}, {"claimed": [1]}, {"brand": 3},
])
def test_invalid_events_say_what_is_wrong(patch):
    data = {"evidence_id": "E1", "seller_id": "S1", "blob": "x.jpg"} | patch
    with pytest.raises(InvalidEvent) as info:
        UploadEvent.from_json(data)
    assert info.value.code == "invalid_event"
    assert info.value.message


def test_blob_inside_root_resolves(tmp_path: Path):
    (tmp_path / "a").mkdir()
    f = tmp_path / "a" / "r.jpg"
    f.write_bytes(b"x")
    assert resolve_blob("a/r.jpg", tmp_path) == f
    assert resolve_blob(f"file://{f}", tmp_path) == f
    assert resolve_blob(str(f), tmp_path) == f


@pytest.mark.parametrize("blob", ["../etc/passwd", "a/../../x", "/etc/passwd", "file:///etc/passwd",
                                  "http://example.org/x.jpg", "s3://bucket/x", "file://otherhost/x"])
def test_blob_outside_root_is_refused(tmp_path: Path, blob: str):
    with pytest.raises(BlobOutsideRoot):
        resolve_blob(blob, tmp_path)


def test_symlink_out_of_root_is_refused(tmp_path: Path):
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    os.symlink(outside, root / "link.jpg")
    with pytest.raises(BlobOutsideRoot):
        resolve_blob("link.jpg", root)


def test_missing_blob(tmp_path: Path):
    with pytest.raises(BlobNotFound):
        resolve_blob("nope.jpg", tmp_path)
