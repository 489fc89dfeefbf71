"""Worker metrics: dramatiq's Prometheus middleware plus ours, summed over every worker process.

:class:`WorkerMetrics` is dramatiq's :class:`~dramatiq.middleware.prometheus.Prometheus`
(messages, errors, retries, rejects, in progress, durations) with our metrics added, and with
its exposition server replaced by ours (:func:`serve_endpoints`): one HTTP server per worker
fleet on ``FORENSICS_METRICS_PORT`` answering ``/metrics``, ``/healthz`` and ``/readyz``.
dramatiq's own ``dramatiq_prom_host``/``dramatiq_prom_port`` are therefore not used; its
``dramatiq_prom_db`` still names the folder the processes share (prometheus-client's
multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``): one folder per fleet.

Every worker process writes its values to files in that folder; a scrape reads them all, so one
scrape of the port sums every child process. The library reports through callbacks
(``analyse(on_stage=…)``, :attr:`Store.lock_observers`); this module turns them into metrics.
"""

from __future__ import annotations

import logging
import os
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
from dramatiq.middleware.prometheus import DB_PATH, Prometheus

from forensics.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: the analysis stages timed (``analyse``'s ``on_stage`` names, in order)
STAGES = ("decode", "ocr", "fields", "fingerprints", "detectors", "linking")
#: stage buckets, seconds: OCR of a page is ~0.5-3 s, linking under the lock ms to seconds
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
#: match-lock buckets, seconds
LOCK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: queue-wait buckets, seconds (enqueue to the start of processing)
WAIT_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: how long /readyz reuses its last answer, seconds (a probe every second costs no more)
READY_CACHE_SECONDS = 5.0


class _Metrics:
    """Our metric objects; made in each worker process after the multiprocess folder is set."""

    def __init__(self) -> None:
        import prometheus_client as prom

        # metrics go to the multiprocess files, not to a registry of this process
        kw: dict[str, Any] = {"registry": None}
        self.uploads = prom.Counter("forensics_uploads_total", "Uploads handled, by outcome and verdict.",
                                    ["outcome", "verdict"], **kw)
        self.failures = prom.Counter("forensics_upload_failures_total",
                                     "Uploads that ended as failed records, by error code.", ["code"], **kw)
        self.stage = prom.Histogram("forensics_stage_seconds", "Seconds spent in each analysis stage.",
                                    ["stage"], buckets=STAGE_BUCKETS, **kw)
        self.ocr_page = prom.Histogram("forensics_ocr_page_seconds", "Seconds of OCR per page read.",
                                       buckets=STAGE_BUCKETS, **kw)
        self.lock_wait = prom.Histogram("forensics_match_lock_wait_seconds",
                                        "Seconds waited for the match lock.", buckets=LOCK_BUCKETS, **kw)
        self.lock_held = prom.Histogram("forensics_match_lock_held_seconds",
                                        "Seconds the match lock was held.", buckets=LOCK_BUCKETS, **kw)
        self.findings = prom.Counter("forensics_findings_total",
                                     "Findings on analysed uploads, by code and severity.",
                                     ["code", "severity"], **kw)
        self.dead_letters = prom.Counter("forensics_dead_letters_total",
                                         "Messages kept as dead letters, by reason.", ["reason"], **kw)
        self.queue_wait = prom.Histogram("forensics_queue_wait_seconds",
                                         "Seconds from enqueue to the start of processing.",
                                         ["queue"], buckets=WAIT_BUCKETS, **kw)
        self.index_hashes = prom.Gauge("forensics_index_hashes",
                                       "Hashes in a worker process's in-memory Hamming index (largest).",
                                       ["kind"], multiprocess_mode="livemax", **kw)
        self.index_last_id = prom.Gauge("forensics_index_last_fingerprint_id",
                                        "Last fingerprint row an index caught up to (least caught-up process).",
                                        multiprocess_mode="livemin", **kw)
        self.threads = prom.Gauge("forensics_worker_threads", "Worker threads consuming, over live processes.",
                                  multiprocess_mode="livesum", **kw)


#: this process's metrics, once :meth:`WorkerMetrics.after_process_boot` ran
_metrics: _Metrics | None = None


class WorkerMetrics(Prometheus):
    """dramatiq's Prometheus middleware, our metrics, and our endpoints on ``metrics_port``."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    @property
    def forks(self):  # noqa: ANN201
        # under `forensics worker` the supervisor serves the fleet's endpoint itself
        return [serve_endpoints] if self.settings.metrics_served_by != "supervisor" else []

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        global _metrics
        super().after_process_boot(broker)  # sets PROMETHEUS_MULTIPROC_DIR, then imports prometheus_client
        _metrics = _Metrics()
        from forensics.store import Store

        if _observe_lock not in Store.lock_observers:
            Store.lock_observers.append(_observe_lock)

    def after_enqueue(self, broker, message, delay):  # noqa: ANN001
        if _metrics is not None:  # publishers (``forensics submit``) have no metrics
            super().after_enqueue(broker, message, delay)

    def after_nack(self, broker, message):  # noqa: ANN001
        if _metrics is not None:
            super().after_nack(broker, message)

    def before_delay_message(self, broker, message):  # noqa: ANN001
        if _metrics is not None:
            super().before_delay_message(broker, message)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if _metrics is not None:
            _metrics.threads.set(worker.worker_threads)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        super().before_process_message(broker, message)
        if _metrics is not None and message.message_timestamp:
            waited = max(0.0, time.time() - message.message_timestamp / 1000)
            _metrics.queue_wait.labels(message.queue_name).observe(waited)

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        super().after_process_message(broker, message, result=result, exception=exception)
        # Retries marked the message failed: it goes to the dead letters (workers/dead_letters.py)
        if _metrics is not None and exception is not None and message.failed:
            _metrics.dead_letters.labels("retries_exhausted").inc()

    after_skip_message = after_process_message


# -- what the actor reports ---------------------------------------------------------------------


class StageClock:
    """Times the stages of one analysis: each ``on_stage`` call ends the previous stage."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.since = time.perf_counter()

    def __call__(self, stage: str) -> None:
        from forensics.observability.logs import set_stage

        self.close()
        set_stage(stage)
        if stage in STAGES:
            self.stage, self.since = stage, time.perf_counter()

    def close(self) -> None:
        """End the running stage (an upload that failed mid-way still spent that time)."""
        if self.stage is not None and _metrics is not None:
            _metrics.stage.labels(self.stage).observe(time.perf_counter() - self.since)
        self.stage = None


def record_outcome(outcome: Any, store: Any, clock: StageClock | None = None) -> None:
    """Count one analysis: its outcome and verdict, failure code, findings, OCR seconds per page,
    and the size of this process's hash index. Never raises (a metric must not fail an upload)."""
    if clock is not None:
        clock.close()
    m = _metrics
    if m is None:
        return
    try:
        record = outcome.record or {}
        m.uploads.labels(outcome.action, record.get("verdict") or "none").inc()
        if outcome.action == "failed":
            m.failures.labels((record.get("error") or {}).get("code") or "unknown").inc()
        if outcome.action == "analyzed":
            for f in record.get("findings") or []:
                m.findings.labels(f.get("code", "unknown"), f.get("severity", "unknown")).inc()
            reading = store.reading(record["evidence_id"]) or {}
            for page in reading.get("pages") or []:
                if page.get("source") == "ocr" and page.get("seconds"):
                    m.ocr_page.observe(float(page["seconds"]))
            _observe_index(store)
    except Exception:  # noqa: BLE001
        log.exception("could not record metrics of an upload")


def record_invalid_event() -> None:
    """Count an event too broken to name its evidence (kept as a dead letter)."""
    if _metrics is not None:
        _metrics.uploads.labels("invalid_event", "none").inc()
        _metrics.dead_letters.labels("invalid_event").inc()


def _observe_lock(waited: float, held: float) -> None:
    if _metrics is not None:
        _metrics.lock_wait.observe(waited)
        _metrics.lock_held.observe(held)


def _observe_index(store: Any) -> None:
    """This process's in-memory Hamming indexes (forensics/detectors/duplicates.py, per process)."""
    from forensics.detectors.duplicates import indexes_for

    idx = indexes_for(store.url)
    for kind in ("phash", "dhash", "text"):
        _metrics.index_hashes.labels(kind).set(len(getattr(idx, kind)))
    _metrics.index_last_id.set(idx.last_id)


# -- the endpoints (a dramatiq fork process: one per fleet) ------------------------------------

_PID_FILE = re.compile(r"_(\d+)\.db$")


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of worker processes that are gone (a SIGKILLed process never marks
    itself dead); their counters and histograms stay, as multiprocess mode intends."""
    from prometheus_client import multiprocess

    pids = {int(m.group(1)) for name in os.listdir(path) if (m := _PID_FILE.search(name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:  # alive, someone else's
            pass


class _Endpoints(BaseHTTPRequestHandler):
    settings: Settings
    #: the multiprocess folder the fleet's processes write to
    folder: str = DB_PATH
    parent_pid: int
    ready: tuple[float, int, str] = (0.0, 503, "")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            alive = os.getppid() == self.parent_pid
            self._reply(200 if alive else 503, "ok\n" if alive else "the dramatiq main process is gone\n")
        elif path == "/readyz":
            self._readyz()
        else:
            self._reply(404, "try /metrics, /healthz or /readyz\n")

    def _metrics(self) -> None:
        import prometheus_client as prom
        from prometheus_client import multiprocess

        from workers.probes import ScrapeCollector

        _forget_dead_processes(self.folder)
        registry = prom.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.folder)
        registry.register(ScrapeCollector(self.settings))
        self._reply(200, prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST)

    def _readyz(self) -> None:
        from forensics.observability.health import check_all

        at, status, body = _Endpoints.ready
        if time.monotonic() - at > READY_CACHE_SECONDS:
            checks = check_all(self.settings)
            status = 200 if all(c.ok for c in checks) else 503
            body = "".join(c.line() + "\n" for c in checks)
            _Endpoints.ready = (time.monotonic(), status, body)
        self._reply(status, body)

    def _reply(self, status: int, body: str | bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug(fmt, *args)


class _FleetEndpoints(_Endpoints):
    """The supervisor's endpoint: the same /metrics and /readyz (every slot writes to the shared
    multiprocess folder), and /healthz alive while the supervisor has a live worker process."""

    live_slots: Any = None  # () -> (live, total)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            live, total = type(self).live_slots()
            self._reply(200 if live else 503, f"{live} of {total} worker process(es) alive\n")
        elif path == "/readyz":
            live, total = type(self).live_slots()
            if live < total:
                self._reply(503, f"{live} of {total} worker process(es) alive (one is restarting)\n")
            else:
                self._readyz()
        else:
            super().do_GET()


def serve_fleet_endpoints(settings: Settings, live_slots: Any, folder: str) -> ThreadingHTTPServer | None:
    """Serve the fleet's /metrics, /healthz and /readyz from the supervisor, in a thread.

    ``live_slots()`` returns (live, total) worker slots; ``folder`` is the multiprocess folder
    the supervisor gave its slots (``dramatiq_prom_db``; dramatiq's DB_PATH was fixed when it was
    imported, before the supervisor chose it). Returns the server, or None when the port is off
    or taken (logged; the fleet runs on without an endpoint)."""
    import threading

    if settings.metrics_port <= 0:
        return None
    _FleetEndpoints.live_slots = staticmethod(live_slots)
    _FleetEndpoints.folder = folder
    httpd = _bind(settings, _FleetEndpoints)
    if httpd is not None:
        threading.Thread(target=httpd.serve_forever, name="metrics-endpoint", daemon=True).start()
    return httpd


def _bind(settings: Settings, handler: type[_Endpoints]) -> ThreadingHTTPServer | None:
    """The endpoint's server on ``FORENSICS_METRICS_PORT``, or None (logged) when it is taken."""
    handler.settings = settings
    _forget_dead_processes(handler.folder)
    try:
        httpd = ThreadingHTTPServer((settings.metrics_host, settings.metrics_port), handler)
    except OSError as exc:
        log.error("metrics endpoint not started: cannot listen on %s:%d (%s); set FORENSICS_METRICS_PORT",
                  settings.metrics_host, settings.metrics_port, exc)
        return None
    httpd.daemon_threads = True
    log.info("metrics, /healthz and /readyz on %s:%d (multiprocess folder %s)",
             settings.metrics_host, settings.metrics_port, handler.folder)
    return httpd


def serve_endpoints() -> int:
    """Serve /metrics, /healthz and /readyz on ``FORENSICS_METRICS_PORT`` until stopped.

    Run by ``dramatiq workers`` as a fork process. Failing to bind the port is logged and ends
    this process only: the workers go on without metrics."""
    from forensics.observability.logs import configure_logging

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = DB_PATH
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    _Endpoints.parent_pid = os.getppid()
    httpd = _bind(settings, _Endpoints)
    if httpd is None:
        return 1
    httpd.serve_forever()
    return 0
