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


@pytest.mark.parametrize("seed", [None, b"one", b"two", b"three", b"four"])
def test_the_stamp_covers_every_part_of_the_page(seed: bytes | None) -> None:
    source = white_jpeg()
    marked = decode(watermark_image(source, LINES, seed=seed))
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


def stamp_pixels(image: Image.Image) -> Image.Image:
    return image.convert("L").point(lambda value: 255 if value < 235 else 0)


def test_each_seed_lays_the_stamps_out_differently() -> None:
    """A reader who knows the text cannot redraw the stamp and subtract it, nor line up two
    copies to average it away: the angle, spacing, lattice origin and each stamp's place vary
    with a seed only the server knows."""
    source = white_jpeg()
    layouts = [stamp_pixels(decode(watermark_image(source, LINES, seed=bytes([n]))))
               for n in range(4)]
    fixed = stamp_pixels(decode(watermark_image(source, LINES)))
    for n, layout in enumerate(layouts):
        drawn = layout.histogram()[255]
        for other in [*layouts[n + 1 :], fixed]:
            overlap = ImageChops.multiply(layout, other).histogram()[255]
            assert overlap < 0.2 * drawn  # about the chance overlap of unrelated layouts
    assert watermark_image(source, LINES, seed=b"same") == watermark_image(source, LINES,
                                                                           seed=b"same")


@pytest.mark.parametrize("seed", [bytes([n]) for n in range(6)])
def test_a_seeded_stamp_stays_legible_and_translucent(seed: bytes) -> None:
    marked = decode(watermark_image(white_jpeg(), LINES, seed=seed))
    darkest, _ = marked.convert("L").getextrema()
    assert 120 < darkest < 250
    share = stamp_pixels(marked).histogram()[255] / (1280 * 1810)
    assert 0.02 < share < 0.2
