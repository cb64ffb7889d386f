"""Finding a TrueType font that has every Vietnamese letter.

The base-14 PDF fonts and Pillow's bitmap default font miss most Vietnamese letters, so generated
pages and watermarks need a real font. The first choice is Noto Sans from the ``pymupdf-fonts``
package, which installs from PyPI on any machine and ships the font inside Python modules; the
Debian font packages are the fall-back for machines where it is missing.
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from PIL import ImageFont

from ecabinet.pdf.errors import FONT_MISSING, PdfError

# Module names inside pymupdf-fonts; each exposes ``fontbuffer`` (the decompressed TTF bytes).
_PYPI_MODULES: Final[dict[bool, str]] = {
    False: "pymupdf_fonts.NotoSans_Regular",
    True: "pymupdf_fonts.NotoSans_Bold",
}

_SYSTEM_PATHS: Final[dict[bool, tuple[str, ...]]] = {
    False: (
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    ),
    True: (
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    ),
}

# Every lower- and upper-case Vietnamese letter with a diacritic, precomposed (NFC).
VIETNAMESE_LETTERS: Final = (
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
    "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
)


@dataclass(frozen=True)
class FontFile:
    """A font's bytes and where they came from (a module name or a file path)."""

    name: str
    data: bytes
    origin: str


@lru_cache(maxsize=4)
def find_font(bold: bool = False, path: str | None = None) -> FontFile:
    """Return a Vietnamese-capable sans-serif font, regular or bold.

    ``path`` forces a specific TrueType file (from the settings). Raises ``PdfError`` with code
    ``font_missing`` when nothing usable is installed.
    """
    if path is not None:
        return FontFile(Path(path).stem, Path(path).read_bytes(), path)
    try:
        module = importlib.import_module(_PYPI_MODULES[bold])
    except ImportError:
        pass
    else:
        data = bytes(module.fontbuffer)
        return FontFile("NotoSans-Bold" if bold else "NotoSans", data, module.__name__)
    for candidate in _SYSTEM_PATHS[bold]:
        file = Path(candidate)
        if file.is_file():
            return FontFile(file.stem, file.read_bytes(), candidate)
    raise PdfError(
        FONT_MISSING,
        "Không tìm thấy phông chữ tiếng Việt (no Vietnamese font: install pymupdf-fonts "
        "or fonts-noto-core).",
    )


@lru_cache(maxsize=32)
def pil_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Return a Pillow font object at ``size`` pixels, cached because loading parses the file."""
    font = find_font(bold)
    return ImageFont.truetype(io.BytesIO(font.data), size=size)
