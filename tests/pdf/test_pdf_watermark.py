"""watermark_image: the viewer's name and the time, visible across the whole page."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from ecabinet.pdf.watermark import watermark_image


def white_jpeg(width: int = 1280, height: int = 1810) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "JPEG", quality=90)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.convert("RGB")


LINES = ["Nguyễn Thị Hồng Nhung - Sở Kế hoạch và Đầu tư", "21/11/2025 14:05"]


def test_the_stamp_covers_every_part_of_the_page() -> None:
    source = white_jpeg()
    marked = decode(watermark_image(source, LINES))
    assert marked.size == (1280, 1810)
    difference = ImageChops.difference(decode(source), marked).convert("L")
    # Cut the page into a 4 x 4 grid: cropping any region still leaves part of a stamp in it.
    for row in range(4):
        for column in range(4):
            box = (column * 320, row * 452, (column + 1) * 320, (row + 1) * 452)
            assert difference.crop(box).getbbox() is not None, box


def test_the_stamp_is_translucent() -> None:
    marked = decode(watermark_image(white_jpeg(), LINES, opacity=0.2))
    darkest, _ = marked.convert("L").getextrema()
    assert 120 < darkest < 250  # visible, but the page below would still show through


def test_a_fully_opaque_stamp_is_darker() -> None:
    light = decode(watermark_image(white_jpeg(), LINES, opacity=0.2))
    strong = decode(watermark_image(white_jpeg(), LINES, opacity=0.9))
    assert ImageStat.Stat(strong.convert("L")).mean[0] < ImageStat.Stat(light.convert("L")).mean[0]


def test_decomposed_and_composed_text_draw_the_same() -> None:
    composed = watermark_image(white_jpeg(600, 800), ["Phạm Đức Mạnh"])
    decomposed = watermark_image(
        white_jpeg(600, 800), ["Pha\u0323m \u0110u\u031b\u0301c Ma\u0323nh"]
    )
    assert composed == decomposed


def test_vietnamese_letters_are_drawn_not_replaced_by_boxes() -> None:
    # With a font lacking the glyph, each of these would draw the same ".notdef" box.
    images = [decode(watermark_image(white_jpeg(400, 300), [letter * 6])) for letter in "ạặễ"]
    assert images[0].tobytes() != images[1].tobytes() != images[2].tobytes()


def test_no_lines_leaves_the_image_as_it_was() -> None:
    source = white_jpeg(300, 200)
    marked = decode(watermark_image(source, ["  "]))
    assert ImageChops.difference(decode(source), marked).getbbox() is None


@pytest.mark.parametrize("width", [200, 2560])
def test_every_rendition_size(width: int) -> None:
    marked = decode(watermark_image(white_jpeg(width, int(width * 1.41)), LINES))
    assert marked.getbbox() is not None
    assert ImageStat.Stat(marked.convert("L")).mean[0] < 254.5
