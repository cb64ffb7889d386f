"""Office files that point outside themselves: nothing is requested, nothing is embedded.

The files link pictures and sections to a web server on 127.0.0.1 that records every request,
and to files in the data folder (a stored page image, unwatermarked, as a confidential
document's are). They go through the real upload path and the real LibreOffice; then each of
the three layers (reference stripping, hardened profile, jail) is shown to hold alone, against a
control run without any layer in which the same files do fetch and embed. A fake ``soffice``
probes the jail itself: no network, no data folder, no server environment, nothing left running.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from ecabinet.app import create_app
from ecabinet.core.errors import InvalidInput
from ecabinet.services.documents.conversion import Converter
from tests.conftest import make_settings
from tests.documents import hostile_office as h
from tests.documents import samples
from tests.documents.conftest import Api, picture, require_soffice

SECRET = "MẬT-0042-BÁO-CÁO-NHÂN-SỰ"
RENDITION = Path("renditions/ab/abcdef0123/p00001-tablet.jpg")


@pytest.fixture
def database_url() -> None:
    return None


@pytest.fixture
def web() -> Iterator[h.Recorder]:
    with h.recorder() as server:
        yield server


def plant_secrets(data_dir: Path) -> tuple[Path, Path]:
    """A stored page image and a text in the data folder, for the files to point at."""
    image = data_dir / RENDITION
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(h.picture((10, 160, 40), "JPEG"))
    text = data_dir / "secret.txt"
    text.write_text(f"{SECRET}\n", encoding="utf-8")
    return image, text


def hostile_files(base: str, image: Path, text: Path) -> dict[str, tuple[str, bytes]]:
    """The files by name: (type, bytes), pointing at ``base`` and at the planted secrets."""
    return {
        "docx, picture linked to the web": ("docx", h.docx_linked_picture(f"{base}/a.png")),
        "docx, picture linked to a stored page": ("docx", h.docx_linked_picture(image.as_uri())),
        "docx, INCLUDEPICTURE field": (
            "docx", h.docx(h.simple_field(f' INCLUDEPICTURE "{base}/field.png" \\d ')),
        ),
        "docx, INCLUDETEXT of a file": (
            "docx", h.docx(h.complex_field(" INCLUDE", f'TEXT "{text}" ', result="trống")),
        ),
        "odt, picture linked to the web": ("odt", h.odt_linked_picture(f"{base}/b.png")),
        "odt, picture linked to a stored page": ("odt", h.odt_linked_picture(image.as_uri())),
        # Seen from data/tmp/work-…/source.odt, where the upload is converted.
        "odt, picture by relative path": (
            "odt", h.odt_linked_picture(f"../../{RENDITION.as_posix()}"),
        ),
        "odt, section linked to a file": ("odt", h.odt_linked_section(text.as_uri())),
    }


def images_and_text(pdf: bytes) -> tuple[int, str]:
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    try:
        return sum(len(page.get_images()) for page in doc), " ".join(p.get_text() for p in doc)
    finally:
        doc.close()


CASES = list(hostile_files("http://x", Path("/p.jpg"), Path("/s.txt")))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_a_hostile_upload_fetches_nothing_and_embeds_nothing(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], web: h.Recorder, case: str
) -> None:
    require_soffice()
    kind, data = hostile_files(web.base, *plant_secrets(app.runtime.settings.data_dir))[case]
    secretary = as_user("thuky")
    response = secretary.upload(room["meeting_id"], data, filename=f"to-trinh.{kind}")
    assert response.status_code == 201, response.text
    assert web.requests == []
    document = response.json()["document"]
    pdf = secretary.get(f"/api/documents/{document['id']}/file").content
    count, text = images_and_text(pdf)
    assert count == 0
    assert SECRET not in text


# Each layer alone, and none: (jail, strip, harden).
LAYERS: dict[str, tuple[bool, bool, bool]] = {
    "jail only": (True, False, False),
    "profile only": (False, False, True),
    "stripping only": (False, True, False),
    "no layer (control)": (False, False, False),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["docx", "odt"])
@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_holds_alone(tmp_path: Path, web: h.Recorder, layer: str, kind: str) -> None:
    soffice = require_soffice()
    jail, strip, harden = LAYERS[layer]
    data_dir = tmp_path / "data"
    image, _ = plant_secrets(data_dir)
    # One file per kind, linking a web picture and a stored page at once.
    if kind == "docx":
        data = h.docx(h.para("Hai ảnh") + h.drawing("rId5") + h.drawing("rId6"), [
            ("rId5", h.IMAGE, f"{web.base}/layer.png", "External"),
            ("rId6", h.IMAGE, image.as_uri(), "External"),
        ])
    else:
        data = h.odt(h.odt_image(f"{web.base}/layer.png") + h.odt_image(image.as_uri()))
    source = tmp_path / f"upload.{kind}"
    source.write_bytes(data)
    work = data_dir / "tmp" / "work-1"
    work.mkdir(parents=True)
    converter = Converter(soffice, 90, jail="bwrap" if jail else None, hidden=(data_dir,),
                          strip=strip, harden=harden)
    count, _ = images_and_text(converter.to_pdf(source, kind, work).read_bytes())
    if layer.startswith("no layer"):
        # The files are hostile to this LibreOffice: without the layers it fetches and embeds.
        assert web.requests and count == 2
    else:
        assert web.requests == [] and count == 0


def probe(folder: Path, port: int, data_dir: Path) -> str:
    """A fake ``soffice`` that reports what it can reach instead of converting."""
    folder.mkdir()
    program = folder / "soffice"
    program.write_text(
        "#!/bin/bash\n"
        'while [ $# -gt 0 ]; do [ "$1" = --outdir ] && outdir=$2; shift; done\n'
        "{\n"
        f"  if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo network:reached;"
        " else echo network:blocked; fi\n"
        f"  if cat {data_dir}/secret.txt 2>/dev/null; then echo data:read;"
        " else echo data:hidden; fi\n"
        f"  echo listing:$(ls -A {data_dir} | tr '\\n' ,)\n"
        "  echo shared:$(ls -A /usr/share | wc -l)\n"
        "  if touch /usr/probe 2>/dev/null; then echo usr:writable; else echo usr:read-only; fi\n"
        "  echo env:$(env | grep -c ECABINET_)\n"
        '} > "$outdir/source.pdf"\n',
        encoding="utf-8",
    )
    program.chmod(0o755)
    return str(program)


def run_probe(tmp_path: Path, web: h.Recorder, jail: str | None) -> dict[str, str]:
    data_dir = tmp_path / "data"
    plant_secrets(data_dir)
    work = data_dir / "tmp" / "work-1"
    work.mkdir(parents=True)
    source = tmp_path / "a.docx"
    source.write_bytes(samples.docx("x"))
    program = probe(tmp_path / "fake", web.server_address[1], data_dir)
    converter = Converter(program, 30, jail=jail, hidden=(data_dir, Path("/usr/share")),
                          strip=False)
    report = converter.to_pdf(source, "docx", work).read_text(encoding="utf-8")
    return dict(line.split(":", 1) for line in report.splitlines() if ":" in line)


def test_the_jail_has_no_network_no_data_folder_and_no_server_environment(
    tmp_path: Path, web: h.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECABINET_SECRET_KEY", "canary-secret-key-0123456789")
    seen = run_probe(tmp_path, web, jail="bwrap")
    assert seen["network"] == "blocked"
    assert seen["data"] == "hidden" and SECRET not in str(seen)
    assert seen["listing"] == "tmp,"  # only the way to the work folder
    assert seen["shared"] == "0"  # a hidden folder stays hidden inside a system folder
    assert seen["usr"] == "read-only"
    assert seen["env"] == "0"
    assert web.requests == []


def test_the_probe_sees_everything_outside_the_jail(tmp_path: Path, web: h.Recorder) -> None:
    # The control: unjailed (ECABINET_CONVERT_UNJAILED), the same probe reaches both.
    seen = run_probe(tmp_path, web, jail=None)
    assert seen["network"] == "reached"
    assert seen["data"] == "read"


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(") ", 1)[-1][:1]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def test_a_jailed_conversion_that_hangs_leaves_nothing_running(tmp_path: Path) -> None:
    marker = f"{3000 + uuid.uuid4().int % 1000}.{os.getpid()}"
    folder = tmp_path / "fake"
    folder.mkdir()
    program = folder / "soffice"
    program.write_text(f"#!/bin/bash\nsleep {marker} &\nsleep {marker} &\nwait\n",
                       encoding="utf-8")
    program.chmod(0o755)
    source = tmp_path / "a.docx"
    source.write_bytes(samples.docx("x"))
    work = tmp_path / "work"
    work.mkdir()
    converter = Converter(str(program), 2.0, strip=False)
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        converter.to_pdf(source, "docx", work)
    assert caught.value.code == "conversion_timeout"
    assert time.monotonic() - started < 15
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_a_jail_that_cannot_start_is_a_clear_refusal(tmp_path: Path) -> None:
    bwrap = broken_bwrap(tmp_path)
    source = tmp_path / "a.docx"
    source.write_bytes(samples.docx("x"))
    work = tmp_path / "work"
    work.mkdir()
    converter = Converter("/bin/true", 30, jail=bwrap, strip=False)
    with pytest.raises(InvalidInput) as caught:
        converter.to_pdf(source, "docx", work)
    assert caught.value.code == "conversion_unavailable"
    assert "bubblewrap" in caught.value.message


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"soffice": "/nonexistent/soffice"}, "LibreOffice"),
     ({"bwrap": "/nonexistent/bwrap"}, "bubblewrap")],
    ids=["without LibreOffice", "without the jail"],
)
def test_without_libreoffice_or_its_jail_office_files_are_refused(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any], named: str
) -> None:
    before = picture(app)
    response = as_user("thuky").upload(room["meeting_id"], samples.docx("Báo cáo"),
                                       filename="bao-cao.docx")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "conversion_unavailable"
    assert named in error["message"] and "PDF" in error["message"]
    assert picture(app) == before
    pdf = as_user("thuky").upload(room["meeting_id"], samples.pdf(1), filename="a.pdf")
    assert pdf.status_code == 201  # PDFs need no LibreOffice


def broken_bwrap(folder: Path) -> str:
    """A bubblewrap that cannot create namespaces, as in a container that forbids them."""
    bwrap = folder / "bwrap"
    bwrap.write_text("#!/bin/sh\necho 'bwrap: Creating new namespace failed: "
                     "Operation not permitted' >&2\nexit 1\n", encoding="utf-8")
    bwrap.chmod(0o755)
    return str(bwrap)


def test_the_server_says_at_start_up_that_office_files_will_be_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_soffice()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"bwrap": "/nonexistent/bwrap"}, "bwrap_missing"),
        ({"bwrap": broken_bwrap(tmp_path)}, "bwrap_broken"),
        ({"convert_unjailed": True}, "conversion.unjailed"),
        ({}, ""),  # bubblewrap works here: nothing to say
    ]
    for number, (overrides, expected) in enumerate(cases):
        application = create_app(make_settings(tmp_path / str(number), **overrides))
        application.runtime.db.close()
        captured = capsys.readouterr()
        said = captured.out + captured.err
        if expected:
            assert said.count(expected) == 1, said
        else:
            assert "conversion." not in said


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [{"bwrap": "/nonexistent/bwrap", "convert_unjailed": True}])
def test_unjailed_conversion_is_allowed_only_when_asked(
    app: Any, as_user: Callable[[str], Api], room: dict[str, Any]
) -> None:
    require_soffice()
    response = as_user("thuky").upload(room["meeting_id"], samples.docx("Nghị quyết"),
                                       filename="nghi-quyet.docx")
    assert response.status_code == 201, response.text
