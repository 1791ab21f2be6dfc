"""scripts/test-current-ha takes its Debian mirror from the machine's apt configuration, and only from there."""

from __future__ import annotations

from pathlib import Path
import re
import shutil
import subprocess

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "test-current-ha"
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
UBUNTU = "ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n"
SECURITY = """Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def _mirror(tmp_path: Path, files: dict[str, str], os_release: str, awk: str) -> str:
    """Run the script's own mirror function on an apt directory made of `files`."""
    function = re.search(
        r"^mirror\(\) \{\n.*?^\}\n", SCRIPT.read_text("utf-8"), re.MULTILINE | re.DOTALL
    )
    assert function is not None
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (apt / name).write_text(text, "utf-8")
    (tmp_path / "os-release").write_text(os_release, "utf-8")
    shims = tmp_path / "bin"
    shims.mkdir()
    executable = shutil.which(awk)
    assert executable is not None, awk
    (shims / "awk").symlink_to(executable)
    result = subprocess.run(
        [
            "bash",
            "-c",
            f'{function[0]}mirror "$1" "$2"',
            "bash",
            apt,
            tmp_path / "os-release",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": f"{shims}:/usr/bin:/bin"},
    )
    assert result.stderr == ""
    return result.stdout.strip()


AWKS = [awk for awk in ("gawk", "mawk") if shutil.which(awk)] or ["awk"]


@pytest.mark.parametrize("awk", AWKS)
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            {
                "sources.list.d/debian.sources": "Types: deb\n# a comment\n"
                "URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
                "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
                + SECURITY
            },
            "http://deb.debian.org/debian",
            id="deb822 as Debian installs it",
        ),
        pytest.param(
            {
                "sources.list.d/a-docker.sources": "Types: deb\nURIs: https://download.docker.example/linux/debian\n"
                "Suites: bookworm\nComponents: stable\n",
                "sources.list.d/b-off.sources": "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\n"
                "Suites: bookworm\nComponents: main\n",
                "sources.list.d/c-security.sources": SECURITY,
                "sources.list.d/d-src.sources": "Types: deb-src\nURIs: http://src.example/debian\n"
                "Suites: bookworm\nComponents: main\n",
                "sources.list.d/e-debian.sources": "Types: deb deb-src\n"
                "URIs: http://mirror.example/debian/\nSuites: bookworm\nComponents: main contrib\n",
            },
            "http://mirror.example/debian",
            id="deb822 skipping other archives, disabled, security and source-only",
        ),
        pytest.param(
            {
                "sources.list": "# deb http://commented.example/debian bookworm main\n"
                "deb [arch=amd64] https://dl.google.example/linux/chrome/deb/ stable main\n"
                "deb http://security.debian.example/debian-security bookworm-security main\n"
                "deb [signed-by=/usr/share/keyrings/debian.gpg] http://ftp.kr.debian.example/debian/ bookworm main contrib\n",
            },
            "http://ftp.kr.debian.example/debian",
            id="one-line sources.list",
        ),
        pytest.param(
            {
                "sources.list.d/nodesource.list": "deb https://deb.nodesource.example/node_20.x nodistro main\n"
            },
            "",
            id="no Debian archive at all",
        ),
    ],
)
def test_mirror_comes_from_apt(
    tmp_path: Path, files: dict[str, str], expected: str, awk: str
) -> None:
    assert _mirror(tmp_path, files, DEBIAN, awk) == expected


def test_mirror_list_file_gives_its_first_url(tmp_path: Path) -> None:
    """Debian's cloud images name a list of mirrors (mirror+file:) instead of one."""
    mirrors = tmp_path / "mirrors.list"
    mirrors.write_text(
        "http://cdn.example/debian\tpriority:1\nhttp://backup.example/debian\n", "utf-8"
    )
    source = (
        f"Types: deb\nURIs: mirror+file://{mirrors}\nSuites: sid\nComponents: main\n"
    )
    files = {"sources.list.d/debian.sources": source}
    assert _mirror(tmp_path, files, DEBIAN, AWKS[0]) == "http://cdn.example/debian"


def test_no_mirror_on_a_machine_that_is_not_debian(tmp_path: Path) -> None:
    files = {"sources.list": "deb http://archive.ubuntu.example/ubuntu noble main\n"}
    assert _mirror(tmp_path, files, UBUNTU, AWKS[0]) == ""


def test_script_names_no_mirror_of_its_own() -> None:
    """Without apt's mirror the script stops and says how to name one; it never guesses."""
    script = SCRIPT.read_text("utf-8")
    assert not re.search(r"https?://[a-z0-9.-]*debian\.org", script)
    assert "DEBIAN_MIRROR=URL" in script
    assert re.search(
        r'\[ -n "\$debian_mirror" \] \|\| unavailable "no Debian mirror', script
    )
