"""LibreOffice in a jail: the bubblewrap command line and the hardened profile it starts with.

An Office file is the uploader's program as much as a document: linked pictures, linked sections,
fields, external workbooks and macros make LibreOffice fetch URLs and read files while it
converts, and whatever it finds ends up in the PDF. References are removed from the file first
(office_refs.py) and the profile tells LibreOffice never to update links; the jail is what holds
when both miss something:

- its own network namespace (``--unshare-all``): no interface but a loopback of its own, so
  nothing on the server's network, ``127.0.0.1`` included, can be reached;
- its own file system: the system folders LibreOffice needs, read-only; an empty ``/tmp``; the
  conversion's work folder, the only writable place and the only one from the data folder (the
  data folder itself is covered by an empty tmpfs wherever a system folder would show it);
- its own PID namespace and session, no capabilities (even when the server runs as root), dying
  with the server; when the time limit kills bubblewrap, the kernel ends every process inside.

bubblewrap (``bwrap``) is the tool Flatpak uses for the same job; it works for root and, through
unprivileged user namespaces, for an ordinary user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape, quoteattr

# Read-only inside the jail when they exist: programs and libraries, fonts and their cache,
# LibreOffice's own configuration, the dynamic linker's cache, the time zone.
SYSTEM_PATHS: Final = (
    "/usr",
    "/etc/fonts",
    "/etc/libreoffice",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/var/cache/fontconfig",
)
# Top-level folders that are links into /usr on merged-/usr systems and folders elsewhere.
_ROOT_LINKS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# LibreOffice settings (registrymodifications.xcu of the conversion's own profile): never
# update links or fields when loading, never recalculate formulas (WEBSERVICE would fetch),
# block untrusted referer links, no macros, no Java. Values from LibreOffice's configuration
# schema: Writer's link update mode 0 is "never" (sw/inc/linkenum.hxx), Calc's is 1
# (ScLkUpdMode), recalculation mode 1 is "never recalculate".
PROFILE_SETTINGS: Final[tuple[tuple[str, str, str], ...]] = (
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "ExecutePlugins", "false"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "0"),
    ("/org.openoffice.Office.Writer/Content/Update", "Field", "false"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "1"),
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "1"),
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "1"),
    ("/org.openoffice.Office.Java/VirtualMachine", "Enable", "false"),
)


def write_profile(profile: Path) -> None:
    """Create LibreOffice's user profile folder ``profile`` with the hardened settings."""
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    items = "".join(
        f"<item oor:path={quoteattr(path)}><prop oor:name={quoteattr(name)} oor:op=\"fuse\">"
        f"<value>{escape(value)}</value></prop></item>\n"
        for path, name, value in PROFILE_SETTINGS
    )
    (user / "registrymodifications.xcu").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}</oor:items>\n",
        encoding="utf-8",
    )


def install_root(program: str) -> Path:
    """The folder of a LibreOffice installation, from its ``soffice`` (links followed):
    ``/opt/libreoffice7.6`` for ``/opt/libreoffice7.6/program/soffice``."""
    folder = Path(os.path.realpath(program)).parent
    return folder.parent if folder.name == "program" else folder


def _covered(path: Path) -> bool:
    return any(path == Path(p) or Path(p) in path.parents for p in SYSTEM_PATHS)


def jail_command(
    bwrap: str, command: list[str], workdir: Path, hidden: tuple[Path, ...] = ()
) -> list[str]:
    """``command`` (its program by full path) wrapped in bubblewrap: no network, the system
    folders read-only, ``workdir`` the only writable folder, ``hidden`` folders empty."""
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for path in SYSTEM_PATHS:
        args += ["--ro-bind-try", path, path]
    for path in _ROOT_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    program = Path(os.path.realpath(command[0]))
    root = install_root(command[0])
    if not _covered(program) and root != Path("/"):
        args += ["--ro-bind", str(root), str(root)]  # a LibreOffice installed under /opt
    # After every other mount, so that no system folder can show the data folder; the work
    # folder inside it is mounted again on top.
    for folder in hidden:
        args += ["--tmpfs", str(folder.resolve())]
    work = str(workdir.resolve())
    args += [
        "--bind", work, work,
        "--chdir", work,
        "--clearenv",
        "--setenv", "HOME", work,
        "--setenv", "TMPDIR", work,
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "LANG", "C.UTF-8",
        "--",
        str(program),
        *command[1:],
    ]
    return args
