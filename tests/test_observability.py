"""Operations: JSON logs with the upload context, the web app's /metrics helper, `forensics
health`, and the Prometheus/Grafana files in deploy/ (alert rules checked by promtool when it is
installed, and always against the metrics we export)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from forensics.observability.logs import ContextFilter, JsonFormatter, log_context, set_stage
from tests.conftest import CI

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def _json_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_bound_context_and_stage():
    logger, out = _json_logger("tests.obs.ctx")
    logger.info("before")
    with log_context(evidence_id="E-ctx-1", seller_id="S-9", message_id="m-1"):
        set_stage("ocr")
        logger.info("reading %d pages", 2)
        with log_context(stage="linking"):
            logger.warning("inner")
    logger.info("after")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["before", "reading 2 pages", "inner", "after"]
    assert "evidence_id" not in lines[0] and "evidence_id" not in lines[3]
    assert lines[1].items() >= {"evidence_id": "E-ctx-1", "seller_id": "S-9", "message_id": "m-1", "stage": "ocr"}.items()
    assert lines[2]["stage"] == "linking" and lines[2]["level"] == "warning"


def test_json_formatter_keeps_only_known_fields_and_one_line_exceptions():
    logger, out = _json_logger("tests.obs.extra")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("failed", extra={"ocr_text": "TOTAL 33.81"})
    (line,) = out.getvalue().splitlines()  # one physical line even with a multi-line traceback
    obj = json.loads(line)
    assert "ocr_text" not in obj and "33.81" not in line
    assert "ValueError: boom" in obj["exception"]


def _scrape_value(text: str, name: str, labels: dict[str, str]) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}")]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_fastapi_metrics_helper_counts_requests_by_route_template():
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from forensics.observability.http_metrics import instrument

    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict:
        return {"id": item_id}

    instrument(app, readiness=False)
    client = TestClient(app)
    labels = {"method": "GET", "route": "/items/{item_id}", "status": "200"}
    before = _scrape_value(client.get("/metrics").text, "forensics_http_requests_total", labels)
    assert client.get("/items/7").status_code == 200
    assert client.get("/items/8").status_code == 200
    assert client.get("/items/x").status_code == 422
    assert client.get("/nowhere").status_code == 404
    body = client.get("/metrics")
    assert body.headers["content-type"].startswith("text/plain")
    text = body.text
    assert _scrape_value(text, "forensics_http_requests_total", labels) == before + 2
    assert _scrape_value(text, "forensics_http_requests_total", {**labels, "status": "422"}) >= 1
    # unmatched paths share one series: a scanner cannot create one per path
    assert _scrape_value(text, "forensics_http_requests_total",
                         {"method": "GET", "route": "<unmatched>", "status": "404"}) >= 1
    assert 'route="/nowhere"' not in text and 'route="/items/7"' not in text
    assert _scrape_value(text, "forensics_http_request_seconds_count",
                         {"method": "GET", "route": "/items/{item_id}"}) >= 3
    assert client.get("/healthz").text == "ok\n"


# -- forensics health ---------------------------------------------------------------------------


def _health(env_changes: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORENSICS_")}
    env.update(env_changes)
    return subprocess.run([sys.executable, "-m", "forensics", "health"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.integration
@pytest.mark.parametrize("broken", ["store", "broker", "ocr"])
def test_health_fails_with_a_clear_line_for_the_part_that_is_down(broken, redis_url, tmp_path):
    env = {"FORENSICS_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}", "FORENSICS_BROKER_URL": redis_url}
    ok = _health(env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [line.split(":")[0] for line in ok.stdout.splitlines()] == ["store", "broker", "ocr"]
    if broken == "store":
        env["FORENSICS_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    elif broken == "broker":
        env["FORENSICS_BROKER_URL"] = "redis://127.0.0.1:1/0"
    else:  # the tesseract program is not on PATH (pytesseract needs it)
        env.update({"FORENSICS_OCR_ENGINE": "pytesseract", "PATH": str(tmp_path)})
    out = _health(env)
    assert out.returncode == 6
    failed = [line for line in out.stderr.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and failed[0].startswith(f"{broken}: FAILED - "), out.stderr
    assert {"store": "FORENSICS_DATABASE_URL", "broker": "FORENSICS_BROKER_URL",
            "ocr": "tesseract"}[broken] in failed[0]
    assert len(out.stdout.splitlines()) == 2  # the two parts that answer still say so


# -- deploy/ ------------------------------------------------------------------------------------

#: metric names a rule or panel may use: ours (README "Operations"), dramatiq's and Prometheus' own
EXPORTED = {
    "up", "forensics_uploads_total", "forensics_upload_failures_total", "forensics_stage_seconds",
    "forensics_ocr_page_seconds", "forensics_match_lock_wait_seconds", "forensics_match_lock_held_seconds",
    "forensics_findings_total", "forensics_dead_letters_total", "forensics_queue_wait_seconds",
    "forensics_index_hashes", "forensics_index_last_fingerprint_id", "forensics_worker_threads",
    "forensics_dead_letters", "forensics_fingerprints_last_id", "forensics_queue_messages",
    "forensics_queue_consumers", "forensics_queue_oldest_age_seconds", "forensics_probe_up",
    "forensics_http_requests_total", "forensics_http_request_seconds",
    "dramatiq_messages_total", "dramatiq_message_errors_total", "dramatiq_message_retries_total",
    "dramatiq_message_rejects_total", "dramatiq_messages_inprogress", "dramatiq_message_duration_milliseconds",
}


def _metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:forensics|dramatiq)_[a-z_]+|up)\b(?=\s*[{\[)])", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) if n not in EXPORTED else n for n in names}


def test_alert_rules_cover_the_issue_and_use_exported_metrics():
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} == {
        "ForensicsNoUploadsConsumer", "ForensicsDeadLettersGrowing", "ForensicsUploadFailureRateHigh",
        "ForensicsMatchLockWaitHigh", "ForensicsQueueAgeHigh"}
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["annotations"]["summary"] and re.fullmatch(r"\d+[smh]", rule.get("for", "0m"))
        assert expr_balanced(rule["expr"]), rule["alert"]
        used = _metric_names(rule["expr"])
        assert used and used <= EXPORTED, (rule["alert"], used - EXPORTED)


def expr_balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


#: make setup puts promtool beside the venv's python (the Makefile's $(BIN)/promtool)
PROMTOOL = shutil.which("promtool") or shutil.which("promtool", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(PROMTOOL is None and not CI, reason="promtool is not installed (make setup fetches it)")
def test_promtool_accepts_the_alert_rules():
    assert PROMTOOL, "CI=true and promtool is missing: make setup fetches it from Debian's prometheus package"
    out = subprocess.run([PROMTOOL, "check", "rules", str(DEPLOY / "alerts.yml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dashboard_and_compose_monitoring_profile_load_the_deploy_files():
    dash = json.loads((DEPLOY / "grafana" / "forensics-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(dash["panels"]) >= 10 and all(_metric_names(e) <= EXPORTED for e in exprs)
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        for volume in services[name]["volumes"]:
            assert (REPO / volume.split(":")[0]).exists(), volume
    assert not any("monitoring" in s.get("profiles", []) for n, s in services.items()
                   if n not in ("prometheus", "grafana"))
    worker = services["worker"]
    assert "9191/healthz" in " ".join(worker["healthcheck"]["test"])
    scrape = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    assert {j["job_name"] for j in scrape["scrape_configs"]} >= {"forensics-workers"}
