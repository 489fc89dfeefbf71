"""``forensics worker``: the supervised worker fleet (what systemd and compose run)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import typer

from forensics.cli_common import app, err


@app.command()
def worker(
    processes: int = typer.Option(os.cpu_count() or 1, "--processes", "-p", min=1,
                                  help="Worker processes (one per core: OCR is CPU-bound)."),
    threads: int = typer.Option(1, "--threads", "-t", min=1, help="Threads per process (1: OCR is CPU-bound)."),
) -> None:
    """Run worker processes on FORENSICS_BROKER_URL and restart any that dies.

    Unlike `dramatiq workers --processes N`, where one killed child (the OOM killer, a crash)
    shuts down every worker, each process here is supervised on its own: it is restarted at
    once (with a backoff when it keeps crashing), the others go on, and the message it held is
    redelivered by the broker. SIGTERM or Ctrl-C stops them all gracefully.

    Example: [bold]FORENSICS_BROKER_URL=redis://127.0.0.1:6379/0 forensics worker --processes 2[/bold]
    """
    from forensics.errors import ExitCode
    from forensics.settings import get_settings
    from workers.supervisor import Supervisor, worker_command

    settings = get_settings()
    if not settings.broker_url:
        err.print("error: FORENSICS_BROKER_URL is empty; workers need redis://… or amqp://… "
                  "(without a broker, `forensics ingest` analyses in-process).", markup=False)
        raise typer.Exit(int(ExitCode.bad_args))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    env = dict(os.environ)
    env.setdefault("OMP_THREAD_LIMIT", "1")
    own_folder = None
    if settings.metrics_port > 0:
        # one multiprocess folder per fleet, shared by its slots; one endpoint, served here
        if "dramatiq_prom_db" not in os.environ:
            own_folder = tempfile.mkdtemp(prefix="forensics-metrics-")
            os.environ["dramatiq_prom_db"] = env["dramatiq_prom_db"] = own_folder
        env["FORENSICS_METRICS_SERVED_BY"] = "supervisor"
    supervisor = Supervisor(processes, command=worker_command(threads), env=env)
    server = None
    if settings.metrics_port > 0:
        from workers.metrics import serve_fleet_endpoints

        server = serve_fleet_endpoints(settings, lambda: (len(supervisor.pids), len(supervisor.slots)),
                                       os.environ["dramatiq_prom_db"])
    try:
        code = supervisor.run()
    finally:
        if server is not None:
            server.shutdown()
        if own_folder is not None:
            shutil.rmtree(own_folder, ignore_errors=True)
    raise typer.Exit(code)
