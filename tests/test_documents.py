"""Loading uploads: sniffing, limits, typed errors and image normalisation."""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from fixtures.bad_inputs import (
    BadInputCase,
    bad_input_corpus,
    png_chunk,
    png_declaring,
    receipt_image,
    receipt_pdf,
)
from forensics.documents import (
    load_document,
    load_page_image,
    looks_like,
    sniff,
)
from forensics.errors import BadInput
from forensics.images import jpeg_quality_estimate
from forensics.settings import Settings

SETTINGS = Settings()
CORPUS = bad_input_corpus()
BY_NAME = {case.name: case for case in CORPUS}


def encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def load(case: BadInputCase, settings: Settings = SETTINGS):
    return load_document(case.data, claimed_type=case.claimed_type, settings=settings)


# --- the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_corpus_case_gives_expected_outcome(case: BadInputCase) -> None:
    if case.expect != "ok":
        with pytest.raises(BadInput) as info:
            load(case)
        assert info.value.code == case.expect, info.value.message
        return
    doc = load(case)
    assert doc.media_type == case.media_type
    assert len(doc.pages) == case.pages
    assert len(doc.pixel_sha256) == case.pages
    assert doc.size_bytes == len(case.data)
    first = doc.pages[0]
    assert first.image is not None
    assert (first.width, first.height) == first.image.size
    if case.size is not None:
        assert abs(first.width - case.size[0]) <= 1 and abs(first.height - case.size[1]) <= 1
    if case.mode is not None:
        assert first.image.mode == case.mode
    if case.has_javascript is not None:
        assert doc.pdf is not None and doc.pdf.has_javascript is case.has_javascript


def test_corpus_covers_every_required_error() -> None:
    codes = {c.expect for c in CORPUS}
    assert {
        "empty_file", "corrupt_file", "unsupported_media", "decompression_bomb", "encrypted_pdf",
        "too_many_pages", "file_too_large", "ok",
    } <= codes  # fmt: skip


def test_bomb_png_is_tiny_and_refused_from_its_header() -> None:
    case = BY_NAME["png_bomb_60000"]
    assert len(case.data) < 200
    with pytest.raises(BadInput) as info:
        load(case, SETTINGS.with_(max_pixels=10**12))  # Pillow's own limit must still hold
    assert info.value.code == "decompression_bomb"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("warnings_are_errors", [False, True])
def test_pillow_warning_zone_is_a_decompression_bomb_too(warnings_are_errors: bool) -> None:
    # 10000 x 10000 is above Pillow's warning threshold but below its hard error
    data = png_declaring(10_000, 10_000)
    with warnings.catch_warnings(), pytest.raises(BadInput) as info:
        if warnings_are_errors:  # as under ``python -W error``: Pillow raises its warning
            warnings.simplefilter("error")
        load_document(data, claimed_type="image/png", settings=SETTINGS.with_(max_pixels=10**9))
    assert info.value.code == "decompression_bomb"


def test_max_pixels_setting_refuses_before_decoding() -> None:
    data = encode(receipt_image("RGB"), "PNG")
    with pytest.raises(BadInput) as info:
        load_document(data, claimed_type=None, settings=SETTINGS.with_(max_pixels=10_000))
    assert info.value.code == "decompression_bomb"
    assert "10,000" in info.value.message


def test_unsupported_message_says_what_it_looks_like() -> None:
    with pytest.raises(BadInput) as info:
        load(BY_NAME["html_as_pdf"])
    assert "looks like HTML" in info.value.message


def test_png_named_pdf_is_analysed_as_png_with_type_mismatch() -> None:
    doc = load(BY_NAME["png_named_pdf"])
    assert doc.media_type == "image/png"
    assert doc.type_mismatch
    assert not load(BY_NAME["jpeg"]).type_mismatch


def test_truncated_images_are_not_loaded_partially() -> None:
    with pytest.raises(BadInput):
        load(BY_NAME["truncated_jpeg"])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_file_size_limit_is_a_setting() -> None:
    data = encode(receipt_image("RGB"), "PNG")
    with pytest.raises(BadInput) as info:
        load_document(
            data, claimed_type=None, settings=SETTINGS.with_(max_file_bytes=len(data) - 1)
        )
    assert info.value.code == "file_too_large"
    assert load_document(data, claimed_type=None, settings=SETTINGS.with_(max_file_bytes=len(data)))


# --- sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("TIFF", "image/tiff"),
     ("WEBP", "image/webp"), ("BMP", "image/bmp"), ("GIF", "image/gif")],
)  # fmt: skip
def test_sniff_images(fmt: str, media_type: str) -> None:
    assert sniff(encode(receipt_image("RGB", size=(40, 30)), fmt)) == media_type


def test_sniff_pdf_header_within_window_only() -> None:
    pdf = b"%PDF-1.7\n..."
    assert sniff(pdf) == "application/pdf"
    assert sniff(b" " * 1024 + pdf) == "application/pdf"
    assert sniff(b" " * 1025 + pdf) is None


def test_sniff_does_not_trust_two_letter_bmp_magic() -> None:
    assert sniff(b"BMW invoice 2024, total 12.00 EUR\n" * 3) is None
    assert "text" in looks_like(b"BMW invoice 2024, total 12.00 EUR\n")


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"<html><body>x</body></html>", "HTML"), (b"PK\x03\x04rest", "ZIP"),
     (b"\x00\x00\x00\x18ftypheic....", "HEIC"), (b"\xd0\xcf\x11\xe0\xa1\xb1", "Office"),
     (bytes(range(256)) * 4, "binary")],
)  # fmt: skip
def test_looks_like(data: bytes, words: str) -> None:
    assert sniff(data) is None
    assert words in looks_like(data)


# --- image normalisation ------------------------------------------------------------------------


def test_exif_orientation_is_applied() -> None:
    doc = load(BY_NAME["exif_rotated_jpeg"])
    page = np.asarray(doc.pages[0].image.convert("L"), dtype=np.int16)
    upright = np.asarray(receipt_image("L"), dtype=np.int16)
    assert page.shape == upright.shape  # (520, 360): portrait again
    assert np.abs(page - upright).mean() < 3  # JPEG noise only: the text reads upright
    assert doc.image_meta["Software"] == "ReceiptStudio 2.1"
    assert doc.image_meta["Make"] == "Acme" and doc.image_meta["Model"] == "PhoneCam 9"


def test_cmyk_becomes_rgb_with_white_paper_and_dark_ink() -> None:
    image = load(BY_NAME["cmyk_jpeg"]).pages[0].image
    assert image.mode == "RGB"
    assert min(image.getpixel((2, 2))) > 240
    assert min(np.asarray(image.convert("L")).ravel()) < 60


def test_sixteen_bit_grey_is_scaled_to_eight_bits() -> None:
    image = load(BY_NAME["png_16bit"]).pages[0].image
    assert image.mode == "L"
    expected = np.asarray(receipt_image("L"), dtype=np.uint8).copy()
    expected[-40:, :] = 128
    assert np.array_equal(np.asarray(image), expected)


def test_palette_transparency_is_composited_on_white() -> None:
    image = load(BY_NAME["palette_png_transparent"]).pages[0].image
    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == (255, 255, 255)  # was transparent light blue


def test_rgba_and_la_are_composited_on_white() -> None:
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 255, 255))
    image = load_document(encode(rgba, "PNG"), claimed_type=None, settings=SETTINGS).pages[0].image
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((5, 5)) == (0, 0, 255)
    la = Image.new("LA", (20, 10), (0, 0))
    image = load_document(encode(la, "PNG"), claimed_type=None, settings=SETTINGS).pages[0].image
    assert image.mode == "L" and image.getpixel((0, 0)) == 255


def test_greyscale_stays_greyscale_and_bilevel_becomes_l() -> None:
    for mode in ("L", "1"):
        data = encode(receipt_image(mode, background=1 if mode == "1" else 255, ink=0), "PNG")
        assert load_document(data, claimed_type=None, settings=SETTINGS).pages[0].image.mode == "L"


def test_tiff_pages_and_page_limit() -> None:
    doc = load(BY_NAME["tiff_two_pages"])
    first, second = (np.asarray(p.image) for p in doc.pages)
    assert first.min() == 0 and second.min() == 80  # two different pages, in order
    assert doc.pixel_sha256[0] != doc.pixel_sha256[1]
    with pytest.raises(BadInput) as info:
        load(BY_NAME["tiff_two_pages"], SETTINGS.with_(max_pages=1))
    assert info.value.code == "too_many_pages"


def test_gif_uses_first_frame_only() -> None:
    doc = load(BY_NAME["gif_animated"])
    assert len(doc.pages) == 1
    assert np.asarray(doc.pages[0].image).mean() > 200  # the white receipt, not the black frame


def test_pixel_hash_ignores_container_but_file_hash_does_not() -> None:
    im = receipt_image("RGB")
    png = load_document(encode(im, "PNG"), claimed_type=None, settings=SETTINGS)
    bmp = load_document(encode(im, "BMP"), claimed_type=None, settings=SETTINGS)
    assert png.sha256 != bmp.sha256
    assert png.pixel_sha256 == bmp.pixel_sha256


@pytest.mark.parametrize("quality", [30, 50, 75, 90, 95])
def test_jpeg_quality_estimate(quality: int) -> None:
    doc = load_document(
        encode(receipt_image("RGB"), "JPEG", quality=quality), claimed_type=None, settings=SETTINGS
    )
    assert abs(int(doc.image_meta["jpeg_quality_estimate"]) - quality) <= 2
    assert jpeg_quality_estimate(None) is None


def test_big_jpeg_is_decoded_at_reduced_scale_within_a_factor_of_four() -> None:
    data = encode(receipt_image("RGB", size=(1200, 1000)), "JPEG")
    doc = load_document(data, claimed_type=None, settings=SETTINGS.with_(max_pixels=400_000))
    assert doc.pages[0].image.size == (600, 500)
    assert doc.image_meta["decode_scale"] == "1/2"
    with pytest.raises(BadInput) as info:
        load_document(data, claimed_type=None, settings=SETTINGS.with_(max_pixels=200_000))
    assert info.value.code == "decompression_bomb"


def test_damaged_png_chunk_is_corrupt_file() -> None:
    good = encode(receipt_image("L"), "PNG")
    idat = good.index(b"IDAT")
    broken = good[: idat + 20] + bytes(200) + good[idat + 220 :]
    with pytest.raises(BadInput) as info:
        load_document(broken, claimed_type=None, settings=SETTINGS)
    assert info.value.code == "corrupt_file"


def test_zero_size_png_header_is_corrupt() -> None:
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    with pytest.raises(BadInput):
        load_document(data, claimed_type=None, settings=SETTINGS)


# --- never anything but typed errors ---------------------------------------------------------

#: valid small files whose mutations reach deep into each decoder
SEEDS = [
    encode(receipt_image("RGB", size=(64, 48)), "JPEG"),
    encode(receipt_image("RGB", size=(64, 48)), "PNG"),
    encode(receipt_image("L", size=(64, 48)), "TIFF"),
    encode(receipt_image("RGB", size=(64, 48)), "GIF"),
    encode(receipt_image("RGB", size=(64, 48)), "WEBP"),
    encode(receipt_image("RGB", size=(64, 48)), "BMP"),
    receipt_pdf(lines=("Total 12.00",)),
]
SMALL = SETTINGS.with_(max_pixels=2_000_000, max_pages=3, render_dpi=36)


def _outcome(data: bytes) -> None:
    try:
        doc = load_document(data, claimed_type="image/jpeg", settings=SMALL)
    except BadInput:
        return
    assert doc.pages and all(p.image is not None for p in doc.pages)


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_typed_errors(data: bytes) -> None:
    _outcome(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    keep=st.one_of(st.just(1.0), st.floats(0.5, 1.0)),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_mutated_files_raise_only_typed_errors(
    seed: bytes, keep: float, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(seed[: max(1, int(len(seed) * keep))])
    for where, value in flips:
        data[min(len(data) - 1, int(where * len(data)))] = value
    _outcome(bytes(data))


# --- one page read again -------------------------------------------------------------------


def test_one_page_read_again_is_the_page_the_analysis_decoded() -> None:
    """load_page_image gives exactly load_document's page (the alignment of an earlier upload
    depends on it), for a JPEG and for each page of a two-page PDF, and None past the end."""
    jpeg = encode(receipt_image(), "JPEG", quality=80)
    for data in (jpeg, receipt_pdf(), receipt_pdf(pages=2)):
        doc = load_document(data, claimed_type=None, settings=SETTINGS)
        for page in doc.pages:
            again = load_page_image(data, page.number, settings=SETTINGS)
            assert again is not None and again.mode == page.image.mode and again.size == page.image.size
            assert again.tobytes() == page.image.tobytes()
        assert load_page_image(data, len(doc.pages) + 1, settings=SETTINGS) is None
    with pytest.raises(BadInput):
        load_page_image(b"<html></html>", 1, settings=SETTINGS)


def test_a_pdf_page_s_pixel_hash_is_its_image_s_whatever_the_bitmap_s_stride() -> None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    from fixtures.bad_inputs import receipt_pdf
    from forensics.documents import bitmap_sha256, pixel_sha256

    doc = load_document(receipt_pdf(pages=2), claimed_type=None, settings=SETTINGS)
    assert [p.pixel_sha256 for p in doc.pages] == [pixel_sha256(p.image) for p in doc.pages]
    assert doc.pixel_sha256 == tuple(pixel_sha256(p.image) for p in doc.pages)
    rng = np.random.default_rng(3)
    for stride in (37, 40, 64):  # packed, and rows padded to a longer stride
        bitmap = pdfium.PdfBitmap.new_native(37, 11, pdfium_c.FPDFBitmap_Gray, stride=stride)
        memoryview(bitmap.buffer).cast("B")[:] = rng.integers(0, 256, stride * 11, dtype=np.uint8).tobytes()
        assert bitmap_sha256(bitmap) == pixel_sha256(bitmap.to_pil())
