"""The supervised fleet (`forensics worker`): one killed worker is restarted, the others go on,
and nothing it held is lost or analysed twice — on Redis and on RabbitMQ, into PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forensics.store import Store
from forensics.store.schema import page_fingerprints
from tests.conftest import RECEIPT_LINES, simple_receipt
from tests.integration.test_workers import REPO, _env, submit, wait_for
from workers.supervisor import Supervisor, cpu_ticks, descendants, parent_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_killed_slot_is_restarted_and_the_others_are_untouched():
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    sup = Supervisor(3, command=sleeper, on_event=lambda _m: None)
    try:
        sup.check()  # starts every slot
        first = sup.pids
        assert len(first) == 3
        os.kill(first[1], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (len(sup.pids) < 3 or sup.pids[1] == first[1]):
            time.sleep(0.1)
            sup.check()
        now = sup.pids
        assert now[0] == first[0] and now[2] == first[2] and now[1] != first[1]
        assert sup.slots[1].exits == [-signal.SIGKILL]
    finally:
        sup.stop(grace=5)
    assert sup.pids == []


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request) -> str:  # noqa: ANN001
    return request.getfixturevalue(f"{request.param}_url")


def test_killing_a_worker_child_keeps_the_fleet_consuming(pg_settings, broker_url, blob_root, tmp_path):
    from tests.conftest import free_port
    from tests.integration.test_observability_workers import _get

    env = _env(pg_settings, broker_url)
    port = free_port()
    env.update({"FORENSICS_METRICS_PORT": str(port), "FORENSICS_METRICS_HOST": "127.0.0.1"})
    env.pop("dramatiq_prom_db", None)
    pages = [simple_receipt(RECEIPT_LINES, seed=i, size=30) for i in range(6)]
    pages[0].save(blob_root / "long.tiff", save_all=True, append_images=pages[1:])
    for i in range(3):
        simple_receipt(RECEIPT_LINES[: 6 + i], seed=10 + i).save(blob_root / f"r{i}.png")
    log = open(tmp_path / "fleet.log", "wb")  # noqa: SIM115
    fleet = subprocess.Popen([sys.executable, "-m", "forensics", "worker", "--processes", "2"],
                             cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    store = Store(pg_settings.database_url)

    class Logs:
        def logs(self) -> str:
            return (tmp_path / "fleet.log").read_text(errors="replace")[-4000:]

    try:
        submit(env, blob_root / "long.tiff", "S1", "E-long")
        rec = wait_for(store, "E-long", ("pending", "analyzed"), Logs(), timeout=90)
        assert rec["status"] == "pending", "the long upload finished before it could be interrupted"
        slots = [p for p in descendants(fleet.pid) if "dramatiq" in _cmdline(p) and parent_of(p) == fleet.pid]
        assert len(slots) == 2, slots
        # the slot whose worker has used the most CPU is the one reading the long upload:
        # SIGKILL it and its worker process, as the OOM killer would
        victim_slot = max(slots, key=lambda slot: sum(cpu_ticks(p) for p in descendants(slot)))
        limits = Path(f"/proc/{descendants(victim_slot)[0]}/limits").read_text()
        assert re.search(r"Max address space\s+4294967296", limits), limits  # FORENSICS_WORKER_MEMORY_MB
        killed = [*descendants(victim_slot), victim_slot]
        for pid in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed_at = time.monotonic()
        for i in range(3):
            submit(env, blob_root / f"r{i}.png", f"S{i + 2}", f"E-after-{i}")
        for i in range(3):
            wait_for(store, f"E-after-{i}", ("analyzed",), Logs())
        assert "restarting" in (tmp_path / "fleet.log").read_text(errors="replace")
        restarted_within = time.monotonic() - killed_at
        long_rec = wait_for(store, "E-long", ("analyzed",), Logs())
        assert long_rec["pages"] == 6
        assert fleet.poll() is None, "the supervisor itself must live on"
        # the supervisor's endpoint answered for the whole fleet through the kill
        status, body = _get(port, "/healthz")
        assert status == 200 and "2 of 2" in body, body
        metrics = _get(port, "/metrics")[1]
        analysed = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                       if line.startswith("forensics_uploads_total{") and 'outcome="analyzed"' in line)
        # every slot's count, the restarted ones' included; the killed reading never counted
        assert analysed == 4, metrics[:2000]
        assert len([p for p in descendants(fleet.pid) if "dramatiq" in _cmdline(p)]) >= 2
        with store.transaction() as conn:
            pages_of_long = conn.execute(select(func.count()).select_from(page_fingerprints)
                                         .where(page_fingerprints.c.evidence_id == "E-long")).scalar_one()
        assert pages_of_long == 6  # registered once, not once per delivery
        assert store.count() == 4
        for eid in ("E-long", "E-after-0", "E-after-1", "E-after-2"):
            codes = [f["code"] for f in store.get(eid)["findings"]]
            assert len(codes) == len(set(codes)), (eid, codes)
        print(f"fleet consuming again; all analysed {restarted_within:.1f}s after the kill")  # noqa: T201
    finally:
        os.killpg(fleet.pid, signal.SIGTERM)
        try:
            fleet.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(fleet.pid, signal.SIGKILL)
        log.close()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
