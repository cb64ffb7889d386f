"""Stamping the viewer's name and the time into a page image, and the invisible trace.

Confidential documents are served only as images with the viewer's identity drawn into the pixels,
so a photographed or forwarded page names its source. The text is repeated diagonally across the
whole page (cropping cannot remove it) and drawn semi-transparent (the page stays readable).

A fixed layout could be inverted: knowing the text, font, angle, lattice and opacity, a reader
could redraw the stamp and subtract it. Given a ``seed`` (secret per response: the server derives
it from its secret and the viewing), the angle, opacity, spacing, the lattice's origin and each
stamp's position vary within bounds that keep the text legible, so neither subtracting a
template nor averaging several copies removes it. A ``trace`` adds the invisible mark of
``tracemark`` (the viewing's number) after the stamps.

The page is decoded and encoded in YCbCr, the JPEG's own colour space: the stamps blend the same
there (the conversion is linear), the trace touches only the Y band, and two colour conversions
are saved, which pays for most of the trace.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from PIL import Image, ImageDraw

from ecabinet.core.text import nfc
from ecabinet.pdf import tracemark
from ecabinet.pdf.fonts import pil_font

DEFAULT_COLOR: tuple[int, int, int] = (200, 30, 30)
# How far a seeded layout strays from the defaults: enough that no two responses line up,
# little enough that every stamp stays legible and the page stays covered.
ANGLE_JITTER: Final = 8.0  # degrees either way
OPACITY: Final = (0.95, 1.2)  # times the opacity asked for: never much fainter
SPACING: Final = (0.85, 1.05)  # times the default steps between stamps: never much sparser
NUDGE: Final = 0.3  # each stamp's own shift, in font sizes either way


@dataclass(frozen=True)
class Trace:
    """The invisible mark to add: its key and 48-bit payload (``tracemark.view_payload``)."""

    key: bytes
    payload: int


@dataclass(frozen=True)
class _Stamp:
    mask: Image.Image  # the rotated text block; pixel values are already the opacity
    width: int  # the text block's size before rotation
    height: int


@dataclass(frozen=True)
class _Layout:
    angle: float
    opacity: float
    along: float  # multiples of the default gaps
    across: float
    origin: tuple[float, float]  # share of a lattice step along and across
    rng: random.Random | None  # odd rows' shifts and each stamp's nudge, drawn as placed


@lru_cache(maxsize=64)
def _stamp(lines: tuple[str, ...], size: int, angle: float, opacity: float) -> _Stamp:
    """Draw and rotate the text block once.

    Cached because a reader flips through many pages with the same name, time (to the minute)
    and image width, and drawing plus rotating the text is most of the cost of a fixed layout.
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
    seed: bytes | None = None,
    trace: Trace | None = None,
) -> bytes:
    """Return a JPEG of the image with ``text_lines`` drawn diagonally, repeated and translucent.

    Text is NFC-normalised and drawn with a Vietnamese-capable font whose size follows the image
    width, so every rendition carries a legible stamp. ``opacity`` is between 0 and 1. With a
    ``seed`` the layout varies around ``angle`` and ``opacity`` (the same seed, the same
    layout); with a ``trace`` the image also carries that invisible mark.
    """
    lines = tuple(nfc(line) for line in text_lines if line.strip())
    with Image.open(io.BytesIO(jpeg_bytes)) as source:
        source.draft("YCbCr", source.size)  # a JPEG decodes without colour conversion
        image = source.convert("RGB").convert("YCbCr") if source.mode != "YCbCr" else source.copy()
    if lines:
        layout = _layout(seed, angle, max(0.0, min(1.0, opacity)))
        _draw(image, lines, layout, _ycbcr(color))
    if trace is not None:
        image = tracemark.mark_image(image, trace.key, trace.payload)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _ycbcr(color: tuple[int, int, int]) -> tuple[int, int, int]:
    pixel = Image.new("RGB", (1, 1), color).convert("YCbCr").getpixel((0, 0))
    assert isinstance(pixel, tuple)
    return (int(pixel[0]), int(pixel[1]), int(pixel[2]))


def _layout(seed: bytes | None, angle: float, opacity: float) -> _Layout:
    if seed is None:
        return _Layout(angle, opacity, 1.0, 1.0, (0.0, 0.0), None)
    rng = random.Random(seed)
    # Rounded so that a reader's pages (same name and minute) still share a few drawn stamps.
    return _Layout(
        angle=round(angle + rng.uniform(-ANGLE_JITTER, ANGLE_JITTER), 1),
        opacity=round(min(1.0, opacity * rng.uniform(*OPACITY)), 3),
        along=rng.uniform(*SPACING),
        across=rng.uniform(*SPACING),
        origin=(rng.random(), rng.random()),
        rng=rng,
    )


def _draw(image: Image.Image, lines: tuple[str, ...], layout: _Layout,
          color: tuple[int, int, int]) -> None:
    width, height = image.size
    size = max(10, width // 30)
    stamp = _stamp(lines, size, layout.angle, layout.opacity)
    # Stamps sit on a lattice turned by the same angle as the text: rows of text along the
    # diagonal, alternate rows shifted by about half a step, and no empty band on the page.
    radians = math.radians(layout.angle)
    step_along = (stamp.width + 2 * size) * layout.along
    step_across = (stamp.height + size) * layout.across
    along = step_along * math.cos(radians), -step_along * math.sin(radians)
    across = step_across * math.sin(radians), step_across * math.cos(radians)
    reach = math.ceil(math.hypot(width, height) / min(step_across, step_along)) + 2
    half_w, half_h = stamp.mask.width / 2, stamp.mask.height / 2
    rng, nudge = layout.rng, NUDGE * size
    for row in range(-reach, reach + 1):
        shift = (row % 2) * (0.5 if rng is None else rng.uniform(0.3, 0.7))
        for column in range(-reach, reach + 1):
            a, b = column + shift + layout.origin[0], row + layout.origin[1]
            x = width / 2 + a * along[0] + b * across[0]
            y = height / 2 + a * along[1] + b * across[1]
            if rng is not None:
                x += rng.uniform(-nudge, nudge)
                y += rng.uniform(-nudge, nudge)
            if -half_w < x < width + half_w and -half_h < y < height + half_h:
                image.paste(color, (round(x - half_w), round(y - half_h)), stamp.mask)
