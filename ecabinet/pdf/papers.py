"""Fictional Vietnamese administrative papers as PDFs, for the sample meeting packs and tests.

Reports, submissions, draft resolutions and tables of figures with the usual heading (authority,
national motto, number, date), sections with bookmarks, page numbers and a signature block, in
an embedded font that has every Vietnamese letter (text normalised to NFC). The output depends
only on the ``Paper`` given (its file name seeds the text), so every machine makes the same
papers. Text is laid out with PyMuPDF's TextWriter and line breaking from cached glyph widths:
one content stream per page, about 10 ms a page.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from ecabinet.core.text import nfc
from ecabinet.pdf.fonts import find_font

A4 = (595.0, 842.0)
MARGIN = 62.0

AUTHORITY = "ỦY BAN NHÂN DÂN TỈNH BÌNH AN"
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

SECTIONS = (
    "Căn cứ pháp lý",
    "Sự cần thiết",
    "Đánh giá tình hình thực hiện",
    "Kết quả đạt được",
    "Tồn tại, hạn chế và nguyên nhân",
    "Mục tiêu và chỉ tiêu chủ yếu",
    "Nhiệm vụ và giải pháp",
    "Phân công tổ chức thực hiện",
    "Kinh phí thực hiện",
    "Kiến nghị, đề xuất",
)
SENTENCES = (
    "Tăng trưởng tổng sản phẩm trên địa bàn tỉnh ước đạt {p},{q}%, cao hơn mức bình quân "
    "chung của cả nước.",
    "Thu ngân sách nhà nước trên địa bàn ước đạt {n} tỷ đồng, bằng {p}{q}% dự toán được giao.",
    "Giải ngân vốn đầu tư công đến ngày 30 tháng 11 đạt {p}{q}% kế hoạch, trong đó một số "
    "dự án trọng điểm còn chậm so với tiến độ.",
    "Công tác cải cách hành chính tiếp tục được đẩy mạnh; {n} thủ tục hành chính đã được "
    "cung cấp trực tuyến toàn trình.",
    "Các sở, ban, ngành và Ủy ban nhân dân các huyện, thị xã, thành phố phối hợp chặt chẽ "
    "trong việc triển khai nhiệm vụ.",
    "Đề nghị Ủy ban nhân dân tỉnh xem xét, cho ý kiến để hoàn thiện hồ sơ trình Hội đồng "
    "nhân dân tỉnh tại kỳ họp gần nhất.",
    "Tình hình an ninh chính trị, trật tự an toàn xã hội được giữ vững; không để xảy ra "
    "điểm nóng phức tạp.",
    "Chất lượng giáo dục phổ thông được nâng lên; tỷ lệ học sinh tốt nghiệp trung học phổ "
    "thông đạt {p}{q},{q}%.",
    "Hệ thống y tế cơ sở được củng cố; {n} trạm y tế xã đạt chuẩn quốc gia về y tế.",
    "Công tác bồi thường, hỗ trợ, tái định cư được thực hiện công khai, minh bạch, đúng "
    "quy định của pháp luật về đất đai.",
    "Nguồn vốn thực hiện gồm ngân sách trung ương hỗ trợ, ngân sách tỉnh và vốn huy động "
    "hợp pháp khác.",
    "Kết cấu hạ tầng giao thông, thủy lợi, đô thị tiếp tục được đầu tư theo hướng đồng bộ, "
    "hiện đại.",
    "Một số chỉ tiêu về thu hút đầu tư, phát triển doanh nghiệp chưa đạt kế hoạch đề ra "
    "do tác động của thị trường.",
    "Giao Sở Tài chính chủ trì, phối hợp với các đơn vị liên quan rà soát, cân đối nguồn "
    "vốn bảo đảm đúng quy định.",
    "Tiếp tục thực hiện chuyển đổi số trong hoạt động của cơ quan nhà nước, phấn đấu "
    "{p}{q}% hồ sơ công việc được xử lý trên môi trường mạng.",
    "Diện tích gieo trồng cây hằng năm đạt {n} héc-ta; sản lượng lương thực ổn định.",
    "Tổng vốn đầu tư toàn xã hội ước đạt {n} tỷ đồng, tăng {q},{p}% so với cùng kỳ.",
    "Các chính sách an sinh xã hội được thực hiện đầy đủ, kịp thời; đời sống người dân "
    "từng bước được cải thiện.",
    "Ý kiến thẩm tra thống nhất với sự cần thiết ban hành nghị quyết và đề nghị làm rõ "
    "thêm một số nội dung.",
    "Tổ chức lấy ý kiến rộng rãi các cơ quan, tổ chức và nhân dân trong quá trình xây dựng "
    "dự thảo.",
    "Quá trình thực hiện nếu có khó khăn, vướng mắc, các đơn vị kịp thời báo cáo Ủy ban "
    "nhân dân tỉnh để xem xét, giải quyết.",
    "Hiệu quả sử dụng đất đai, tài nguyên khoáng sản được nâng lên; công tác bảo vệ môi "
    "trường được chú trọng.",
)
TABLE_ROWS = (
    "Thu nội địa",
    "Thu từ hoạt động xuất nhập khẩu",
    "Chi đầu tư phát triển",
    "Chi thường xuyên",
    "Chi sự nghiệp giáo dục và đào tạo",
    "Chi sự nghiệp y tế",
    "Chi sự nghiệp môi trường",
    "Chi quốc phòng, an ninh",
    "Dự phòng ngân sách",
    "Chi chương trình mục tiêu quốc gia",
)


@dataclass(frozen=True)
class Paper:
    """One generated document: where it goes, its title, its page count and its item."""

    file: str
    title: str
    pages: int
    item_title: str
    presenter: str
    confidential: bool


class Writer:
    """Lays text out with PyMuPDF's TextWriter (one content stream per page) and its own line
    breaking from cached glyph widths: much faster than a text box per paragraph."""

    def __init__(self) -> None:
        self.fonts = {
            False: pymupdf.Font(fontbuffer=find_font(False).data),
            True: pymupdf.Font(fontbuffer=find_font(True).data),
        }
        self.widths: dict[bool, dict[str, float]] = {False: {}, True: {}}

    def width(self, text: str, size: float, bold: bool = False) -> float:
        cache, font = self.widths[bold], self.fonts[bold]
        total = 0.0
        for ch in text:
            advance = cache.get(ch)
            if advance is None:
                advance = cache[ch] = float(font.glyph_advance(ord(ch)))
            total += advance
        return total * size

    def wrap(self, text: str, size: float, width: float, bold: bool = False) -> list[str]:
        lines: list[str] = []
        for paragraph in nfc(text).split("\n"):
            line = ""
            for word in paragraph.split():
                candidate = f"{line} {word}" if line else word
                if line and self.width(candidate, size, bold) > width:
                    lines.append(line)
                    line = word
                else:
                    line = candidate
            lines.append(line)
        return lines

    def block(
        self,
        tw: pymupdf.TextWriter,
        rect: pymupdf.Rect,
        text: str,
        size: float,
        bold: bool = False,
        align: int = 0,
    ) -> float:
        """Write ``text`` in ``rect``; return the height used, or -1 (nothing written) when it
        does not fit."""
        lines = self.wrap(text, size, rect.width, bold)
        step = size * 1.45
        if len(lines) * step > rect.height + 0.5:
            return -1.0
        for index, line in enumerate(lines):
            x = rect.x0
            if align == 1:
                x += (rect.width - self.width(line, size, bold)) / 2
            tw.append(
                (x, rect.y0 + size + index * step), line, font=self.fonts[bold], fontsize=size
            )
        return len(lines) * step


def _sentence(rng: random.Random) -> str:
    return rng.choice(SENTENCES).format(
        n=rng.randint(12, 9800), p=rng.randint(1, 9), q=rng.randint(0, 9)
    )


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 4)))


def _first_page_head(w: Writer, tw: pymupdf.TextWriter, paper: Paper, number: str) -> float:
    width = A4[0] - 2 * MARGIN
    half = width / 2
    left = pymupdf.Rect(MARGIN - 20, 40, MARGIN + half - 40, 100)
    right = pymupdf.Rect(MARGIN + half - 30, 40, A4[0] - MARGIN + 20, 100)
    w.block(tw, left, AUTHORITY, 10.5, bold=True, align=1)
    w.block(tw, pymupdf.Rect(left.x0, 72, left.x1, 100), f"Số: {number}", 10.5, align=1)
    w.block(tw, right, NATION, 10.5, bold=True, align=1)
    w.block(tw, pymupdf.Rect(right.x0, 56, right.x1, 80), MOTTO, 11, bold=True, align=1)
    w.block(
        tw,
        pymupdf.Rect(right.x0, 84, right.x1, 104),
        "Bình An, ngày 25 tháng 11 năm 2026",
        10.5,
        align=1,
    )
    if paper.confidential:
        w.block(tw, pymupdf.Rect(MARGIN, 108, A4[0] - MARGIN, 126), "MẬT", 13, bold=True)
    used = w.block(
        tw,
        pymupdf.Rect(MARGIN, 130, A4[0] - MARGIN, 230),
        paper.title.upper(),
        14,
        bold=True,
        align=1,
    )
    top = 130 + max(used, 20) + 6
    about = f"Về nội dung: {paper.item_title}"
    used = w.block(
        tw, pymupdf.Rect(MARGIN + 30, top, A4[0] - MARGIN - 30, top + 80), about, 11.5, align=1
    )
    return top + max(used, 16) + 18


def _table(
    w: Writer,
    tw: pymupdf.TextWriter,
    page: pymupdf.Page,
    top: float,
    rng: random.Random,
    caption: str,
) -> float:
    """A table of figures (plan, actual, percentage); return the y below it."""
    w.block(
        tw, pymupdf.Rect(MARGIN, top, A4[0] - MARGIN, top + 20), caption, 11, bold=True, align=1
    )
    top += 24
    columns = (MARGIN, MARGIN + 36, MARGIN + 256, MARGIN + 336, MARGIN + 416, A4[0] - MARGIN)
    rows = [("STT", "Nội dung", "Kế hoạch", "Thực hiện", "Tỷ lệ (%)")]
    for index, label in enumerate(rng.sample(TABLE_ROWS, 6), start=1):
        plan = rng.randint(120, 9000)
        actual = round(plan * rng.uniform(0.7, 1.15))
        ratio = f"{actual * 100 / plan:.1f}".replace(".", ",")
        rows.append(
            (
                str(index),
                label,
                f"{plan:,}".replace(",", "."),
                f"{actual:,}".replace(",", "."),
                ratio,
            )
        )
    height = 22.0
    shape = page.new_shape()
    for r in range(len(rows) + 1):
        y = top + r * height
        shape.draw_line((columns[0], y), (columns[-1], y))
    for x in columns:
        shape.draw_line((x, top), (x, top + len(rows) * height))
    shape.finish(width=0.6, color=(0, 0, 0))
    shape.commit()
    for r, row in enumerate(rows):
        y = top + r * height
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(columns[c] + 3, y + 4, columns[c + 1] - 3, y + height)
            w.block(tw, rect, cell, 9.5, bold=r == 0, align=0 if c == 1 else 1)
    return top + len(rows) * height + 14


def write_paper(paper: Paper, out: Path, writer: Writer | None = None) -> None:
    """Write one fictional administrative paper of exactly ``paper.pages`` pages."""
    w = writer or Writer()
    rng = random.Random(paper.file)
    doc = pymupdf.open()
    number = f"{rng.randint(10, 999)}/{rng.choice(['TTr', 'BC', 'KH', 'NQ'])}-UBND"
    toc: list[list[Any]] = []
    section = 0
    full = pymupdf.Rect(0, 0, *A4)
    for index in range(paper.pages):
        page = doc.new_page(width=A4[0], height=A4[1])
        tw = pymupdf.TextWriter(full)
        top = _first_page_head(w, tw, paper, number) if index == 0 else 60.0
        if index:
            w.block(tw, pymupdf.Rect(MARGIN, 30, A4[0] - MARGIN, 46), paper.title, 8.5, align=1)
        bottom = A4[1] - 70
        if index == 0 or rng.random() < 0.35:
            heading = f"{_roman(section + 1)}. {SECTIONS[section % len(SECTIONS)].upper()}"
            w.block(
                tw, pymupdf.Rect(MARGIN, top, A4[0] - MARGIN, top + 20), heading, 11.5, bold=True
            )
            toc.append([1, nfc(heading), index + 1])
            section += 1
            top += 24
        if index % 4 == 2:
            caption = f"Bảng {index // 4 + 1}. Một số chỉ tiêu chủ yếu (đơn vị: tỷ đồng)"
            top = _table(w, tw, page, top, rng, caption)
        while top < bottom - 40:
            used = w.block(
                tw, pymupdf.Rect(MARGIN, top, A4[0] - MARGIN, bottom), _paragraph(rng), 11.5
            )
            if used < 0:
                break
            top += used + 8
        if index == paper.pages - 1 and paper.pages > 1:
            signer = pymupdf.Rect(A4[0] / 2, A4[1] - 160, A4[0] - MARGIN, A4[1] - 80)
            w.block(tw, signer, f"{paper.presenter}\n(đã ký)", 11, bold=True, align=1)
        footer = f"Trang {index + 1}/{paper.pages}"
        w.block(
            tw, pymupdf.Rect(MARGIN, A4[1] - 44, A4[0] - MARGIN, A4[1] - 28), footer, 9, align=1
        )
        tw.write_text(page)
    doc.set_toc(toc)
    doc.set_metadata(
        {
            "title": nfc(paper.title),
            "author": AUTHORITY,
            "creator": "ecabinet",
            "producer": "ecabinet",
            "creationDate": "D:20261125080000+07'00'",
            "modDate": "D:20261125080000+07'00'",
        }
    )
    doc.subset_fonts()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        doc.save(tmp, garbage=3, deflate=True, no_new_id=True)
        os.replace(tmp, out)
    finally:
        doc.close()
        Path(tmp).unlink(missing_ok=True)


def _roman(number: int) -> str:
    values = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, letters in values:
        while number >= value:
            out += letters
            number -= value
    return out
