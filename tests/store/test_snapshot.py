"""The match lock answers from the snapshot plus what was registered since (store/snapshot.py).

- every named query a CatchUpView answers equals the store's own answer under the lock, after
  registrations arrived between the snapshot and the lock (SQLite and PostgreSQL);
- a deletion of registrations since the snapshot makes the snapshot unusable;
- an upload's locked step sends a few statements, however many records it links to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from forensics.events import UploadEvent
from forensics.pipeline import analyse
from forensics.store import Store, registries
from forensics.store.snapshot import CatchUpView, SnapshotView
from forensics.store.view import RegistryView
from tests.conftest import RECEIPT_LINES, simple_receipt

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request):  # noqa: ANN001, ANN201
    return request.getfixturevalue("settings" if request.param == "sqlite" else "pg_settings")


def _record(store: Store, eid: str, seller: str, i: int, *, serial: str | None = None,
            shop: str = "name:SHOPONE", phash: int = 0, text_hash: int | None = None) -> None:
    """An analysed record with its registrations, written as the locked step would."""
    store.begin(UploadEvent(eid, seller, f"b{eid}", uploaded_at=T0 + timedelta(minutes=i)), f"{i:064x}")
    at = T0 + timedelta(minutes=i)
    with store.transaction(exclusive=True) as conn:
        store.write_analysis(conn, eid, {"own_findings": [], "checks": {}, "fields": {}, "sha256": f"{i:064x}"}, None)
        registries.register(
            conn,
            [{"evidence_id": eid, "seller_id": seller, "page": 1, "version": 1, "phash": phash, "dhash": phash + 1,
              "layout_hash": 0, "pixel_sha256": f"px{i}", "file_sha256": f"{i:064x}", "content_key": None,
              "date_total_key": "2024-05-01|9.90", "text_hash": text_hash, "text_version": 1 if text_hash else None}],
            None if serial is None else {
                "issuer_key": shop, "serial": serial, "evidence_id": eid, "seller_id": seller, "date": "2024-05-01",
                "total": "9.90", "uploaded_at": at, "serial_tail": serial[-6:] if len(serial) >= 8 else None,
                "name_key": shop, "reg_key": None, "phone_key": None},
            {"evidence_id": eid, "seller_id": seller, "tax_key": "T1", "name_key": shop, "reg_key": None,
             "phone_key": None, "uploaded_at": at})


def _ask(view) -> dict:  # noqa: ANN001
    """Every named query the linking detectors make, answered by ``view``."""
    return {
        "uses": view.serial_uses("name:SHOPONE", "INV12345678"),
        "uses_any": view.serial_uses(None, "INV12345678"),
        "uses_name": view.serial_uses(None, "INV12345678", name_key="name:SHOPONE"),
        "ending": view.serials_ending("345678"),
        "issuer": view.issuer_serials(issuer_key="name:SHOPONE", name_key=None, reg_key=None, phone_key=None,
                                      other_than_seller="S0", limit=3),
        "marks": view.issuer_uploads(name_key="name:SHOPONE", reg_key=None, phone_key=None, limit=4),
        "dt": [r.id for r in view.evidence_with("date_total_key", "2024-05-01|9.90", exclude="E000")],
        "same_file": view.same_file(f"{3:064x}", exclude="E000"),
        "rows": [r.id for r in view.fingerprint_rows([1, 2, 5, 6, 7, 99])],
        "meta": sorted(view.evidence_meta(["E001", "E005", "E006"])),
        "file": view.file_of("E006"),
        "since": [r.id for r in view.fingerprints_since(3, limit=100)],
    }


def test_the_lock_answers_as_the_store_would_from_the_snapshot_and_what_arrived_since(any_settings):
    store = Store(any_settings.database_url)
    for i in range(4):
        _record(store, f"E{i:03d}", f"S{i % 2}", i, serial="INV12345678" if i % 2 else f"INV0000{i}",
                phash=i, text_hash=100 + i)
    with store.transaction() as conn:
        snapshot = SnapshotView(RegistryView(store, conn))
        before = _ask(snapshot)
    with store.transaction(exclusive=True) as conn:  # nothing arrived: the snapshot's results stand
        assert CatchUpView(RegistryView(store, conn), snapshot, evidence_id="E000", sha256=f"{3:064x}").unchanged
    # registered between the snapshot and the lock: a reuse, a slip, another shop, a same file
    _record(store, "E004", "S2", 4, serial="INV12345678")
    _record(store, "E005", "S3", 5, serial="1NV12345678")
    _record(store, "E006", "S4", 6, serial="INV12345678", shop="name:OTHERSHOP")
    store.begin(UploadEvent("E007", "S5", "bE007", uploaded_at=T0), f"{3:064x}")
    with store.transaction(exclusive=True) as conn:
        store.write_analysis(conn, "E007", {"own_findings": [], "checks": {}, "fields": {}}, None)
    with store.transaction(exclusive=True) as conn:
        live = RegistryView(store, conn)
        view = CatchUpView(live, snapshot, evidence_id="E000", sha256=f"{3:064x}")
        assert view.usable and view.arrived == 9 and not view.unchanged  # three fingerprints, serials, marks
        caught_up, truth = _ask(view), _ask(live)
    assert caught_up == truth
    assert caught_up != before  # the new rows are in the answers, not only the snapshot's


def test_registrations_deleted_since_the_snapshot_make_it_unusable(any_settings):
    store = Store(any_settings.database_url)
    for i in range(2):
        _record(store, f"E{i:03d}", "S0", i, serial=f"INV0000{i}")
    with store.transaction() as conn:
        snapshot = SnapshotView(RegistryView(store, conn))
        snapshot.serial_uses(None, "INV00001")
    # E001 uploaded again with other bytes: its registrations are forgotten
    store.begin(UploadEvent("E001", "S0", "other", uploaded_at=T0), "f" * 64)
    with store.transaction(exclusive=True) as conn:
        assert not CatchUpView(RegistryView(store, conn), snapshot, evidence_id="E009", sha256="0" * 64).usable


def test_the_locked_step_sends_a_few_statements(pg_settings, blob_root):
    img = simple_receipt(RECEIPT_LINES)
    img.save(blob_root / "a.png")
    store = Store(pg_settings.database_url)
    counted: list[int] = []
    locked = [False]

    @event.listens_for(store.engine, "before_cursor_execute")
    def _count(conn, *_a) -> None:  # noqa: ANN001, ANN002
        if conn.in_transaction() and locked[0]:
            counted[-1] += 1

    real = store.transaction

    def transaction(*, exclusive: bool = False):  # noqa: ANN202
        if exclusive:
            counted.append(0)
        locked[0] = exclusive
        return real(exclusive=exclusive)

    store.transaction = transaction  # type: ignore[method-assign]
    # the same scan uploaded by six sellers: each upload links to every earlier one
    for i in range(6):
        img.rotate(0.3 * i, expand=True, fillcolor=250).convert("RGB").save(blob_root / f"u{i}.jpg", quality=80 - i)
        analyse({"evidence_id": f"E{i}", "seller_id": f"S{i}", "blob": f"u{i}.jpg"}, store, pg_settings)
    last = store.get("E5")
    dup = [f for f in last["findings"] if f["code"] == "duplicate_upload"]
    assert dup and len(dup[0]["related"]) >= 1
    # not a round trip per query of the detectors, per relation or per record linked to: the
    # advisory lock, the marks, then (PostgreSQL) one statement for registrations, relations and
    # the record; clusters and the older records' refresh add three each
    assert counted[0] <= 3, counted
    assert max(counted[2:]) <= 10, counted
