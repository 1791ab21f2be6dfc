"""The HACS action's checks that the repository's files decide, checked offline.

The action (hacs/action, running hacs/integration's validators) also reads
the GitHub repository's settings: a description, topics, issues enabled and
not archived. No file decides those; README's Installation section lists them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
import re
import tomllib
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as ha_version
from homeassistant.generated.countries import COUNTRIES
import homeassistant.helpers.config_validation as cv
import voluptuous as vol

from custom_components.smartcity_ddc.const import DOMAIN

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "custom_components" / DOMAIN
#: SHA-256 of the Apache License 2.0 as apache.org publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
COPYRIGHT = "Copyright 2026 The smartcity_ddc authors"
#: The keys hacs.json may have (HACS rejects any other).
HACS_JSON_KEYS = {
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "persistent_directory",
    "render_readme",
    "zip_release",
    "name",
}
#: Image lines HACS's images check does not count.
NOT_IMAGES = ("-shield", "img.shields.io", "buymeacoffee.com")


def hacs_json_problems(hacs: dict[str, Any]) -> list[str]:
    """What HACS's hacsjson check would report about this hacs.json."""
    found = [f"unknown key {key}" for key in sorted(set(hacs) - HACS_JSON_KEYS)]
    if not isinstance(hacs.get("name"), str) or not hacs["name"]:
        found.append("name must be a non-empty string")
    flags = ("content_in_root", "hide_default_branch", "render_readme", "zip_release")
    found += [
        f"{key} must be true or false"
        for key in flags
        if key in hacs and not isinstance(hacs[key], bool)
    ]
    countries = hacs.get("country", [])
    found += [
        f"country {country} is not an ISO 3166 code"
        for country in ([countries] if isinstance(countries, str) else countries)
        if country.upper() not in COUNTRIES
    ]
    if "homeassistant" in hacs and not AwesomeVersion(hacs["homeassistant"]).valid:
        found.append("homeassistant must be a version")
    if hacs.get("zip_release") and not hacs.get("filename"):
        found.append("zip_release needs filename")
    return found


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """What HACS's integration_manifest check would report about this manifest.json."""
    schema = vol.Schema(
        {
            vol.Required("codeowners"): list,
            vol.Required("documentation"): cv.url,
            vol.Required("domain"): str,
            vol.Required("issue_tracker"): cv.url,
            vol.Required("name"): str,
            vol.Required("version"): str,
        },
        extra=vol.ALLOW_EXTRA,
    )
    try:
        schema(manifest)
    except vol.MultipleInvalid as err:
        return sorted(
            f"{'.'.join(str(part) for part in error.path)}: {error.msg}"
            for error in err.errors
        )
    if not AwesomeVersion(manifest["version"]).valid:
        return ["version must be a version"]
    return []


def test_one_integration_in_custom_components() -> None:
    """HACS installs the first folder in custom_components: it must be ours, alone."""
    folders = [
        path.name
        for path in (ROOT / "custom_components").iterdir()
        if path.is_dir()
        and path.name != "__pycache__"
        and not path.name.startswith(".")
    ]
    assert folders == [DOMAIN]
    manifest = json.loads((PACKAGE / "manifest.json").read_text("utf-8"))
    assert manifest["domain"] == DOMAIN


def test_integration_manifest() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text("utf-8"))
    assert manifest_problems(manifest) == []
    assert manifest["codeowners"]
    # Issues are filed where the documentation lives (the issues check wants them enabled there).
    assert manifest["issue_tracker"] == f"{manifest['documentation']}/issues"


def test_integration_manifest_check_catches_what_hacs_would() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text("utf-8"))
    del manifest["issue_tracker"]
    # The validation library's wording differs between releases; the key does not.
    assert [problem.split(":")[0] for problem in manifest_problems(manifest)] == [
        "issue_tracker"
    ]
    assert manifest_problems({**manifest, "issue_tracker": "x", "version": "one"}) != []


def test_hacs_json() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text("utf-8"))
    assert hacs_json_problems(hacs) == []
    assert hacs["country"] == ["KR"]
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version)


def test_hacs_json_check_catches_what_hacs_would() -> None:
    assert hacs_json_problems({"name": "x", "description": "y", "country": ["ZZ"]}) == [
        "unknown key description",
        "country ZZ is not an ISO 3166 code",
    ]
    assert hacs_json_problems({"zip_release": True}) == [
        "name must be a non-empty string",
        "zip_release needs filename",
    ]


def test_brand_icon_where_hacs_looks() -> None:
    """The brands check passes on an icon in the integration's own brand/ folder."""
    assert (PACKAGE / "brand" / "icon.png").is_file()


def test_information_file_shows_images() -> None:
    """The information check wants a README; the images check a picture in it."""
    readme = (ROOT / "README.md").read_text("utf-8")
    images = [
        line
        for line in readme.splitlines()
        if ("![" in line or "<img" in line) and not any(s in line for s in NOT_IMAGES)
    ]
    assert images
    for image in images:
        for target in re.findall(r"\]\(([^)\s]+)", image):
            assert (ROOT / target).is_file(), target


def test_license_is_the_apache_text_pyproject_names() -> None:
    """GitHub recognises the LICENSE (the license check reads its key): the exact Apache-2.0 text."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert pyproject["project"]["license"] == "Apache-2.0"
    first, text = (ROOT / "LICENSE").read_bytes().split(b"\n", 1)
    assert first.decode() == COPYRIGHT
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    debian = Path("/usr/share/common-licenses/Apache-2.0")
    if debian.is_file():
        assert text == debian.read_bytes()


def test_domain_is_not_a_core_integration() -> None:
    """HACS refuses a custom integration that overrides a core one."""
    assert importlib.util.find_spec(f"homeassistant.components.{DOMAIN}") is None


def test_readme_names_the_checks_github_settings_decide() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("### Publishing checks", 1)[1].split("\n## ", 1)[0]
    for check in ("description", "topics", "issues", "archived"):
        assert f"**{check}**" in section, check
