# Workers (default) or the CLI, on slim Python with Debian's Tesseract. Kept in step with the
# Makefile's DEB_PACKAGES and pyproject.toml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OMP_THREAD_LIMIT=1 dramatiq_queue_prefetch=1 \
    FORENSICS_BLOB_ROOT=/data/blobs FORENSICS_DATABASE_URL=sqlite:////data/forensics.db

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-deu tesseract-ocr-fra \
      fonts-dejavu-core fonts-wqy-zenhei libzbar0 procps \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY forensics ./forensics
COPY workers ./workers
COPY fixtures ./fixtures
RUN pip install --no-cache-dir '.[fast]' || pip install --no-cache-dir .

RUN useradd --create-home --uid 10001 forensics && mkdir -p /data/blobs && chown -R forensics /data
USER forensics
VOLUME ["/data"]

# one process per core, one thread each: OCR is CPU-bound and long. `forensics worker`
# supervises them: a killed worker is restarted and the others go on.
ENTRYPOINT ["forensics"]
CMD ["worker", "--processes", "2", "--threads", "1"]
