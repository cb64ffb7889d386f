"""Stamping the viewer's name and the time into a page image.

Confidential documents are served only as images with the viewer's identity drawn into the pixels,
so a photographed or forwarded page names its source. The text is repeated diagonally across the
whole page (cropping cannot remove it) and drawn semi-transparent (the page stays readable).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import pil_font

DEFAULT_COLOR: tuple[int, int, int] = (200, 30, 30)


@dataclass(frozen=True)
class _Stamp:
    mask: Image.Image  # the rotated text block; pixel values are already the opacity
    width: int  # the text block's size before rotation
    height: int


@lru_cache(maxsize=64)
def _stamp(lines: tuple[str, ...], size: int, angle: float, opacity: float) -> _Stamp:
    """Draw and rotate the text block once.

    Cached because a reader flips through many pages with the same name, time (to the minute)
    and image width, and drawing plus rotating the text is most of the cost.
    """
    font = pil_font(size)
    spacing = size // 3
    text = "\n".join(lines)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = probe.multiline_textbbox((0, 0), text, font=font, spacing=spacing, align="center")
    left, top = math.floor(box[0]), math.floor(box[1])
    width, height = math.ceil(box[2]) - left, math.ceil(box[3]) - top
    block = Image.new("L", (width, height), 0)
    ImageDraw.Draw(block).multiline_text(
        (-left, -top), text, font=font, fill=round(255 * opacity), spacing=spacing, align="center"
    )
    mask = block.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return _Stamp(mask, width, height)


def watermark_image(
    jpeg_bytes: bytes,
    text_lines: Sequence[str],
    *,
    quality: int = 80,
    opacity: float = 0.22,
    angle: float = 30.0,
    color: tuple[int, int, int] = DEFAULT_COLOR,
) -> bytes:
    """Return a JPEG of the image with ``text_lines`` drawn diagonally, repeated and translucent.

    Text is NFC-normalised and drawn with a Vietnamese-capable font whose size follows the image
    width, so every rendition carries a legible stamp. ``opacity`` is between 0 and 1.
    """
    lines = tuple(nfc(line) for line in text_lines if line.strip())
    with Image.open(io.BytesIO(jpeg_bytes)) as source:
        image = source.convert("RGB")
    if lines:
        _draw(image, lines, opacity, angle, color)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _draw(
    image: Image.Image,
    lines: tuple[str, ...],
    opacity: float,
    angle: float,
    color: tuple[int, int, int],
) -> None:
    width, height = image.size
    size = max(10, width // 30)
    stamp = _stamp(lines, size, angle, max(0.0, min(1.0, opacity)))
    # Stamps sit on a lattice turned by the same angle as the text: rows of text along the
    # diagonal, alternate rows shifted by half a step, and no empty band anywhere on the page.
    radians = math.radians(angle)
    along = (
        (stamp.width + 2 * size) * math.cos(radians),
        -(stamp.width + 2 * size) * math.sin(radians),
    )
    across = (stamp.height + size) * math.sin(radians), (stamp.height + size) * math.cos(radians)
    reach = math.ceil(math.hypot(width, height) / min(stamp.height + size, stamp.width)) + 1
    half_w, half_h = stamp.mask.width / 2, stamp.mask.height / 2
    for row in range(-reach, reach + 1):
        shift = 0.5 * (row % 2)
        for column in range(-reach, reach + 1):
            x = width / 2 + (column + shift) * along[0] + row * across[0]
            y = height / 2 + (column + shift) * along[1] + row * across[1]
            if -half_w < x < width + half_w and -half_h < y < height + half_h:
                image.paste(color, (round(x - half_w), round(y - half_h)), stamp.mask)
