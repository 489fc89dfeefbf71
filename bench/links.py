"""Work per upload for links: a record with D links learning of one more, new vs full rebuild.

Run by hand, not by CI::

    .venv/bin/python bench/links.py [--sizes 10,100,1000,10000] [--rounds 5]

SQLite in a temporary folder (in-process, so CPU time counts the database's work too). For each
D, one record X is linked to D others (``same_layout``, across sellers) and in one duplicate
cluster with them; then new uploads arrive, each linked to X, and we time, in CPU seconds,
interleaved round by round in this run:

- ``new``: what the pipeline does now: ``registries.join_clusters`` (a union of ids) and
  ``refresh_new_links`` (X's findings of the kinds that changed, from those relations only);
- ``baseline``: what it did before: ``registries.rebuild_clusters`` (connected component,
  delete and re-insert every member) and a full refresh of X (all its relations, and every
  linked record's fields and findings loaded).

A new link of a kind X has few of (``same_image``: its duplicates) costs the same at any D; one of
the kind X has D of (``same_layout``, a popular shop's layout) still reads those D relations.
The last line (``same_image``) is ``links_ms_D10=… links_ms_D10000=… baseline_ms_D10000=… ratio_D10000=…``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sqlalchemy import insert, update  # noqa: E402

from forensics.links import link_findings  # noqa: E402
from forensics.pipeline import refresh_new_links  # noqa: E402
from forensics.settings import Settings  # noqa: E402
from forensics.store import Store, registries  # noqa: E402
from forensics.store.schema import evidence, relations  # noqa: E402
from forensics.verdict import verdict_of  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _evidence(conn, eid: str, seller: str, i: int) -> None:  # noqa: ANN001
    conn.execute(insert(evidence).values(
        evidence_id=eid, seller_id=seller, status="analyzed", blob="x", uploaded_at=T0 + timedelta(seconds=i),
        fields={"total": {"value": "12.30", "source": "ocr"}}, own_findings=[], findings=[], checks={},
        attempts=1, updated_at=T0))


def build(store: Store, d: int) -> None:
    with store.transaction(exclusive=True) as conn:
        _evidence(conn, "X", "S0", 0)
        for i in range(d):
            _evidence(conn, f"O{i}", f"S{1 + i % 50}", i + 1)
        conn.execute(insert(relations), [
            {"a": "X", "b": f"O{i}", "kind": "same_layout" if i else "same_image", "score": 0.5,
             "details": {"page": 1}, "created_at": T0} for i in range(d)])
        for i in range(d):
            registries.join_clusters(conn, "X", f"O{i}", "same_image")


def baseline_refresh(conn, eid: str, settings: Settings) -> None:  # noqa: ANN001
    """The pre-0010 refresh: every relation of the record and every linked record's meta."""
    rels = registries.relations_of(conn, [eid])
    ids = {eid} | {r["a"] for r in rels} | {r["b"] for r in rels}
    meta = registries.evidence_meta(conn, ids)
    me = meta[eid]
    findings = list(me["own_findings"] or []) + [f.to_json() for f in link_findings(eid, rels, meta)]
    risk, verdict = verdict_of(findings, me["checks"] or {}, settings)
    conn.execute(update(evidence).where(evidence.c.evidence_id == eid).values(findings=findings, risk=risk,
                                                                              verdict=verdict))


def one_upload(store: Store, n: int, settings: Settings, kind: str, *, new: bool) -> float:
    """CPU seconds for linking upload ``N<n>`` to X (``kind``) and refreshing X."""
    eid = f"N{kind}{n}"
    with store.transaction(exclusive=True) as conn:
        _evidence(conn, eid, "S99", 10**6 + n)
    t0 = time.process_time()
    with store.transaction(exclusive=True) as conn:
        registries.add_relation(conn, eid, "X", kind, 1.0, {"page": 1})
        if new:
            registries.join_clusters(conn, eid, "X", kind)
            refresh_new_links(conn, eid, [{"other": "X", "kind": kind}], settings)
        else:
            registries.rebuild_clusters(conn, eid)
            baseline_refresh(conn, "X", settings)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,100,1000,10000", help="comma-separated D (links of X)")
    ap.add_argument("--rounds", type=int, default=5, help="uploads timed per side and size")
    args = ap.parse_args()
    settings = Settings()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for d in (int(x) for x in args.sizes.split(",")):
            store = Store(f"sqlite:///{Path(tmp) / f'links{d}.db'}")
            build(store, d)
            for kind in ("same_image", "same_layout"):
                times: dict[bool, list[float]] = {True: [], False: []}
                for r in range(args.rounds):
                    for new in (r % 2 == 0, r % 2 == 1):  # alternate which side goes first
                        times[new].append(one_upload(store, 2 * r + int(new), settings, kind, new=new))
                ms_new = 1000 * sorted(times[True])[len(times[True]) // 2]
                ms_old = 1000 * sorted(times[False])[len(times[False]) // 2]
                if kind == "same_image":
                    results[d] = (ms_new, ms_old)
                print(f"D={d:6d} new link {kind:11s} new_ms={ms_new:8.2f} baseline_ms={ms_old:8.2f} "
                      f"ratio={ms_new / ms_old:.3f}")
            store.close()
    lo, hi = min(results), max(results)
    print(f"links_ms_D{lo}={results[lo][0]:.2f} links_ms_D{hi}={results[hi][0]:.2f} "
          f"baseline_ms_D{hi}={results[hi][1]:.2f} ratio_D{hi}={results[hi][0] / results[hi][1]:.3f}")


if __name__ == "__main__":
    main()
