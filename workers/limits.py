"""A memory ceiling per worker process: an upload that needs more ends ``too_expensive``
(the allocation fails with MemoryError, which the pipeline records) instead of the kernel's OOM
killer ending the worker, and every message it held, with SIGKILL."""

from __future__ import annotations

import logging
import resource

import dramatiq

from forensics.settings import Settings

log = logging.getLogger(__name__)


def apply_memory_limit(megabytes: int) -> None:
    """Limit this process's address space to ``megabytes`` MiB (0: leave it as it is)."""
    if megabytes <= 0:
        return
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class MemoryLimit(dramatiq.Middleware):
    """Apply ``FORENSICS_WORKER_MEMORY_MB`` in each ``dramatiq workers`` process as it boots.

    ``process_boot`` is emitted only by dramatiq's command line, so a Worker started inside
    another program (a test, a notebook) leaves that program's limits alone: an address-space
    limit is inherited by every child it starts, a browser included."""

    def __init__(self, settings: Settings) -> None:
        self.megabytes = settings.worker_memory_mb

    def after_process_boot(self, broker):  # noqa: ANN001
        try:
            apply_memory_limit(self.megabytes)
        except (ValueError, OSError) as exc:  # a container may forbid raising or setting it
            log.warning("could not limit worker memory to %d MiB: %s", self.megabytes, exc)
