"""Small receipt-page generator for the fingerprint and alignment tests and benchmark.

Self-contained (Pillow + numpy + DejaVu fonts) so the tests need nothing from ../shared. A
:class:`MiniShop` fixes a layout (font, width, header, line spacing); :func:`render_scan` prints
one receipt of it with random content and scans it with its own paper noise; :func:`reupload`
and :func:`edited_copy` are the forger's two habits.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

#: DejaVu fonts a shop prints with
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
)
_WORDS = ("PEN", "BOOK", "RULER", "GLUE", "TAPE", "NOTE", "FILE", "CLIP", "MARKER", "PAPER",
          "INK", "BAG", "CUP", "SOAP", "RICE", "TEA", "MILK", "BREAD", "EGG", "SALT")


@dataclass(frozen=True)
class MiniShop:
    """A shop's receipt layout: everything two honest receipts of it share."""

    name: str
    address: str
    font: str
    size: int
    width: int
    spacing: float
    margin: int


def make_shop(rng: random.Random) -> MiniShop:
    name = " ".join(rng.choice(_WORDS) for _ in range(2)) + rng.choice((" SDN BHD", " STORE", " MART"))
    address = f"{rng.randint(1, 99)}, JALAN {rng.choice(_WORDS)} {rng.randint(1, 20)}"
    return MiniShop(name, address, rng.choice(FONTS), rng.randint(20, 26), rng.choice((520, 580, 640)),
                    rng.uniform(1.35, 1.7), rng.randint(24, 48))


def _font(shop: MiniShop) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(shop.font, shop.size)


def render_receipt(shop: MiniShop, rng: random.Random) -> tuple[Image.Image, dict[str, tuple]]:
    """A clean receipt (mode L) and the boxes of its editable fields (serial, date, total)."""
    font = _font(shop)
    step = int(shop.size * shop.spacing)
    items = [(f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}", rng.randint(100, 9999)) for _ in range(rng.randint(4, 12))]
    lines: list[tuple[str, str, str | None]] = [
        ("center", shop.name, None), ("center", shop.address, None), ("center", "TEL 03-5566 7788", None),
        ("left", "", None),
        ("left", f"INVOICE NO: CS{rng.randint(10000000, 99999999)}", "serial"),
        ("left", f"DATE: {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2018", "date"),
        ("left", f"CASHIER: {rng.choice(_WORDS)}", None),
        ("left", "-" * 40, None),
    ]
    for desc, cents in items:
        lines.append(("item", f"{desc}|{cents / 100:.2f}", None))
    total = sum(c for _, c in items) / 100
    lines += [("left", "-" * 40, None), ("item", f"TOTAL|{total:.2f}", "total"),
              ("item", f"CASH|{total + rng.randint(0, 50):.2f}", None),
              ("left", "", None), ("center", "THANK YOU, PLEASE COME AGAIN", None)]
    height = shop.margin * 2 + step * len(lines)
    img = Image.new("L", (shop.width, height), 255)
    draw = ImageDraw.Draw(img)
    boxes: dict[str, tuple] = {}
    y = shop.margin
    for how, text, key in lines:
        if how == "center":
            w = draw.textlength(text, font=font)
            draw.text(((shop.width - w) / 2, y), text, font=font, fill=20)
        elif how == "item":
            left, right = text.split("|")
            draw.text((shop.margin, y), left, font=font, fill=20)
            w = draw.textlength(right, font=font)
            draw.text((shop.width - shop.margin - w, y), right, font=font, fill=20)
            if key:
                boxes[key] = (int(shop.width - shop.margin - w) - 2, y - 2, shop.width - shop.margin + 2, y + step - 4)
        else:
            draw.text((shop.margin, y), text, font=font, fill=20)
            if key:
                label = text.split(":")[0] + ": "
                x0 = shop.margin + int(draw.textlength(label, font=font))
                boxes[key] = (x0 - 2, y - 2, shop.margin + int(draw.textlength(text, font=font)) + 2, y + step - 4)
        y += step
    return img, boxes


def jpeg_roundtrip(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


def render_scan(shop: MiniShop, rng: random.Random) -> tuple[Image.Image, dict[str, tuple]]:
    """A receipt as a scanner sees it: its own paper noise and shading, light blur, JPEG."""
    clean, boxes = render_receipt(shop, rng)
    nrng = np.random.default_rng(rng.randrange(2**32))
    arr = np.asarray(clean, dtype=np.float32)
    h, w = arr.shape
    # ink is not perfectly black and paper is not perfectly white: scale to paper level
    paper = rng.uniform(215, 245)
    arr = 25 + (arr - 20) / 235 * (paper - 25)
    shade = np.linspace(0, rng.uniform(-12, 12), h)[:, None] + np.linspace(0, rng.uniform(-8, 8), w)[None, :]
    texture = nrng.normal(0, rng.uniform(4, 8), (h // 2 + 1, w // 2 + 1)).repeat(2, 0).repeat(2, 1)[:h, :w]
    arr = arr + shade + texture + nrng.normal(0, 2.0, (h, w))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return jpeg_roundtrip(img, rng.randint(88, 95)), boxes


def reupload(img: Image.Image, rng: random.Random) -> Image.Image:
    """Someone else's upload of the same scan: cropped, rotated, rescaled, brightened, JPEG."""
    w, h = img.size
    cx0, cx1 = int(w * rng.uniform(0, 0.04)), int(w * rng.uniform(0, 0.04))
    cy0, cy1 = int(h * rng.uniform(0, 0.04)), int(h * rng.uniform(0, 0.04))
    out = img.crop((cx0, cy0, w - cx1, h - cy1))
    angle = rng.uniform(-2, 2)
    out = out.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=235)
    s = rng.uniform(0.7, 1.3)
    out = out.resize((max(1, int(out.width * s)), max(1, int(out.height * s))), Image.Resampling.BILINEAR)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.85, 1.15))
    return jpeg_roundtrip(out, rng.randint(55, 85))


def edited_copy(img: Image.Image, boxes: dict[str, tuple], shop: MiniShop, rng: random.Random,
                *, degrade: bool = False) -> tuple[Image.Image, list[tuple]]:
    """The forger's template: the same scan with 1-3 fields repainted; returns the edited boxes
    (in ``img`` coordinates). ``degrade`` also rescales it slightly and re-encodes harder."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = _font(shop)
    arr = np.asarray(img)
    keys = rng.sample(sorted(boxes), rng.randint(1, min(3, len(boxes))))
    edited = []
    for key in keys:
        x0, y0, x1, y1 = boxes[key]
        paper = int(np.percentile(arr[max(0, y0 - 6) : y1 + 6, max(0, x0 - 6) : x1 + 6], 80))
        draw.rectangle((x0, y0, x1, y1), fill=paper)
        if key == "total":
            text = f"{rng.randint(100, 99999) / 100:.2f}"
            tw = draw.textlength(text, font=font)
            draw.text((x1 - 2 - tw, y0 + 2), text, font=font, fill=30)
        elif key == "date":
            draw.text((x0 + 2, y0 + 2), f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2019", font=font, fill=30)
        else:
            draw.text((x0 + 2, y0 + 2), f"CS{rng.randint(10000000, 99999999)}", font=font, fill=30)
        edited.append((x0, y0, x1, y1))
    if degrade:
        s = rng.uniform(0.85, 1.15)
        out = out.resize((int(out.width * s), int(out.height * s)), Image.Resampling.BILINEAR)
        return jpeg_roundtrip(out, rng.randint(65, 85)), edited
    return jpeg_roundtrip(out, rng.randint(75, 92)), edited
