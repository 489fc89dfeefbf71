"""Tesseract engines behind one small interface: ``words(image) -> list[Word]``.

Both engines ask Tesseract for the same TSV (level, page, block, paragraph, line, word, box,
confidence, text), so one parser serves both and their output can be compared word for word.

Tesseract 5's own thresholding variables, measured and rejected through tesserocr (Tesseract 5.5.4;
bench/extraction.py, 220 SROIE receipts) against the default global Otsu
(``thresholding_method=0``: field Hmean 0.646, company .536, date .795, address .345, total .805,
receipt numbers exact 0.665): ``thresholding_method=1`` (Leptonica adaptive Otsu) 0.428 (numbers
0.416), with the source resolution set to 300 dpi 0.559 (0.602); ``thresholding_method=2``
(Sauvola) 0.626 (numbers 0.596), with ``thresholding_kfactor=0.2`` 0.626 (0.596), with kfactor 0.1
and ``thresholding_window_size=0.5`` 0.626 (0.590), with the source resolution set to 300 dpi 0.627
(0.578). ``user_defined_dpi=300`` with global Otsu changed no figure (0.646, numbers 0.665), and on
one receipt checked by hand ``SetSourceResolution`` from 70 to 600 dpi gave the same text.
``tessedit_do_invert=0`` (no trial of each line's inverted image) left every figure unchanged
(0.646, numbers 0.665) and cut bench/ingest.py --n 30 from 1.046-1.047 to 0.819-0.828 s a receipt,
but white text on a dark ground (a dark-mode screenshot, an inverted header band) then reads as
noise: kept on. Turning it off only on pages without light text on a dark ground was measured
and rejected (2026-11-23): a detector (windows 2.5 character heights square at least 60% ink,
joined, holding three or more glyph-high light strokes) marked 11 of the 220 SROIE receipts and
caught a dark page, an inverted band and a badge a third of the page wide; but on 30 receipts,
six alternating rounds through tesserocr, the page OCR took 0.388 s with the trial and 0.355 s
without it (0.33-0.44 and 0.32-0.40 s: the earlier 21% did not reproduce), while the detector
took 0.021-0.025 s a page, leaving about 0.01 s of 0.85 s a receipt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Protocol

from PIL import Image

from forensics.errors import MissingDependency, OcrEngineError, OcrTimeout
from forensics.model import Word

#: Measured and rejected for speed: ``tessedit_do_invert=0`` (Tesseract stops trying each
#: doubtful line as white-on-black) cut the page's OCR CPU by ~8% (0.35 -> 0.32 s on 12 SROIE
#: receipts) but field Hmean on the tune half fell 0.664 -> 0.662 (precision 0.682 -> 0.679;
#: ``BENCH_CACHE_TAG=... bench/extraction.py --direct --half tune``).
#: Tesseract page segmentation mode. 6 = "a single uniform block of text". Measured on the 220
#: SROIE receipts (bench/extraction.py): field Hmean 0.558 with psm 6 vs 0.508 with psm 4, and
#: on 40 receipts the answers appear in the OCR text more often (company 0.68 vs 0.63, date 0.93
#: vs 0.78, total 0.90 vs 0.83) at the same speed.
PAGE_SEGMENTATION_MODE = 6

#: where Debian puts traineddata; tesserocr's wheel bundles no language data of its own
TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


class OcrEngine(Protocol):
    """What the rest of the code needs of an OCR engine."""

    name: str

    def words(self, image: Image.Image, *, psm: int = PAGE_SEGMENTATION_MODE) -> list[Word]: ...


def parse_tsv(tsv: str) -> list[Word]:
    """Words from Tesseract's TSV output (header row optional), dropping empty cells."""
    words: list[Word] = []
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":  # level 5 = word
            continue
        text = cols[11].strip()
        if not text:
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        try:
            conf = float(cols[10])
        except ValueError:
            conf = -1.0
        words.append(
            Word(
                text=text,
                box=(left, top, left + width, top + height),
                confidence=max(conf, 0.0) / 100.0,
                block=int(cols[2]),
                # paragraph and line together identify one printed line inside a block
                line=int(cols[3]) * 1000 + int(cols[4]),
            )
        )
    return words


def tessdata_dir() -> str:
    """The folder holding Tesseract's ``*.traineddata``."""
    env = os.environ.get("TESSDATA_PREFIX")
    candidates = ([env, str(Path(env) / "tessdata")] if env else []) + list(TESSDATA_CANDIDATES)
    for cand in candidates:
        if cand and any(Path(cand).glob("*.traineddata")):
            return cand.rstrip("/") + "/"
    raise MissingDependency(
        "No Tesseract language data found; install tesseract-ocr-eng (make setup does it) "
        "or set TESSDATA_PREFIX."
    )


def check_languages(langs: str, available: set[str]) -> None:
    """Fail clearly when a configured language pack is missing."""
    missing = [lang for lang in langs.split("+") if lang and lang not in available]
    if missing:
        raise MissingDependency(
            f"Tesseract language data missing for {', '.join(missing)}; install "
            + ", ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
            + " or change FORENSICS_OCR_LANGS."
        )


def _grey(image: Image.Image) -> Image.Image:
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


class TesserocrEngine:
    """libtesseract through tesserocr: one API object per thread, reused across pages."""

    name = "tesserocr"

    def __init__(self, langs: str, *, timeout: float) -> None:
        import tesserocr  # ImportError tells the caller to fall back

        self._tesserocr = tesserocr
        self.langs = langs
        self.timeout_ms = int(timeout * 1000)
        self.path = tessdata_dir()
        check_languages(langs, {p.stem for p in Path(self.path).glob("*.traineddata")})
        self._local = threading.local()

    def _api(self):  # noqa: ANN202
        api = getattr(self._local, "api", None)
        if api is None:
            api = self._tesserocr.PyTessBaseAPI(
                path=self.path, lang=self.langs, psm=PAGE_SEGMENTATION_MODE
            )
            self._local.api = api
        return api

    def words(self, image: Image.Image, *, psm: int = PAGE_SEGMENTATION_MODE) -> list[Word]:
        api = self._api()
        try:
            api.SetPageSegMode(psm)
            api.SetImage(_grey(image))
            ok = api.Recognize(timeout=self.timeout_ms)
        except RuntimeError as exc:
            # a failed call can leave the API object in a bad state: start a fresh one next time
            self._local.api = None
            raise OcrEngineError(f"tesserocr failed: {exc}") from exc
        if not ok:
            self._local.api = None
            raise OcrTimeout(
                f"OCR of a {image.width}x{image.height} page did not finish within "
                f"{self.timeout_ms / 1000:g} s (FORENSICS_OCR_TIMEOUT)."
            )
        words = parse_tsv(api.GetTSVText(0))
        api.SetPageSegMode(PAGE_SEGMENTATION_MODE)
        return words


class PytesseractEngine:
    """The Tesseract CLI through pytesseract: always available where tesseract is installed."""

    name = "pytesseract"

    def __init__(self, langs: str, *, timeout: float) -> None:
        import pytesseract

        if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
            raise MissingDependency(
                "The tesseract program is not installed; run `make setup` (it installs "
                "tesseract-ocr from Debian) or `apt-get install tesseract-ocr`."
            )
        self._pytesseract = pytesseract
        self.langs = langs
        self.timeout = timeout
        check_languages(langs, set(pytesseract.get_languages(config="")))

    def words(self, image: Image.Image, *, psm: int = PAGE_SEGMENTATION_MODE) -> list[Word]:
        pt = self._pytesseract
        try:
            tsv = pt.image_to_data(
                _grey(image),
                lang=self.langs,
                config=f"--psm {psm}",
                timeout=self.timeout,
            )
        except RuntimeError as exc:  # pytesseract raises RuntimeError on its timeout
            if "timeout" in str(exc).lower():
                raise OcrTimeout(
                    f"OCR of a {image.width}x{image.height} page did not finish within "
                    f"{self.timeout:g} s (FORENSICS_OCR_TIMEOUT)."
                ) from exc
            raise OcrEngineError(f"tesseract failed: {exc}") from exc
        except (pt.TesseractError, subprocess.SubprocessError, OSError) as exc:
            raise OcrEngineError(f"tesseract failed: {exc}") from exc
        return parse_tsv(tsv)
