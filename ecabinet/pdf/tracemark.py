"""An invisible, keyed mark in a page image that names one viewing of it.

The visible watermark names the viewer, but a reader can paint over it or cut it out; this mark
traces what is left. It carries a 48-bit payload (a view number and its keyed check, see
``view_payload``) in the luminance, as a pseudo-random pattern of +/- ``STRENGTH`` grey levels
in square chips (``CHIP`` px at the tablet width), 32 x 32 chips to a tile, the tile repeated
over the whole page. A quarter of the chips are a fixed keyed sync pattern; the rest carry the
payload under a rate-1/3 convolutional code (``convcode``: 162 coded bits, each in 4 or 5 chips
scattered over the tile, with keyed signs). Without the key the pattern is noise; with it, it
is found again:

1. the image's fine detail (less its local mean), clipped and weighted so that text counts
   less than paper;
2. the tile's period, i.e. the image's scale, from the autocorrelation of that detail along
   each axis: the repeated tile makes peaks at every multiple of its size, so sizes are scored
   by their peaks summed over the multiples, and the best few of each axis are tried;
3. for each, the detail is folded (every tile summed onto one), which adds up the mark from
   every whole or partial tile left after a crop while the page averages out, and the fold's
   cyclic correlation with the sync pattern gives the crop's offset and, by how far its peak
   stands out, whether there is a mark at all;
4. each coded bit is its chips' sum, decoded by soft Viterbi; the check bits reject a wrong
   reading.

Measured (``tests/pdf/test_pdf_tracemark.py`` runs these): on text pages at 1280 px, found
after JPEG quality 60, after scaling to half size, after cropping to 60 % of the width and 60 %
of the height from any corner or the centre, and after all three together; nothing found on
unmarked pages.

Why not a library: ``invisible-watermark`` 0.2 (DWT-DCT, the maintained choice on PyPI) read
back nothing at all from a rendered text page even unattacked (the white paper leaves its
coefficients nothing to modulate: 26 of 48 bits wrong, all zero bytes), and on a photograph it
lost the payload after a 60 % crop (25/48 wrong) or a half-size scaling (26/48 wrong), since it
reads fixed block positions at a fixed size; it also imports torch and OpenCV. ``blind-watermark``
reads fixed blocks in the same way, and neural markers need model weights.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageFilter

from ecabinet.pdf import convcode

GRID: Final = 32  # chips along a tile's side
CHIP: Final = 4  # a chip's side in pixels at REFERENCE_WIDTH (wider images: proportionally)
REFERENCE_WIDTH: Final = 1280
SYNC_CHIPS: Final = 256
PAYLOAD_BITS: Final = 48
CHECK_BITS: Final = 16
STRENGTH: Final = 4  # grey levels either way: white paper becomes 247 and 255
KEY_LABEL: Final = b"ecabinet/tracemark/1"

# The decoder works at most this wide (larger images are reduced by a whole factor first).
_ANALYSIS_WIDTH: Final = 1400
_TILE: Final = GRID * CHIP
# Tile sizes searched, as a share of the tile at the analysis width: 0.3 covers a tablet page
# at a third of its size, 1.3 one enlarged by a third.
_SMALLEST, _LARGEST = 0.3, 1.3
_CLIP: Final = 8.0  # grey levels: text edges count no more than paper
_MIN_SYNC_Z: Final = 6.0  # the sync peak, in standard deviations of the correlation surface
_CANDIDATES: Final = 4  # tile sizes tried per axis
_NEIGHBOURS: Final = np.r_[-7:-2, 3:8]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Mark:
    """A mark found in an image: its payload, how clearly it stood out, the image's scale."""

    payload: int
    confidence: float  # the sync peak in standard deviations (6 is the least accepted)
    scale: float  # the image's size relative to the marked one (1280 px wide = 1.0)


@dataclass(frozen=True)
class _Layout:
    sync_index: npt.NDArray[np.intp]
    sync_sign: Floats
    data_index: npt.NDArray[np.intp]
    data_sign: Floats
    data_bit: npt.NDArray[np.intp]
    sync_tile: Floats  # the sync chips as a tile of pixels at the analysis size (0 elsewhere)


def derive_key(secret_key: str) -> bytes:
    """The mark's key: HMAC-SHA256 of a fixed label under the server secret (as the audit
    chain's key is made), so a mark can be neither made nor read without the secret."""
    return hmac.new(secret_key.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()


def view_payload(key: bytes, view: int) -> int:
    """The payload naming view number ``view`` (below 2**32): the number and a keyed check."""
    if not 0 <= view < 1 << (PAYLOAD_BITS - CHECK_BITS):
        raise ValueError(f"view number out of range: {view}")
    return view << CHECK_BITS | _check(key, view)


def view_of(key: bytes, payload: int) -> int | None:
    """The view number in ``payload``, or None when its check does not match."""
    view = payload >> CHECK_BITS
    ok = hmac.compare_digest(
        (payload & ((1 << CHECK_BITS) - 1)).to_bytes(2, "big"), _check(key, view).to_bytes(2, "big")
    )
    return view if ok else None


def _check(key: bytes, view: int) -> int:
    digest = hmac.new(key, b"view" + view.to_bytes(4, "big"), hashlib.sha256).digest()
    return int.from_bytes(digest[: CHECK_BITS // 8], "big")


@lru_cache(maxsize=8)
def _layout(key: bytes) -> _Layout:
    seed = hmac.new(key, b"layout", hashlib.sha256).digest()
    rng = np.random.default_rng(int.from_bytes(seed[:16], "big"))
    order = rng.permutation(GRID * GRID)
    sync_index, data_index = order[:SYNC_CHIPS], order[SYNC_CHIPS:]
    sync_sign = rng.choice([-1.0, 1.0], SYNC_CHIPS)
    chips = np.zeros(GRID * GRID)
    chips[sync_index] = sync_sign
    return _Layout(
        sync_index=sync_index,
        sync_sign=sync_sign,
        data_index=data_index,
        data_sign=rng.choice([-1.0, 1.0], data_index.size),
        data_bit=np.arange(data_index.size) % convcode.coded_length(PAYLOAD_BITS),
        sync_tile=np.kron(chips.reshape(GRID, GRID), np.ones((CHIP, CHIP))).astype(np.float64),
    )


def _coded(payload: int) -> Floats:
    """The payload's coded bits as +/-1, most significant bit first."""
    return convcode.encode([payload >> (PAYLOAD_BITS - 1 - i) & 1 for i in range(PAYLOAD_BITS)])


def mark_image(image: Image.Image, key: bytes, payload: int, *,
               strength: int = STRENGTH) -> Image.Image:
    """Return a copy of ``image`` carrying ``payload`` (48 bits) under ``key``.

    Only the luminance changes, by +/- ``strength``, after its range is narrowed by as much at
    both ends so that white paper and black print carry both signs. A YCbCr image (a JPEG
    decoded without colour conversion) is marked in its Y band and stays YCbCr, which costs
    about one pass over a third of the bytes; other images are converted and come back as RGB.
    """
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise ValueError("the payload has 48 bits")
    if image.mode == "L":
        return _mark_luma(image, key, payload, strength)
    ycc = image if image.mode == "YCbCr" else image.convert("RGB").convert("YCbCr")
    luma, blue, red = ycc.split()
    marked = Image.merge("YCbCr", (_mark_luma(luma, key, payload, strength), blue, red))
    return marked if image.mode == "YCbCr" else marked.convert("RGB")


def _mark_luma(luma: Image.Image, key: bytes, payload: int, strength: int) -> Image.Image:
    layout = _layout(key)
    chips = np.zeros(GRID * GRID)
    chips[layout.sync_index] = layout.sync_sign
    chips[layout.data_index] = layout.data_sign * _coded(payload)[layout.data_bit]
    chip = CHIP * max(1, round(luma.width / REFERENCE_WIDTH))
    cells = (128 + strength * chips).astype(np.uint8).reshape(GRID, GRID)
    tile = cells.repeat(chip, axis=0).repeat(chip, axis=1)
    size = GRID * chip
    rows, columns = -(-luma.height // size), -(-luma.width // size)
    plane = np.tile(tile, (rows, columns))[: luma.height, : luma.width]
    pattern = Image.fromarray(np.ascontiguousarray(plane), "L")
    narrowed = luma.point([min(max(value, strength), 255 - strength) for value in range(256)])
    return ImageChops.add(narrowed, pattern, scale=1.0, offset=-128)


def find_mark(image: Image.Image, key: bytes) -> Mark | None:
    """The mark in ``image`` (scaled, cropped and re-compressed as it may be), or None."""
    luma = image.convert("L")
    factor = -(-luma.width // _ANALYSIS_WIDTH)
    if factor > 1:
        luma = luma.reduce(factor)
    if min(luma.size) < 3 * GRID:
        return None
    detail, weight = _detail(luma)
    # Weighted, text hardly counts: the tile's repetition then stands out of the page's own.
    quiet = detail * weight
    across, down = _autocorrelation(quiet, 1), _autocorrelation(quiet, 0)
    weighted = Image.fromarray(quiet.astype(np.float32), "F")
    layout = _layout(key)
    best: Mark | None = None
    for period in _periods(across, down):
        found = _read(_fold(weighted, period), layout, key)
        if found is not None and (best is None or found[1] > best.confidence):
            best = Mark(found[0], found[1], factor * period / _TILE)
    return best


def _detail(luma: Image.Image) -> tuple[Floats, Floats]:
    """The fine detail (the image less its local mean), clipped so that text edges weigh no
    more than the paper between them, and each pixel's weight: how quiet the page is around it
    (paper, where the mark is clean, counts more than text)."""
    values = np.asarray(luma, dtype=np.float64)
    local = np.asarray(luma.filter(ImageFilter.BoxBlur(3)), dtype=np.float64)
    detail = np.clip(values - local, -_CLIP, _CLIP)
    energy = Image.fromarray(np.minimum(detail * detail * 4, 255).astype(np.uint8), "L")
    spread = np.asarray(energy.filter(ImageFilter.BoxBlur(4)), dtype=np.float64) / 4
    return detail, 1.0 / (spread + 4.0)


def _autocorrelation(detail: Floats, axis: int) -> Floats:
    """Autocorrelation along one axis, summed over the other (one-dimensional FFTs)."""
    length = detail.shape[axis]
    spectrum = np.fft.rfft(detail - detail.mean(), n=2 * length, axis=axis)
    power = (spectrum.real**2 + spectrum.imag**2).sum(axis=1 - axis)
    result: Floats = np.fft.irfft(power, n=2 * length)[:length]
    return result


def _prominence(line: Floats) -> Floats:
    """How far each lag's value stands above its neighbours (3 to 7 lags away on either side),
    in their standard deviations; 0 where the neighbours do not fit."""
    lags = np.arange(8, line.size // 2 - 8)
    result = np.zeros(line.size)
    if lags.size == 0:
        return result
    around = line[lags[:, None] + _NEIGHBOURS]
    result[lags] = (line[lags] - around.mean(axis=1)) / (around.std(axis=1) + 1e-9)
    return result


def _periods(across: Floats, down: Floats) -> list[float]:
    """Candidate tile sizes, most likely first, at most ``_CANDIDATES`` per axis.

    A repeated tile makes peaks at every multiple of its size, so each size is scored by the
    prominence summed over its multiples (a size of 64 px also has peaks at 128, 192...). The
    same size serves both axes (a page is scaled, not stretched): the lines of text make the
    vertical autocorrelation busy, and either axis may be the clean one.
    """
    candidates: list[float] = []
    for line in (across, down):
        prominence = _prominence(line)
        limit = line.size // 2 - 9
        sizes = np.arange(_TILE * _SMALLEST, min(_TILE * _LARGEST, limit), 0.25)
        if sizes.size == 0:
            continue
        multiples = np.arange(1, 9)
        lags = sizes[:, None] * multiples
        valid = lags < limit
        nearest = np.rint(np.where(valid, lags, 0)).astype(np.intp)
        peaks = np.maximum(np.maximum(prominence[nearest - 1], prominence[nearest]),
                           prominence[nearest + 1])
        scores = np.where(valid, peaks, 0).sum(axis=1) / np.sqrt(valid.sum(axis=1))
        picked = 0
        for index in np.argsort(scores)[::-1]:
            size = float(sizes[index])
            if all(abs(size / seen - 1) > 0.02 for seen in candidates):
                candidates.append(_refine(line, round(size)))
                picked += 1
                if picked == _CANDIDATES:
                    break
    return candidates


def _refine(line: Floats, lag: int, within: float = 0.04) -> float:
    """The period near ``lag``, to a fraction of a pixel: the peak at its highest multiple that
    fits, interpolated (an error of e at lag k x p is e/k on p)."""
    reach = max(1, round(lag * within))
    low, high = max(2, lag - reach), min(line.size - 3, lag + reach)
    if high < low:
        return float(lag)
    period = float(low + int(np.argmax(line[low : high + 1])))
    multiple = 1
    while multiple < 16:
        centre = round((multiple + 1) * period)
        if centre + 4 >= line.size // 2:
            break
        multiple += 1
        peak = centre - 2 + int(np.argmax(line[centre - 2 : centre + 3]))
        left, middle, right = line[peak - 1], line[peak], line[peak + 1]
        curve = left - 2 * middle + right
        offset = min(0.5, max(-0.5, 0.5 * (left - right) / curve)) if curve < 0 else 0.0
        period = (peak + offset) / multiple
    return period


def _fold(quiet: Image.Image, period: float) -> Floats:
    """Sum every tile of the image onto one, at the image's own scale (resampled only to make
    the tile a whole number of pixels), then bring that one tile to ``_TILE`` pixels.

    Tiles cover the page evenly, so the sum needs no division by the weights (only positions
    at the edge of a crop count one tile more).
    """
    fold = min(_TILE, max(GRID, round(period)))
    size = (max(1, round(quiet.width * fold / period)), max(1, round(quiet.height * fold / period)))
    rows, columns = -(-size[1] // fold), -(-size[0] // fold)
    padded = np.zeros((rows * fold, columns * fold), dtype=np.float32)
    padded[: size[1], : size[0]] = np.asarray(quiet.resize(size, Image.Resampling.BILINEAR))
    summed = padded.reshape(rows, fold, columns, fold).sum(axis=(0, 2), dtype=np.float32)
    if fold != _TILE:
        tile = Image.fromarray(summed, "F").resize((_TILE, _TILE), Image.Resampling.BILINEAR)
        summed = np.asarray(tile)
    result: Floats = summed.astype(np.float64)
    return result


def _read(folded: Floats, layout: _Layout, key: bytes) -> tuple[int, float] | None:
    """The payload in a folded tile, with the sync peak's height; None when either fails."""
    surface = np.fft.irfft2(
        np.fft.rfft2(folded) * np.conj(np.fft.rfft2(layout.sync_tile)), s=folded.shape
    )
    peak = int(np.argmax(surface))
    confidence = float((surface.flat[peak] - surface.mean()) / (surface.std() + 1e-12))
    if confidence < _MIN_SYNC_Z:
        return None
    aligned = np.roll(folded, (-(peak // _TILE), -(peak % _TILE)), axis=(0, 1))
    # A chip's inner pixels only: its edges blur into the neighbours when scaled.
    inner = aligned.reshape(GRID, CHIP, GRID, CHIP)[:, 1:-1, :, 1:-1].sum(axis=(1, 3)).ravel()
    soft = np.zeros(convcode.coded_length(PAYLOAD_BITS))
    np.add.at(soft, layout.data_bit, inner[layout.data_index] * layout.data_sign)
    payload = 0
    for bit in convcode.decode(soft, PAYLOAD_BITS):
        payload = payload << 1 | bit
    return (payload, confidence) if view_of(key, payload) is not None else None
