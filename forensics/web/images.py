"""Page images for the browser: decoded, turned upright, scaled to a fixed width, cached.

Pages are decoded exactly as the analysis decoded them (:func:`forensics.documents.load_document`:
EXIF orientation applied, PDF pages rendered with pypdfium2), so boxes in page pixels land on
the same spot once scaled. Files are found only from the evidence record's blob, under
``FORENSICS_BLOB_ROOT``: never from a path in the request.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from PIL import Image

from forensics.documents import load_document
from forensics.errors import ForensicsError
from forensics.events import resolve_blob
from forensics.settings import Settings

#: width of a page as the evidence page shows it, CSS pixels
PAGE_WIDTH = 720
#: width of a thumbnail (related uploads), CSS pixels
THUMB_WIDTH = 120
#: widths the image route serves (anything else is refused: no resizing on demand)
WIDTHS = (PAGE_WIDTH, THUMB_WIDTH)
#: JPEG quality of served pages
JPEG_QUALITY = 85
#: encoded images kept in memory (a page is ~60-150 kB at 720 px)
CACHE_SIZE = 256


class PageImages:
    """Renders and caches page images of evidence records."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def jpeg(self, record: dict, page: int, width: int) -> bytes | None:
        """JPEG bytes of page ``page`` (1-based) of a record at ``width`` px, or None when the
        file is gone or unreadable (the page then shows that it is missing)."""
        key = (record["evidence_id"], record.get("sha256") or "", page, width)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        image = self._page(record, page)
        if image is None:
            return None
        scale = width / image.width
        image = image.resize((width, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        image.convert("L" if image.mode == "L" else "RGB").save(buf, "JPEG", quality=JPEG_QUALITY)
        data = buf.getvalue()
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return data

    def png(self, record: dict, page: int) -> bytes | None:
        """PNG bytes of page ``page`` (1-based) at the size the analysis saw it (not cached)."""
        image = self._page(record, page)
        if image is None:
            return None
        buf = io.BytesIO()
        image.save(buf, "PNG")
        return buf.getvalue()

    def _page(self, record: dict, page: int) -> Image.Image | None:
        try:
            path = resolve_blob(record["blob"], self.settings.blob_root_path)
            data = path.read_bytes()
            document = load_document(data, claimed_type=None, settings=self.settings)
        except (OSError, ForensicsError):
            return None
        if not 1 <= page <= len(document.pages):
            return None
        return document.pages[page - 1].image
