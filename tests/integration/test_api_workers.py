"""POST /api/v1/uploads through real Redis to a real worker process, read back at GET /evidence/{id}."""

from __future__ import annotations

import io
import secrets
import time

import pytest

from forensics.store import Store
from forensics.store.people import People
from forensics.web.auth import hash_password, new_token
from tests.conftest import RECEIPT_LINES, simple_receipt
from tests.integration.test_workers import RECORD_TIMEOUT, Workers, _env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_upload_through_redis_to_a_worker(pg_settings, redis_url, tmp_path):
    from fastapi.testclient import TestClient

    from forensics.web.app import create_app

    settings = pg_settings.with_(broker_url=redis_url, secret_key=secrets.token_hex(8))
    store = Store(settings.database_url)
    People(store).add_user("marketplace", "reviewer", hash_password(secrets.token_hex(8)))
    token = new_token()
    People(store).add_token("marketplace", token)
    workers = Workers(_env(settings, redis_url), tmp_path)
    workers.start()
    try:
        buf = io.BytesIO()
        simple_receipt(RECEIPT_LINES, seed=21).save(buf, "PNG")
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(settings, store)) as client:
            r = client.post("/api/v1/uploads", headers=headers, files={"file": ("r.png", buf.getvalue(), "image/png")},
                            data={"seller_id": "S-api", "claims": '{"total": "33.81"}'})
            assert r.status_code == 202, r.text
            body = r.json()
            assert body["status"] == "queued" and body["message_id"]
            deadline = time.monotonic() + RECORD_TIMEOUT
            rec = None
            while time.monotonic() < deadline:
                got = client.get(body["status_url"], headers=headers)
                if got.status_code == 200 and got.json()["status"] in ("analyzed", "failed"):
                    rec = got.json()
                    break
                time.sleep(0.3)
            assert rec is not None, f"no record in {RECORD_TIMEOUT}s; worker logs:\n{workers.logs()}"
        assert rec["status"] == "analyzed", rec
        assert rec["seller_id"] == "S-api" and rec["claimed"] == {"total": "33.81"}
        assert rec["verdict"] in ("clean", "review", "likely_forgery") and rec["review"] is None
        assert (settings.blob_root_path / rec["blob"]).is_file()
    finally:
        workers.stop_all()
        store.close()
