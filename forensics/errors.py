"""Every failure a user can meet, with the stable ``code`` that goes into the evidence record.

Two families:

- :class:`BadInput` — the upload itself is wrong (corrupt, encrypted, too big, hostile). It is
  recorded as a ``failed`` record and never retried: retrying cannot make the file better.
- :class:`TransientError` — something around the upload failed (database, broker, OCR engine
  crash). The worker raises it so that dramatiq retries with backoff.

The CLI's exit codes come from :class:`ExitCode`.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes of the ``forensics`` command."""

    ok = 0
    bad_args = 2
    #: some manifest rows ended as failed records (the batch itself completed)
    rows_failed = 3
    not_found = 4
    missing_dependency = 5
    service_unavailable = 6
    internal_error = 15


class ForensicsError(Exception):
    """Base of the project's own errors. ``code`` is stable; ``message`` is for people."""

    code = "internal_error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.__doc__ or self.code
        super().__init__(self.message)


class BadInput(ForensicsError):
    """The upload cannot be analysed as it is."""

    code = "bad_input"


class InvalidEvent(BadInput):
    """The upload event is malformed (missing or invalid ids, bad timestamp)."""

    code = "invalid_event"


class BlobOutsideRoot(BadInput):
    """The blob path leaves FORENSICS_BLOB_ROOT or uses a scheme other than file://."""

    code = "blob_outside_root"


class BlobNotFound(BadInput):
    """The blob named by the event does not exist."""

    code = "blob_not_found"


class EmptyFile(BadInput):
    """The uploaded file is empty."""

    code = "empty_file"


class FileTooLarge(BadInput):
    """The uploaded file is larger than FORENSICS_MAX_FILE_BYTES."""

    code = "file_too_large"


class UnsupportedMedia(BadInput):
    """The bytes are not a supported image or PDF."""

    code = "unsupported_media"


class CorruptFile(BadInput):
    """The file is truncated or damaged and cannot be decoded."""

    code = "corrupt_file"


class DecompressionBomb(BadInput):
    """A page declares more pixels than FORENSICS_MAX_PIXELS; refused before decoding."""

    code = "decompression_bomb"


class TooManyPages(BadInput):
    """The document has more pages than FORENSICS_MAX_PAGES."""

    code = "too_many_pages"


class EncryptedPdf(BadInput):
    """The PDF is encrypted (password protected) and cannot be read."""

    code = "encrypted_pdf"


class OcrTimeout(BadInput):
    """OCR of one page took longer than FORENSICS_OCR_TIMEOUT; the page is too hard to read."""

    code = "ocr_timeout"


class TooExpensive(BadInput):
    """The document would cost more than one upload may (FORENSICS_DOCUMENT_TIMEOUT seconds of
    work, or FORENSICS_WORKER_MEMORY_MB of memory); it is refused rather than hold a worker."""

    code = "too_expensive"


class WorkerCrashed(BadInput):
    """Analysing this upload ended the worker process several times (killed, out of memory)."""

    code = "worker_crashed"


class EvidenceConflict(BadInput):
    """The evidence id is already another seller's: the first record is kept, the attempt logged."""

    code = "evidence_conflict"


class TransientError(ForensicsError):
    """A failure around the upload that may go away: retry later."""

    code = "transient"


class OcrEngineError(TransientError):
    """The OCR engine crashed or returned nothing usable."""

    code = "ocr_engine_error"


class StoreUnavailable(TransientError):
    """The evidence store cannot be reached."""

    code = "store_unavailable"


class BrokerUnavailable(TransientError):
    """The message broker (FORENSICS_BROKER_URL) cannot be reached."""

    code = "broker_unavailable"


class InternalError(ForensicsError):
    """A bug: the analysis crashed where it should not have. The record says so; retried."""

    code = "internal_error"


class MissingDependency(ForensicsError):
    """A program or language pack the analysis needs is not installed."""

    code = "missing_dependency"


#: every bad-input code, for documentation and tests
BAD_INPUT_CODES = sorted(
    {cls.code for cls in BadInput.__subclasses__()} | {BadInput.code}
)
