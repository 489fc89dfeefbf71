"""Keep a fleet of worker processes up: one killed worker is restarted, the others go on.

``dramatiq workers --processes N`` shuts *every* worker down when one child dies ("Worker with
PID … exited unexpectedly. Shutting down..."), which is exactly what the kernel's OOM killer
makes happen in production. The supervisor runs each worker slot as its own ``dramatiq workers
--processes 1`` process group instead and restarts a slot that exits, with a backoff for slots
that crash in a loop. A message the dead worker held is not lost: RabbitMQ redelivers it when
the worker's connection drops, Redis once the worker's heartbeat is older than
``FORENSICS_REDIS_HEARTBEAT_MS``; the pipeline's idempotence makes the second delivery safe.

``forensics worker`` runs it; the systemd unit and the compose file in ``deploy/`` run that.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("forensics.supervisor")

#: seconds between two looks at the children
POLL_SECONDS = 0.2
#: first and longest wait before restarting a slot that keeps crashing, seconds
RESTART_BACKOFF = (0.5, 30.0)
#: a slot that ran this long counts as healthy again: its next crash restarts at once, seconds
HEALTHY_AFTER = 60.0
#: how long children get to finish their message after SIGTERM before SIGKILL, seconds
#: (dramatiq requeues what it has not started; what it is working on finishes or is redelivered)
STOP_GRACE = 30.0

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Children get SIGTERM when the supervisor itself dies, even by SIGKILL (Linux)."""
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def worker_command(threads: int = 1, module: str = "workers") -> list[str]:
    """The command one worker slot runs: dramatiq with one process of ``threads`` threads."""
    return [sys.executable, "-m", "dramatiq", module, "--processes", "1", "--threads", str(threads)]


@dataclass
class Slot:
    """One supervised worker process and its restart history."""

    number: int
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 0.0
    not_before: float = 0.0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Run ``processes`` worker slots and restart any that exits until told to stop."""

    def __init__(self, processes: int, *, command: Sequence[str] | None = None,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.command = list(command or worker_command())
        self.env = env
        self.cwd = cwd
        self.slots = [Slot(i) for i in range(processes)]
        self.stopping = False
        self.on_event = on_event or (lambda message: log.info("%s", message))

    # -- life cycle ---------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until SIGTERM or SIGINT; then stop the children gracefully. Returns 0."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in self.slots:
                self._start(slot)
            while not self.stopping:
                self.check()
                time.sleep(POLL_SECONDS)
        finally:
            self.stop()
            for s, handler in previous.items():
                signal.signal(s, handler)
        return 0

    def _on_signal(self, signum: int, _frame) -> None:  # noqa: ANN001
        self.on_event(f"received {signal.Signals(signum).name}: stopping {len(self.slots)} worker(s)")
        self.stopping = True

    def check(self) -> None:
        """Restart every slot whose process has exited (after its backoff)."""
        now = time.monotonic()
        for slot in self.slots:
            proc = slot.proc
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                code = proc.returncode
                slot.exits.append(code)
                slot.proc = None
                ran = now - slot.started_at
                slot.backoff = 0.0 if ran >= HEALTHY_AFTER else (
                    min(RESTART_BACKOFF[1], max(RESTART_BACKOFF[0], slot.backoff * 2)) if slot.restarts else 0.0)
                slot.not_before = now + slot.backoff
                self.on_event(f"worker {slot.number} (pid {proc.pid}) exited with code {code} after "
                              f"{ran:.1f}s; restarting" + (f" in {slot.backoff:.1f}s" if slot.backoff else ""))
            if not self.stopping and now >= slot.not_before:
                slot.restarts += 1 if slot.exits else 0
                self._start(slot)

    def _start(self, slot: Slot) -> None:
        slot.proc = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, preexec_fn=_die_with_parent)  # noqa: PLW1509
        slot.started_at = time.monotonic()
        self.on_event(f"worker {slot.number} started (pid {slot.proc.pid})")

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every child's process group, wait up to ``grace`` seconds, then SIGKILL."""
        self.stopping = True
        live = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in live:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live slots (each the leader of its own process group)."""
        return [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# -- the process tree, read from /proc (Linux): for the chaos bench and the tests that kill workers


def parent_of(pid: int) -> int:
    """The parent process id of ``pid`` (-1 when it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: its children, then theirs."""
    parents = {int(e.name): parent_of(int(e.name)) for e in Path("/proc").iterdir() if e.name.isdigit()}
    out, frontier = [], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        out += frontier
    return out


def cpu_ticks(pid: int) -> int:
    """Clock ticks of CPU (user and system) a process has used; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def worker_processes(supervisor_pid: int) -> list[int]:
    """The dramatiq worker processes of a ``forensics worker`` fleet (slot -> worker)."""
    slots = {p for p in descendants(supervisor_pid) if parent_of(p) == supervisor_pid}
    return [p for p in descendants(supervisor_pid) if parent_of(p) in slots]
