"""What an uploaded file is (by its content, never its name), and turning office files into PDF.

Secretaries mostly receive Word, Excel and PowerPoint files. LibreOffice converts them headless,
and an Office file can make it fetch URLs and read files (linked pictures, linked sections,
fields), so each conversion goes through three layers, each enough on its own for what the
tests throw at it:

1. external references are removed from the file before LibreOffice sees it (office_refs.py);
2. LibreOffice starts with its own, hardened profile: never update links or fields, no macros
   (jail.py); two conversions never share a profile, and a crashed one leaves nothing behind;
3. it runs in a bubblewrap jail without network and without the data folder (jail.py). Without
   bubblewrap, Office files are refused, unless ``ECABINET_CONVERT_UNJAILED`` allows converting
   outside the jail on a development machine.

Each conversion has a time limit and its own process group, killed whole when the time is up
(``soffice`` starts ``soffice.bin`` and sometimes ``oosplash`` beside it; in the jail, killing
bubblewrap ends its PID namespace and everything in it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ecabinet.core.errors import InvalidInput
from ecabinet.core.logs import get_logger
from ecabinet.core.settings import Settings
from ecabinet.pdf.errors import STORAGE_FULL, PdfError
from ecabinet.pdf.isolation import PROCESSING_TIMEOUT, run_isolated
from ecabinet.services.documents.jail import jail_command, write_profile
from ecabinet.services.documents.office_refs import strip_job

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
    """LibreOffice as configured: the program (a name on PATH or a path), the time limit, and
    the jail: the bubblewrap program, or None to convert outside it (development only), and the
    folders it must hide (the data folder). ``strip`` and ``harden`` are the other two layers;
    tests turn one layer on at a time to show that each holds by itself."""

    program: str
    timeout: float
    jail: str | None = "bwrap"
    hidden: tuple[Path, ...] = ()
    strip: bool = True
    harden: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Converter:
        """The converter the settings describe, hiding their data folder."""
        return cls(
            settings.soffice,
            settings.convert_timeout,
            jail=None if settings.convert_unjailed else settings.bwrap,
            hidden=(settings.data_dir,),
        )

    def executable(self) -> str | None:
        return _which(self.program)

    def jail_executable(self) -> str | None:
        return None if self.jail is None else _which(self.jail)

    def problem(self) -> tuple[str, str] | None:
        """Why Office files cannot be converted safely here, and what was seen; None when they
        can. Asks LibreOffice its version and starts an empty jail once, to see that both run
        (a broken installation, a container that forbids namespaces)."""
        program = self.executable()
        if program is None:
            return "soffice_missing", self.program
        broken = _does_not_run(program)
        if broken is not None:
            return "soffice_broken", broken
        if self.jail is None:
            return "unjailed", ""
        bwrap = self.jail_executable()
        if bwrap is None:
            return "bwrap_missing", self.jail
        with tempfile.TemporaryDirectory(prefix="ecabinet-jail-") as folder:
            command = jail_command(bwrap, [shutil.which("true") or "/bin/true"], Path(folder))
            try:
                probe = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                       timeout=30, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return "bwrap_broken", type(exc).__name__
        if probe.returncode != 0:
            return "bwrap_broken", (probe.stdout + probe.stderr).decode("utf-8", "replace")[-300:]
        return None

    def to_pdf(self, source: Path, kind: str, workdir: Path) -> Path:
        """Convert ``source`` (of type ``kind``) to a PDF in ``workdir``; return its path.

        Raises ``InvalidInput`` coded ``conversion_unavailable`` (no LibreOffice, or no jail for
        it, here), ``conversion_timeout`` or ``conversion_failed`` (also for a file whose
        references cannot be checked), or ``PdfError`` coded ``storage_full``.
        """
        program = self.executable()
        label = LABELS.get(kind, kind)
        if program is None:
            raise InvalidInput(
                f"Máy chủ chưa cài LibreOffice nên không chuyển được tệp {label} sang PDF; "
                "hãy tải lên bản PDF.",
                code="conversion_unavailable",
                details={"type": kind, "program": self.program},
            )
        bwrap = self.jail_executable()
        if self.jail is not None and bwrap is None:
            raise _no_jail(kind, label, self.jail)
        # A fixed ASCII name with the right extension: LibreOffice picks its import filter by
        # it, and the uploader's file name never reaches a command line or the file system.
        staged = workdir / f"source.{kind}"
        self._stage(source, staged, kind, label)
        outdir = workdir / "out"
        outdir.mkdir()
        profile = workdir / "lo-profile"
        if self.harden:
            write_profile(profile)
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
        # Nothing of the server's environment (database URL, secret key) reaches LibreOffice.
        env = {"HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if bwrap is not None:
            command = jail_command(bwrap, command, workdir, self.hidden)
        with _CONVERSIONS:
            returncode, output = _run(command, env, workdir, self.timeout, label)
        result = outdir / "source.pdf"
        if returncode != 0 and bwrap is not None and output.startswith("bwrap:"):
            log.error("conversion.jail_failed", output=output[-500:])
            raise _no_jail(kind, label, self.jail or "bwrap")
        if returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            log.warning("conversion.failed", type=kind, returncode=returncode, output=output[-500:])
            raise InvalidInput(
                f"LibreOffice không chuyển được tệp {label} này sang PDF; tệp có thể bị hỏng "
                "hoặc có mật khẩu.",
                code="conversion_failed",
                details={"type": kind},
            )
        return result

    def _stage(self, source: Path, staged: Path, kind: str, label: str) -> None:
        if not self.strip:
            shutil.copyfile(source, staged)
            return
        # Parsing the uploader's XML is done like checking a PDF: in a throwaway process with a
        # time and a memory limit, off the server's own process.
        try:
            report, refused = run_isolated(
                strip_job, str(source), str(staged), kind, timeout=self.timeout
            )
        except PdfError as exc:
            if exc.code == STORAGE_FULL:
                raise
            if exc.code == PROCESSING_TIMEOUT:
                raise _timeout(label, self.timeout) from None
            refused = exc.code
        if refused is not None:
            log.warning("conversion.unsafe", type=kind, reason=refused)
            raise InvalidInput(
                f"Không kiểm tra được tệp {label} này (cấu trúc hỏng, quá lớn hoặc có khai báo "
                "DTD) nên không chuyển sang PDF.",
                code="conversion_failed",
                details={"type": kind, "reason": "unsafe_content"},
            )
        if report.get("removed"):
            log.info("conversion.references_removed", type=kind, **report)


def log_conversion_setup(settings: Settings) -> str | None:
    """Say once, at start-up, when Office files will be refused or converted outside the jail.

    Returns why Office files will be refused (``soffice_missing``, ``soffice_broken``,
    ``bwrap_missing``, ``bwrap_broken``), or None when they will be converted: readiness and
    the secretary's upload form tell it from this, before anyone uploads one.
    """
    found = Converter.from_settings(settings).problem()
    if found is None:
        return None
    problem, seen = found
    if problem in ("bwrap_missing", "bwrap_broken"):
        log.warning("conversion.no_jail", program=settings.bwrap, problem=problem, seen=seen,
                    hint="install bubblewrap (Debian: apt install bubblewrap) and allow user "
                    "namespaces; Office files are refused until then")
        return problem
    if problem == "unjailed":
        log.warning("conversion.unjailed",
                    hint="ECABINET_CONVERT_UNJAILED is on: LibreOffice runs with the server's "
                    "network and files; for development machines only")
        return None
    log.warning("conversion.unavailable", program=settings.soffice, problem=problem, seen=seen,
                hint="install LibreOffice (Debian/Ubuntu: apt-get install "
                "libreoffice-writer-nogui) or point ECABINET_SOFFICE at its soffice; Word, Excel "
                "and PowerPoint uploads are refused until then, PDF uploads work")
    return problem


# Asking LibreOffice its version takes ~0.3 s; the answer is kept per program file (by path,
# size and time of change) so that a process building many apps (the tests) asks once.
_RUNS: dict[tuple[str, int, float], str | None] = {}
_VERSION_TIMEOUT: Final = 15.0


def _does_not_run(program: str) -> str | None:
    """None when ``program --version`` succeeds; else what it said (or why it did not start)."""
    try:
        stat = os.stat(program)
    except OSError as exc:
        return type(exc).__name__
    key = (os.path.realpath(program), stat.st_size, stat.st_mtime)
    if key not in _RUNS:
        _RUNS[key] = _version_problem(program)
    return _RUNS[key]


def _version_problem(program: str) -> str | None:
    # Its own process group, killed whole after: a broken wrapper may start helpers and hang.
    with tempfile.TemporaryDirectory(prefix="ecabinet-soffice-") as home:
        env = {"HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        try:
            process = subprocess.Popen([program, "--version"], env=env, cwd=home,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return type(exc).__name__
        try:
            output, _ = process.communicate(timeout=_VERSION_TIMEOUT)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return f"no answer in {_VERSION_TIMEOUT:g} s"
        finally:
            _kill_group(process)
    if process.returncode != 0:
        said = output.decode("utf-8", "replace").strip()
        code = f"exit {process.returncode}"
        return f"{code}: {said[-300:]}" if said else code
    return None


def _which(program: str) -> str | None:
    if os.sep in program:
        return program if os.access(program, os.X_OK) else None
    return shutil.which(program)


def _no_jail(kind: str, label: str, jail: str) -> InvalidInput:
    return InvalidInput(
        f"Máy chủ chưa có bubblewrap (bwrap) chạy được để cô lập LibreOffice nên không chuyển "
        f"tệp {label} sang PDF; hãy tải lên bản PDF.",
        code="conversion_unavailable",
        details={"type": kind, "program": jail},
    )


def _timeout(label: str, timeout: float) -> InvalidInput:
    return InvalidInput(
        f"Chuyển tệp {label} sang PDF quá {timeout:g} giây nên đã dừng.",
        code="conversion_timeout",
        details={"timeout": timeout},
    )


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
        raise _timeout(label, timeout) from None
    finally:
        # Helpers LibreOffice left behind die with the group, whatever happened.
        _kill_group(process)
    return process.returncode, output.decode("utf-8", "replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
