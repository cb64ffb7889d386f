"""What an uploaded file is (by its content, never its name), and turning office files into PDF.

Secretaries mostly receive Word, Excel and PowerPoint files. LibreOffice converts them headless:
each conversion gets its own profile folder (two conversions never share one, and a crashed one
leaves nothing behind), a time limit, and its own process group, which is killed whole when the
time is up (``soffice`` starts ``soffice.bin`` and sometimes ``oosplash`` beside it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ecabinet.core.errors import InvalidInput
from ecabinet.core.logs import get_logger

log = get_logger(__name__)

PDF: Final = "pdf"
_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODF_TYPES: Final = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.graphics": "odg",
}
_OOXML_PARTS: Final = {
    "word/document.xml": "docx",
    "xl/workbook.xml": "xlsx",
    "ppt/presentation.xml": "pptx",
}
# Legacy binary Office files are OLE2 containers; the main stream's name tells which program.
_OLE_STREAMS: Final = {
    "WordDocument".encode("utf-16-le"): "doc",
    "Workbook".encode("utf-16-le"): "xls",
    "Book".encode("utf-16-le"): "xls",
    "PowerPoint Document".encode("utf-16-le"): "ppt",
}
LABELS: Final = {
    "pdf": "PDF",
    "docx": "Word",
    "doc": "Word",
    "rtf": "Word (RTF)",
    "odt": "OpenDocument Text",
    "xlsx": "Excel",
    "xls": "Excel",
    "ods": "OpenDocument Spreadsheet",
    "pptx": "PowerPoint",
    "ppt": "PowerPoint",
    "odp": "OpenDocument Presentation",
    "odg": "OpenDocument Drawing",
}
# Conversions at once per server process: each LibreOffice takes a core and ~300 MB.
_CONVERSIONS = threading.BoundedSemaphore(2)


def detect_type(path: Path, filename: str = "") -> str | None:
    """Return ``"pdf"``, an office type such as ``"docx"``, or None for anything else.

    Decided by the bytes: a PDF header in the first KiB (where Acrobat accepts it), the parts of
    a ZIP container (OOXML, OpenDocument), an OLE2 container's stream names, an RTF header.
    """
    with path.open("rb") as handle:
        head = handle.read(65536)
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path)
    if head.startswith(_OLE2):
        for marker, kind in _OLE_STREAMS.items():
            if marker in head:
                return kind
        suffix = Path(filename).suffix.lower().lstrip(".")
        return suffix if suffix in ("doc", "xls", "ppt") else "doc"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    return None


def _zip_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size < 200:
                    mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                    if mimetype in _ODF_TYPES:
                        return _ODF_TYPES[mimetype]
            for part, kind in _OOXML_PARTS.items():
                if part in names:
                    return kind
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Converter:
    """LibreOffice as configured: the program (a name on PATH or a path) and the time limit."""

    program: str
    timeout: float

    def executable(self) -> str | None:
        if os.sep in self.program:
            return self.program if os.access(self.program, os.X_OK) else None
        return shutil.which(self.program)

    def to_pdf(self, source: Path, kind: str, workdir: Path) -> Path:
        """Convert ``source`` (of type ``kind``) to a PDF in ``workdir``; return its path.

        Raises ``InvalidInput`` coded ``conversion_unavailable`` (no LibreOffice here),
        ``conversion_timeout`` or ``conversion_failed``.
        """
        program = self.executable()
        label = LABELS.get(kind, kind)
        if program is None:
            raise InvalidInput(
                f"Máy chủ chưa cài LibreOffice nên không chuyển được tệp {label} sang PDF; "
                "hãy tải lên bản PDF (conversion to PDF is not available on this server).",
                code="conversion_unavailable",
                details={"type": kind, "program": self.program},
            )
        # A fixed ASCII name with the right extension: LibreOffice picks its import filter by
        # it, and the uploader's file name never reaches a command line or the file system.
        staged = workdir / f"source.{kind}"
        shutil.copyfile(source, staged)
        outdir = workdir / "out"
        outdir.mkdir()
        profile = workdir / "lo-profile"
        command = [
            program,
            "--headless",
            "--invisible",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--norestore",
            "--nofirststartwizard",
            f"-env:UserInstallation={profile.as_uri()}",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(staged),
        ]
        env = {**os.environ, "HOME": str(workdir), "TMPDIR": str(workdir)}
        with _CONVERSIONS:
            returncode, output = _run(command, env, workdir, self.timeout, label)
        result = outdir / "source.pdf"
        if returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            log.warning("conversion.failed", type=kind, returncode=returncode, output=output[-500:])
            raise InvalidInput(
                f"LibreOffice không chuyển được tệp {label} này sang PDF; tệp có thể bị hỏng "
                "hoặc có mật khẩu (the conversion failed).",
                code="conversion_failed",
                details={"type": kind},
            )
        return result


def _run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float, label: str
) -> tuple[int, str]:
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the whole group can be killed
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        log.warning("conversion.timeout", timeout=timeout)
        raise InvalidInput(
            f"Chuyển tệp {label} sang PDF quá {timeout:g} giây nên đã dừng "
            "(the conversion took too long).",
            code="conversion_timeout",
            details={"timeout": timeout},
        ) from None
    finally:
        # Helpers LibreOffice left behind die with the group, whatever happened.
        _kill_group(process)
    return process.returncode, output.decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
