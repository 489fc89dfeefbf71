"""A page ready for alignment (working raster, ORB features), and its features kept on disk.

Linking aligns a new page with the earlier pages its hashes point to. Most of those candidates
are another shop's page that does not register: :func:`forensics.alignment.compare_pages`
rejects two feature-rich pages that do not match by their features alone. Computing those
features means decoding the earlier page and reducing it to its working raster (decode 11 ms,
raster 5.5, ORB 22 of a ~55 ms rejection on a SROIE receipt), and a bigger store puts more such
pages within the candidate radii: that is how the CPU of an upload grew with the store.

So a page's features are written once, when a worker first prepares the page (the new page of
an upload with candidates, or an earlier page a comparison needed), into a folder keyed by the
page's pixels (sha256) and by what the features depend on (:data:`FEATURES_VERSION`: the ORB
and raster parameters, OpenCV's and Pillow's versions). A later comparison reads them (~0.1 ms)
and decodes the page only when the features register. The answers are the same as from a fresh
:func:`prepare`: the features are the same numbers (the tests compare both ways).

The folder is a cache: every worker on a machine shares it (files written whole, then renamed),
it can be deleted at any time, and it refills. It sits next to the fingerprint index snapshot
(:func:`forensics.index_snapshot.snapshot_path`; ``index_dir=off`` turns both off). Size: about
48 KB a page (1,200 keypoints: 8 bytes of position, 32 of descriptor).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import faiss
import numpy as np
import PIL
from PIL import Image

log = logging.getLogger(__name__)

#: most pixels of the working rasters both pages are compared at (an area, not a side: tall
#: receipts keep their text large enough to compare glyphs)
WORK_PIXELS = 1_000_000
#: ORB keypoints per page (text gives many; more only slows matching)
ORB_FEATURES = 1200
#: ORB's FAST threshold (lower finds more corners on faint print)
FAST_THRESHOLD = 12
#: what a page's stored features depend on: another value is another file
FEATURES_VERSION = hashlib.sha256(
    f"orb{ORB_FEATURES}-fast{FAST_THRESHOLD}-work{WORK_PIXELS}-box-v1-cv{cv2.__version__}-pil{PIL.__version__}".encode()
).hexdigest()[:12]
_MAGIC = b"FPF1"
_HEADER = struct.Struct("<4sIII")  # magic, width, height, keypoints


@dataclass(frozen=True)
class Work:
    """A page reduced to the working raster: grey pixels and work px per original px.

    ``derived`` keeps what a comparison computes from the raster alone (its scanner-bed frame,
    its paper residual; :func:`derived`), so a page compared with many candidates, or kept
    across uploads, computes each once."""

    arr: np.ndarray
    scale: float
    derived: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def derived_as(self, name: str, make: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``make(arr)``, computed once per raster and kept read-only (callers share it)."""
        out = self.derived.get(name)
        if out is None:
            out = make(self.arr)
            out.flags.writeable = False
            self.derived[name] = out
        return out


#: (keypoint positions as float32 (n, 2), ORB descriptors uint8 (n, 32) or None)
Features = tuple[np.ndarray, Any]


def work_raster(image: Image.Image) -> Work:
    grey = image if image.mode == "L" else image.convert("L")
    scale = min(1.0, float(np.sqrt(WORK_PIXELS / max(1, grey.width * grey.height))))
    factor = max(1, int(1.0 / scale) // 2)
    if factor > 1:
        grey = grey.reduce(factor)  # cheap box reduction before the exact resize
    scale = min(1.0, float(np.sqrt(WORK_PIXELS / max(1, grey.width * grey.height))))
    if scale < 1.0:
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.BOX)
    arr = np.asarray(grey, dtype=np.uint8)
    return Work(arr, arr.shape[1] / image.width)


def features(arr: np.ndarray) -> Features:
    """ORB keypoint positions and descriptors of a working raster (deterministic)."""
    kps, desc = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=FAST_THRESHOLD).detectAndCompute(arr, None)
    return np.array([kp.pt for kp in kps], dtype=np.float32).reshape(-1, 2), desc


def ratio_matches(query: np.ndarray, train: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Lowe's ratio test over ORB descriptors: for each query descriptor whose nearest train
    descriptor (Hamming) is nearer than ``ratio`` times the second nearest, its index and that
    neighbour's, in query order. ``train`` needs at least two rows.

    The same pairs as OpenCV's ``BFMatcher(NORM_HAMMING).knnMatch(query, train, k=2)`` filtered
    the same way: a pair passes only when its nearest distance is strictly the smallest, so how
    ties are ordered cannot change it (the tests compare both). faiss' binary flat search takes
    ~1.8 ms CPU for 1,200 x 1,200 descriptors where OpenCV's matcher takes ~9: this match is
    most of what it costs to reject a candidate by its stored features."""
    # one thread: workers are processes, and faiss' OpenMP pool spins (43 ms CPU for this
    # search, measured). The setting is per calling thread, so it is set on every call
    faiss.omp_set_num_threads(1)
    index = faiss.IndexBinaryFlat(train.shape[1] * 8)
    index.add(np.ascontiguousarray(train, dtype=np.uint8))
    dist, idx = index.search(np.ascontiguousarray(query, dtype=np.uint8), 2)
    keep = (idx[:, 1] >= 0) & (dist[:, 0] < ratio * dist[:, 1])
    q = np.flatnonzero(keep)
    return q, idx[q, 0]


class PreparedPage:
    """A page with what every comparison of it computes first (working raster, ORB features).
    Made by :func:`prepare` from an image, or from stored features with a way to read the image
    (``load``), which is called only when a comparison needs the pixels."""

    def __init__(self, size: tuple[int, int], features: Features, *, image: Image.Image | None = None,
                 work: Work | None = None, load: Callable[[], Image.Image | None] | None = None) -> None:
        self.size = size
        self.features = features
        self._image, self._work, self._load = image, work, load

    def reading_with(self, load: Callable[[], Image.Image | None]) -> PreparedPage:
        """This page, its image (when not read yet) to be read by ``load``: a page kept across
        uploads reads through the store view of the comparison that needs it."""
        if self._image is None:
            self._load = load
        return self

    @property
    def image(self) -> Image.Image:
        if self._image is None:
            image = self._load() if self._load is not None else None
            if image is None:
                raise PageGone("the page's features are stored but its file can no longer be read")
            self._image = image
        return self._image

    @property
    def work(self) -> Work:
        if self._work is None:
            self._work = work_raster(self.image)
        return self._work


class PageGone(Exception):
    """A prepared page from stored features whose image cannot be read any more."""


def prepare(image: Image.Image) -> PreparedPage:
    """The page ready to be compared many times (same results as the bare image)."""
    work = work_raster(image)
    return PreparedPage(image.size, features(work.arr), image=image, work=work)


def folder(url: str, settings: Any) -> Path | None:
    """Where the features of the pages of the store at ``url`` are kept (beside its index
    snapshot); None when snapshots are off or the store is in memory."""
    from forensics.index_snapshot import snapshot_path

    snap = snapshot_path(url, settings)
    return None if snap is None else snap.parent / "page-features"


def kept_path(root: Path, pixel_sha256: str) -> Path:
    """The file that keeps the features of the page with these pixels."""
    return root / pixel_sha256[:2] / f"{pixel_sha256}-{FEATURES_VERSION}.orb"


def load(root: Path | None, pixel_sha256: str | None) -> tuple[tuple[int, int], Features] | None:
    """((width, height), features) stored for the page with these pixels, or None."""
    if root is None or not pixel_sha256:
        return None
    try:
        data = kept_path(root, pixel_sha256).read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, width, height, n = _HEADER.unpack_from(data)
    if magic != _MAGIC or len(data) != _HEADER.size + n * 40:
        log.warning("ignoring a damaged page-features file for %s", pixel_sha256)
        return None
    pts = np.frombuffer(data, np.float32, 2 * n, _HEADER.size).reshape(n, 2)
    desc = np.frombuffer(data, np.uint8, 32 * n, _HEADER.size + 8 * n).reshape(n, 32) if n else None
    return (width, height), (pts, desc)


def save(root: Path | None, pixel_sha256: str | None, page: PreparedPage) -> None:
    """Keep ``page``'s features for later comparisons (a cache: failures are only logged)."""
    if root is None or not pixel_sha256:
        return
    pts, desc = page.features
    n = len(pts)
    if n and (desc is None or desc.shape != (n, 32)):
        return
    target = kept_path(root, pixel_sha256)
    if target.exists():
        return
    body = _HEADER.pack(_MAGIC, page.size[0], page.size[1], n) + np.ascontiguousarray(pts, np.float32).tobytes()
    if n:
        body += np.ascontiguousarray(desc, np.uint8).tobytes()
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, target)
    except OSError as exc:
        log.debug("cannot keep the features of %s: %s", pixel_sha256, exc)
        if tmp is not None:  # a half-written file is not left behind
            Path(tmp).unlink(missing_ok=True)

