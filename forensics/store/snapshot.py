"""Matching outside the lock: the registries as a snapshot saw them, plus what arrived since.

The linking detectors run twice per upload. First outside the match lock through a
:class:`SnapshotView`: it takes the registries' marks (newest ids, count of deletions), answers
every named query from the store and keeps the answer. Then inside the lock through a
:class:`CatchUpView`: one statement reads the marks again; the registrations committed since the
snapshot (ids above its marks: ids are given out inside the lock, so in commit order) are read
in one query per registry that grew, and every query the snapshot answered is answered from its
answer plus those rows, filtered in Python as the SQL would. Only a query the snapshot never
asked goes to the store. The answer is the one the store would give under the lock:

- rows up to the marks were committed before the snapshot's first statement, so every later
  statement of it saw them; rows above the marks are all read under the lock;
- "newest N" queries: the N newest of (snapshot answer + new rows) are the N newest of all;
- a deletion of registrations (a re-upload with other bytes, an upload registered twice) bumps a
  counter; when it moved, the caller matches against the store itself (:attr:`CatchUpView.usable`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from forensics.store import registries
from forensics.store.schema import (
    content_keys,
    counters,
    evidence,
    issuer_marks,
    page_fingerprints,
    serials,
)
from forensics.store.view import RegistryView


def _newest(table) -> Any:  # noqa: ANN001
    return select(func.coalesce(func.max(table.c.id), 0)).scalar_subquery()


def _forgotten() -> Any:
    return select(func.coalesce(func.max(counters.c.value), 0)).where(
        counters.c.name == registries.FORGOTTEN_COUNTER).scalar_subquery()


def registry_marks(conn: Connection, *, evidence_id: str | None = None,
                   sha256: str | None = None) -> dict[str, Any]:
    """In one statement: the newest fingerprint, serial and issuer-mark ids and the count of
    deleted registrations; with ``evidence_id``, also that record's status and how many other
    analysed uploads have the bytes ``sha256``."""
    cols = [_newest(page_fingerprints).label("fingerprint"), _newest(serials).label("serial"),
            _newest(issuer_marks).label("issuer"), _newest(content_keys).label("content_key"),
            _forgotten().label("forgotten")]
    if evidence_id is not None:
        cols.append(select(evidence.c.status).where(evidence.c.evidence_id == evidence_id)
                    .scalar_subquery().label("status"))
        cols.append(select(func.count()).select_from(evidence).where(
            (evidence.c.sha256 == sha256) & (evidence.c.evidence_id != evidence_id)
            & (evidence.c.status == "analyzed")).scalar_subquery().label("same_file"))
    return dict(conn.execute(select(*cols)).one()._mapping)


def registered_since(conn: Connection, then: dict[str, Any], now: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(fingerprint rows, serial registrations, issuer marks) with ids above the marks ``then``
    (of :func:`registry_marks`): one query per registry that grew since, none for the others.
    The content keys registered since are :func:`content_keys_since`."""
    fps = (conn.execute(select(page_fingerprints).where(page_fingerprints.c.id > then["fingerprint"])
                        .order_by(page_fingerprints.c.id)).all()
           if now["fingerprint"] > then["fingerprint"] else [])
    sers = ([dict(r._mapping) for r in conn.execute(
        select(serials).where(serials.c.id > then["serial"]).order_by(serials.c.id)).all()]
        if now["serial"] > then["serial"] else [])
    marks = ([dict(r._mapping) for r in conn.execute(
        select(issuer_marks).where(issuer_marks.c.id > then["issuer"]).order_by(issuer_marks.c.id)).all()]
        if now["issuer"] > then["issuer"] else [])
    return fps, sers, marks


def content_keys_since(conn: Connection, then: dict[str, Any], now: dict[str, Any]) -> list[dict[str, Any]]:
    """Content keys (:mod:`forensics.store.content_keys`) with ids above the mark ``then``; no
    query when none were registered since."""
    if now["content_key"] <= then["content_key"]:
        return []
    return [dict(r._mapping) for r in conn.execute(
        select(content_keys).where(content_keys.c.id > then["content_key"]).order_by(content_keys.c.id)).all()]


class SnapshotView:
    """A :class:`RegistryView` that keeps every answer (for :class:`CatchUpView`)."""

    def __init__(self, live: RegistryView) -> None:
        self.live = live
        self.marks = registry_marks(live.conn)
        self.answers: dict[tuple[Any, ...], Any] = {}
        #: fingerprint rows by id (None: asked for, not on file)
        self.fingerprints: dict[int, Any] = {}
        self.meta: dict[str, dict[str, Any] | None] = {}
        self.files: dict[str, tuple[str, str | None] | None] = {}

    @property
    def url(self) -> str:
        return self.live.url

    def __getattr__(self, name: str) -> Any:
        # queries this view does not know are asked again under the lock
        self.passed_through = True
        return getattr(self.live, name)

    #: whether a query this view does not keep was asked (its answer may change unseen)
    passed_through = False

    def _keep(self, key: tuple[Any, ...], value: Any) -> Any:
        self.answers[key] = value
        return value

    def serial_uses(self, issuer_key: str | None, serial: str, *, name_key: str | None = None,
                    reg_key: str | None = None, phone_key: str | None = None) -> list[dict[str, Any]]:
        return self._keep(("serial_uses", issuer_key, serial, name_key, reg_key, phone_key),
                          self.live.serial_uses(issuer_key, serial, name_key=name_key, reg_key=reg_key,
                                                phone_key=phone_key))

    def serials_ending(self, tail: str) -> list[dict[str, Any]]:
        return self._keep(("serials_ending", tail), self.live.serials_ending(tail))

    def issuer_serials(self, *, issuer_key: str | None, name_key: str | None, reg_key: str | None,
                       phone_key: str | None, other_than_seller: str, limit: int) -> list[dict[str, Any]]:
        return self._keep(("issuer_serials", issuer_key, name_key, reg_key, phone_key, other_than_seller, limit),
                          self.live.issuer_serials(issuer_key=issuer_key, name_key=name_key, reg_key=reg_key,
                                                   phone_key=phone_key, other_than_seller=other_than_seller,
                                                   limit=limit))

    def issuer_uploads(self, *, name_key: str | None, reg_key: str | None, phone_key: str | None,
                       limit: int) -> list[dict[str, Any]]:
        return self._keep(("issuer_uploads", name_key, reg_key, phone_key, limit),
                          self.live.issuer_uploads(name_key=name_key, reg_key=reg_key, phone_key=phone_key,
                                                   limit=limit))

    def known_forgery_prints(self) -> list[dict[str, Any]]:
        return self._keep(("known_forgery_prints",), self.live.known_forgery_prints())

    def evidence_with(self, column: str, value: str, *, exclude: str) -> list[Any]:
        return self._keep(("evidence_with", column, value, exclude), self.live.evidence_with(column, value, exclude=exclude))

    def same_file(self, sha256: str, *, exclude: str) -> list[str]:
        return self._keep(("same_file", sha256, exclude), self.live.same_file(sha256, exclude=exclude))

    def content_keys_printed_at(self, when: str, *, exclude: str) -> list[dict[str, Any]]:
        return self._keep(("content_keys_printed_at", when, exclude),
                          self.live.content_keys_printed_at(when, exclude=exclude))

    def page_reading(self, evidence_id: str, page: int) -> Any:
        # an earlier upload's reading: written before its registration, replaced only with a
        # re-analysis, which forgets its registrations (the deletion counter) first
        return self.live.page_reading(evidence_id, page)

    def fingerprints_since(self, last_id: int, *, limit: int) -> list[Any]:
        # how an index catches up: rows newer than the marks are read again under the lock
        return self.live.fingerprints_since(last_id, limit=limit)

    def fingerprint_rows(self, ids: list[int]) -> list[Any]:
        rows = self.live.fingerprint_rows(ids)
        self.fingerprints.update(dict.fromkeys(ids))
        self.fingerprints.update({r.id: r for r in rows})
        return rows

    def evidence_meta(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = self.live.evidence_meta(ids)
        self.meta.update({i: found.get(i) for i in ids})
        return found

    def file_of(self, evidence_id: str) -> tuple[str, str | None] | None:
        self.files[evidence_id] = self.live.file_of(evidence_id)
        return self.files[evidence_id]


def _same_issuer(row: dict[str, Any], issuer_key: str | None, name_key: str | None, reg_key: str | None,
                 phone_key: str | None) -> bool | None:
    """:func:`registries._same_issuer` on one serial registration; None when no key is given."""
    tests = []
    if issuer_key is not None:
        tests.append(row["issuer_key"] == issuer_key)
    if name_key is not None:
        tests += [row["name_key"] == name_key, row["issuer_key"] == name_key]
    if reg_key is not None:
        tests.append(row["reg_key"] == reg_key)
    if phone_key is not None:
        tests.append(row["phone_key"] == phone_key)
    return any(tests) if tests else None


def _by_id(old: list[Any], new: list[Any], *, newest_first: bool = False, limit: int | None = None,
           row_id=lambda r: r["id"]) -> list[Any]:  # noqa: ANN001
    """The snapshot's answer and the new rows as one answer, ordered by id like the query."""
    known = {row_id(r) for r in old}
    out = sorted(old + [r for r in new if row_id(r) not in known], key=row_id, reverse=newest_first)
    return out if limit is None else out[:limit]


class CatchUpView:
    """Inside the match lock: the snapshot's answers plus what was registered since."""

    def __init__(self, live: RegistryView, snapshot: SnapshotView, *, evidence_id: str, sha256: str) -> None:
        self.live = live
        self.snapshot = snapshot
        self.evidence_id = evidence_id
        self.sha256 = sha256
        #: marks now, this upload's status and how many analysed uploads have its bytes
        self.now = registry_marks(live.conn, evidence_id=evidence_id, sha256=sha256)
        self.usable = self.now["forgotten"] == snapshot.marks["forgotten"]
        self.fingerprints: list[Any] = []
        self.serials: list[dict[str, Any]] = []
        self.marks: list[dict[str, Any]] = []
        self.content_keys: list[dict[str, Any]] = []
        if self.usable:
            self.fingerprints, self.serials, self.marks = registered_since(
                live.conn, snapshot.marks, self.now)
            self.content_keys = content_keys_since(live.conn, snapshot.marks, self.now)
        self._fp_by_id = {r.id: r for r in self.fingerprints}

    @property
    def url(self) -> str:
        return self.live.url

    @property
    def unchanged(self) -> bool:
        """Whether every answer the snapshot gave is still the answer: nothing was registered
        or deleted since, the uploads with this one's bytes are the same, and every query it
        asked is one it keeps. The detectors' results against the snapshot are then theirs
        under the lock, without running them again."""
        files_alike = all(key == ("same_file", self.sha256, self.evidence_id) and len(answer) == self.now["same_file"]
                          for key, answer in self.snapshot.answers.items() if key[0] == "same_file")
        return self.usable and self.arrived == 0 and not self.snapshot.passed_through and files_alike

    @property
    def arrived(self) -> int:
        """How many registrations arrived between the snapshot and the lock."""
        return len(self.fingerprints) + len(self.serials) + len(self.marks) + len(self.content_keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.live, name)

    def _answer(self, key: tuple[Any, ...]) -> Any:
        return self.snapshot.answers.get(key)

    def serial_uses(self, issuer_key: str | None, serial: str, *, name_key: str | None = None,
                    reg_key: str | None = None, phone_key: str | None = None) -> list[dict[str, Any]]:
        old = self._answer(("serial_uses", issuer_key, serial, name_key, reg_key, phone_key))
        if old is None:
            return self.live.serial_uses(issuer_key, serial, name_key=name_key, reg_key=reg_key, phone_key=phone_key)
        new = [r for r in self.serials if r["serial"] == serial
               and _same_issuer(r, issuer_key, name_key, reg_key, phone_key) is not False]
        return _by_id(old, new)

    def serials_ending(self, tail: str) -> list[dict[str, Any]]:
        old = self._answer(("serials_ending", tail))
        if old is None:
            return self.live.serials_ending(tail)
        return _by_id(old, [r for r in self.serials if r["serial_tail"] == tail])

    def issuer_serials(self, *, issuer_key: str | None, name_key: str | None, reg_key: str | None,
                       phone_key: str | None, other_than_seller: str, limit: int) -> list[dict[str, Any]]:
        old = self._answer(("issuer_serials", issuer_key, name_key, reg_key, phone_key, other_than_seller, limit))
        if old is None:
            return self.live.issuer_serials(issuer_key=issuer_key, name_key=name_key, reg_key=reg_key,
                                            phone_key=phone_key, other_than_seller=other_than_seller, limit=limit)
        new = [r for r in self.serials if r["seller_id"] != other_than_seller
               and _same_issuer(r, issuer_key, name_key, reg_key, phone_key)]
        return _by_id(old, new, newest_first=True, limit=limit) if new else old

    def issuer_uploads(self, *, name_key: str | None, reg_key: str | None, phone_key: str | None,
                       limit: int) -> list[dict[str, Any]]:
        old = self._answer(("issuer_uploads", name_key, reg_key, phone_key, limit))
        if old is None:
            return self.live.issuer_uploads(name_key=name_key, reg_key=reg_key, phone_key=phone_key, limit=limit)
        keys = {"name_key": name_key, "reg_key": reg_key, "phone_key": phone_key}
        new = [r for r in self.marks if any(v is not None and r[k] == v for k, v in keys.items())]
        return _by_id(old, new, newest_first=True, limit=limit) if new else old

    def known_forgery_prints(self) -> list[dict[str, Any]]:
        # decisions are not taken under the match lock: the snapshot's reading is as good
        old = self._answer(("known_forgery_prints",))
        return self.live.known_forgery_prints() if old is None else old

    def content_keys_printed_at(self, when: str, *, exclude: str) -> list[dict[str, Any]]:
        old = self._answer(("content_keys_printed_at", when, exclude))
        if old is None:
            return self.live.content_keys_printed_at(when, exclude=exclude)
        new = [r for r in self.content_keys if r["printed_at"] == when and r["evidence_id"] != exclude]
        again = {r["evidence_id"] for r in new}  # registered anew: the older row is gone
        return _by_id([r for r in old if r["evidence_id"] not in again], new) if new else old

    def evidence_with(self, column: str, value: str, *, exclude: str) -> list[Any]:
        old = self._answer(("evidence_with", column, value, exclude))
        if old is None:
            return self.live.evidence_with(column, value, exclude=exclude)
        new = [r for r in self.fingerprints if getattr(r, column) == value and r.evidence_id != exclude]
        return _by_id(old, new, row_id=lambda r: r.id) if new else old

    def same_file(self, sha256: str, *, exclude: str) -> list[str]:
        old = self._answer(("same_file", sha256, exclude))
        if old is None or sha256 != self.sha256 or exclude != self.evidence_id or len(old) != self.now["same_file"]:
            return self.live.same_file(sha256, exclude=exclude)
        return old

    def fingerprints_since(self, last_id: int, *, limit: int) -> list[Any]:
        if last_id < self.snapshot.marks["fingerprint"]:
            return self.live.fingerprints_since(last_id, limit=limit)
        return [r for r in self.fingerprints if r.id > last_id][:limit]

    def fingerprint_rows(self, ids: list[int]) -> list[Any]:
        known = self.snapshot.fingerprints
        missing = [i for i in ids if i not in known and i not in self._fp_by_id]
        fetched = {r.id: r for r in self.live.fingerprint_rows(missing)} if missing else {}
        out = []
        for i in ids:
            row = self._fp_by_id.get(i) or known.get(i) or fetched.get(i)
            if row is not None:
                out.append(row)
        return out

    def evidence_meta(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        known = self.snapshot.meta
        missing = [i for i in ids if i not in known or known[i] is None]
        out = self.live.evidence_meta(missing) if missing else {}
        out.update({i: known[i] for i in ids if i not in missing and known[i] is not None})
        return out

    def file_of(self, evidence_id: str) -> tuple[str, str | None] | None:
        known = self.snapshot.files
        if evidence_id in known and known[evidence_id] is not None:
            return known[evidence_id]
        return self.live.file_of(evidence_id)
