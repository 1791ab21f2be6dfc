"""What hassfest checks, here without core's source tree; and core's own hassfest where it is.

Flow strings are checked by tests/flow_strings.py over every step the suite
shows; this module checks the manifest, brand images, the translation files
by hassfest's translations schema (tests/translation_rules.py), actions, icons
and every entity, exception and repair-issue translation key, both ways. On a
machine that has core's script/hassfest (../shared/tools/hassfest), it also
runs that on the integration; elsewhere those tests skip.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Callable, Iterator
import copy
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
from typing import Any

from awesomeversion import AwesomeVersion
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
import yaml

from custom_components.smartcity_ddc.const import DOMAIN
from devtools.simulator import MeterBusServer
from tests.cards.conftest import card_table, cards_entry, groups  # noqa: F401
from tests.flow_strings import Shown, problems
from tests.meters.bus_site import add_meters, bus_meters, bus_site
from tests.meters.conftest import push_meter
from tests.shelter.conftest import ddc_entry  # noqa: F401
from tests.translation_rules import (
    placeholder_mismatches,
    placeholders,
    translation_problems,
)

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "custom_components" / DOMAIN
LANGUAGES = ("en", "ko")
EXCEPTION_CLASSES = {
    "HomeAssistantError",
    "ServiceValidationError",
    "UpdateFailed",
    "ConfigEntryError",
    "ConfigEntryNotReady",
    "ConfigEntryAuthFailed",
}


def strings(language: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        (PACKAGE / "translations" / f"{language}.json").read_text("utf-8")
    )
    return result


def flatten(
    data: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from flatten(value, (*path, key))
        else:
            yield (*path, key), value


# --- manifest and brand images ----------------------------------------------------------------


def test_manifest_has_what_hassfest_requires() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text("utf-8"))
    assert manifest["domain"] == DOMAIN
    assert set(manifest) >= {
        "domain",
        "name",
        "codeowners",
        "config_flow",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "requirements",
        "version",
    }
    assert manifest["config_flow"] is True
    assert manifest["integration_type"] == "hub"
    assert manifest["iot_class"] == "local_polling"
    assert AwesomeVersion(manifest["version"]).valid
    assert all(owner.startswith("@") for owner in manifest["codeowners"])
    # Every requirement is a bounded range, so HACS users get versions that were tested.
    for requirement in manifest["requirements"]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+>=[\d.]+(,<[\d.]+)?", requirement), (
            requirement
        )
    assert "recorder" in manifest.get("dependencies", []) + manifest.get(
        "after_dependencies", []
    )
    # Keys sorted as hassfest wants: domain, name, then alphabetical.
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


BRAND_IMAGES = (
    "icon.png",
    "icon@2x.png",
    "logo.png",
    "logo@2x.png",
    "dark_icon.png",
    "dark_icon@2x.png",
    "dark_logo.png",
    "dark_logo@2x.png",
)


def test_brand_images_follow_the_brands_rules() -> None:
    """Icon and logo, light and dark, in the integration's own brand/ folder.

    Sizes as home-assistant/brands demands them: a square icon of 256 px (512
    at @2x), a logo whose shortest side is 128-256 px (256-512 at @2x).
    """
    assert sorted(path.name for path in (PACKAGE / "brand").iterdir()) == sorted(
        BRAND_IMAGES
    )
    for prefix in ("", "dark_"):
        for name, side in (("icon.png", 256), ("icon@2x.png", 512)):
            with Image.open(PACKAGE / "brand" / f"{prefix}{name}") as image:
                assert image.format == "PNG"
                assert image.size == (side, side), name
        for name, low, high in (("logo.png", 128, 256), ("logo@2x.png", 256, 512)):
            with Image.open(PACKAGE / "brand" / f"{prefix}{name}") as image:
                assert image.format == "PNG"
                assert low <= min(image.size) <= high, name


async def test_home_assistant_serves_our_brand_images(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Home Assistant 2026.3+ serves the brand/ folder itself: each image, not the CDN's."""
    pytest.importorskip(
        "homeassistant.components.brands",
        reason="Home Assistant serves a custom integration's own brand images from 2026.3",
    )
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    for name in BRAND_IMAGES:
        response = await client.get(f"/api/brands/integration/{DOMAIN}/{name}")
        assert response.status == 200, name
        assert response.content_type == "image/png"
        assert await response.read() == (PACKAGE / "brand" / name).read_bytes(), name


# --- translations ------------------------------------------------------------------------


def test_english_and_korean_have_the_same_keys_and_placeholders() -> None:
    english, korean = dict(flatten(strings("en"))), dict(flatten(strings("ko")))
    assert set(english) == set(korean)
    assert (
        placeholder_mismatches({language: strings(language) for language in LANGUAGES})
        == []
    )


def test_placeholder_check_catches_a_mismatch() -> None:
    english, korean = strings("en"), strings("ko")
    key = next(key for key, value in flatten(english) if placeholders(value))
    _set(korean, key, "{not_in_english}")
    assert placeholder_mismatches({"en": english, "ko": korean}) == [
        f"ko: {'.'.join(key)} has ['not_in_english'], en has {sorted(placeholders(_get(english, key)))}"
    ]


def test_translation_files_follow_home_assistants_rules() -> None:
    """hassfest's translations schema, on ko.json as on en.json (hassfest reads only en.json)."""
    found = [
        f"{language}: {problem}"
        for language in LANGUAGES
        for problem in translation_problems(strings(language))
    ]
    assert not found, "\n".join(found)


def _get(data: dict[str, Any], key: tuple[str, ...]) -> Any:
    for part in key:
        data = data[part]
    return data


def _set(data: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    _get(data, key[:-1])[key[-1]] = value


def _first(data: dict[str, Any], section: str) -> tuple[str, ...]:
    """The key of the first string under a section of this name (e.g. data_description)."""
    return next(key for key, _ in flatten(data) if section in key[:-1])


def _append(
    suffix: str, section: str = "data_description"
) -> Callable[[dict[str, Any]], str]:
    """A defect: `suffix` at the end of the first string under `section`."""

    def put_back(data: dict[str, Any]) -> str:
        key = _first(data, section)
        _set(data, key, _get(data, key) + suffix)
        return ".".join(key)

    return put_back


def _uppercase_parity(data: dict[str, Any]) -> str:
    """Today's first error: the serial parity options keyed as pymodbus wants them."""
    data["selector"]["parity"] = {"options": {"N": "None", "E": "Even", "O": "Odd"}}
    return "selector.parity.options.N"


def _describe_missing_field(data: dict[str, Any]) -> str:
    step = _first(data, "data_description")[:-2]
    _get(data, step)["data_description"]["no_such_field"] = "Described"
    return ".".join((*step, "data_description", "no_such_field"))


def _entity_state_placeholder(data: dict[str, Any]) -> str:
    data["entity"].setdefault("sensor", {})["extra"] = {"state": {"ok": "OK {count}"}}
    return "entity.sensor.extra.state.ok"


def _bad_entity_key(data: dict[str, Any]) -> str:
    data["entity"].setdefault("sensor", {})["Extra_"] = {"name": "Extra"}
    return "entity.sensor.Extra_"


def _issue_without_description(data: dict[str, Any]) -> str:
    data["issues"]["extra"] = {"title": "Extra"}
    return "issues.extra"


def _service_without_description(data: dict[str, Any]) -> str:
    data["services"]["extra"] = {"name": "Extra"}
    return "services.extra.description"


def _unknown_section(data: dict[str, Any]) -> str:
    data["extras"] = {"a": "b"}
    return "extras"


@pytest.mark.parametrize(
    ("put_back", "reason"),
    [
        (_uppercase_parity, "invalid translation key 'N'"),
        (_append(" (smartcity_ddc:water_<ID>)"), "the string should not contain HTML"),
        (_append(" "), "the string should not have leading or trailing spaces"),
        (_append(" '{host}'"), "a placeholder should not be in single quotes"),
        (_append(" {0}"), "placeholders must be identifiers"),
        (_append(" {"), "broken placeholder"),
        (_append(" [%key:common::config_flow::data::host%]"), "a [%key:…%] reference"),
        (
            _append(" See https://example.com/meters."),
            "the string should not contain a URL",
        ),
        (_describe_missing_field, "data_description for a field"),
        (_entity_state_placeholder, "placeholders are not filled in here"),
        (_bad_entity_key, "invalid translation key 'Extra_'"),
        (
            _issue_without_description,
            "an issue needs a description or a fix_flow",
        ),
        (_service_without_description, ""),
        (_unknown_section, ""),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_rule_reports_its_defect(
    put_back: Callable[[dict[str, Any]], str], reason: str
) -> None:
    """Each rule reports a copy of en.json with its defect put back, at its place, and nothing else.

    An empty reason: the validation library's own message, which differs
    between releases (voluptuous, later probatio); its place is the check.
    """
    good = strings("en")
    bad = copy.deepcopy(good)
    where = put_back(bad)
    found = translation_problems(bad)
    assert any(problem.startswith(f"{where}: {reason}") for problem in found), found
    around = where.rpartition(".")[0] or where
    new = set(found) - set(translation_problems(good))
    assert all(problem.startswith(around) for problem in new), new


def test_todays_two_errors_are_reported_exactly() -> None:
    """The two errors real hassfest found, put back in a copy, are reported: nothing else."""
    good = strings("en")
    bad = copy.deepcopy(good)
    _uppercase_parity(bad)
    html = _append(" (smartcity_ddc:water_<ID>)")(bad)
    key_rule = (
        "needs [a-z0-9-_]+, no hyphen or underscore at either end or two in a row"
    )
    expected = {
        f"selector.parity.options.{key}: invalid translation key '{key}': {key_rule}"
        for key in "NEO"
    } | {f"{html}: the string should not contain HTML"}
    assert set(translation_problems(bad)) == set(translation_problems(good)) | expected


# --- the real hassfest, where the machine has it ------------------------------------------

HASSFEST = ROOT.parent / "shared" / "tools" / "hassfest" / "run"


def _run_hassfest(project: Path) -> subprocess.CompletedProcess[str]:
    """Run core's own hassfest on a project's integration with this interpreter."""
    if not HASSFEST.is_file():
        pytest.skip(
            f"no real hassfest at {HASSFEST} (only the project's machines have it)"
        )
    # Not measured: hassfest runs outside the project on a temporary copy of the
    # integration, and the coverage it would start there (no project config, so
    # statement data) cannot be combined with the suite's branch data.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("COV_CORE_")
    }
    return subprocess.run(
        [str(HASSFEST), str(project)],
        env={**env, "HASSFEST_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


#: Sections of the translation files Home Assistant added after the release of
#: the hassfest the machines have (2024.1): device names (2024.2) and config
#: subentries (2025.3). Our own rules above check them as current hassfest does.
NEWER_THAN_HASSFEST = ("device", "config_subentries")


def _copy_without_newer_sections(tmp_path: Path) -> Path:
    """Copy the integration with the sections hassfest 2024.1 cannot know taken out."""
    root = tmp_path / "project"
    package = root / "custom_components" / DOMAIN
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    for language in LANGUAGES:
        path = package / "translations" / f"{language}.json"
        data = json.loads(path.read_text("utf-8"))
        for section in NEWER_THAN_HASSFEST:
            data.pop(section)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), "utf-8")
    return root


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_real_hassfest_finds_no_error_but_sections_newer_than_it(
    tmp_path: Path,
) -> None:
    """Core's own script/hassfest on the integration (about 1-30 s).

    As it is, the only errors are the sections added to Home Assistant after
    this hassfest's release; without them, it finds nothing at all.
    """
    result = _run_hassfest(ROOT)
    report = result.stdout + result.stderr
    errors = [line for line in report.splitlines() if "@ data[" in line]
    assert {
        line.split("@ data[")[1].split("]")[0].strip("'") for line in errors
    } <= set(NEWER_THAN_HASSFEST), report
    assert all("extra keys not allowed" in line for line in errors), report
    result = _run_hassfest(_copy_without_newer_sections(tmp_path))
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "[ERROR]" not in report, report


@pytest.mark.slow
@pytest.mark.timeout(360)
def test_real_hassfest_and_ours_report_todays_two_errors(tmp_path: Path) -> None:
    """With today's two errors put back in a copy, real hassfest and our check both report them."""
    copy_root = _copy_without_newer_sections(tmp_path)
    bad = strings("en")
    for section in NEWER_THAN_HASSFEST:
        bad.pop(section)
    _uppercase_parity(bad)
    html = _append(" (smartcity_ddc:water_<ID>)")(bad)
    (copy_root / "custom_components" / DOMAIN / "translations" / "en.json").write_text(
        json.dumps(bad, ensure_ascii=False, indent=2), "utf-8"
    )
    result = _run_hassfest(copy_root)
    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert "Invalid translation key 'N'" in report, report
    assert "@ data['selector']['parity']['options']" in report, report
    path = "".join(f"['{part}']" for part in html.split("."))
    assert (
        f"the string should not contain HTML for dictionary value @ data{path}"
        in report
    ), report
    ours = {problem.split(":")[0] for problem in translation_problems(bad)}
    assert {"selector.parity.options.N", html} <= ours


def _constants(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _resolve_module(path: Path, node: ast.ImportFrom) -> Path | None:
    """Return the file a relative import names (None for other imports)."""
    if not node.level or node.module is None:
        return None
    base = path.parent
    for _ in range(node.level - 1):
        base = base.parent
    target = base.joinpath(*node.module.split("."))
    return target / "__init__.py" if target.is_dir() else target.with_suffix(".py")


def _code_keys() -> dict[str, set[str]]:
    """Translation keys the code uses for exceptions and repair issues (dynamic ones resolved).

    A key chosen at run time comes from a job's ErrorKeys table (``X.key(err)``),
    a ``*_KEYS`` dict, or a ``*_key`` function that reads one of them; each
    name is looked up in the module that defines it, following imports.
    """
    trees = {path: ast.parse(path.read_text("utf-8")) for path in PACKAGE.rglob("*.py")}
    producers: dict[tuple[Path, str], set[str]] = {}
    imported: dict[tuple[Path, str], tuple[Path, str]] = {}
    readers: dict[tuple[Path, str], set[str]] = {}
    for path, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (
                source := _resolve_module(path, node)
            ):
                for alias in node.names:
                    imported[(path, alias.asname or alias.name)] = (source, alias.name)
            if isinstance(node, ast.AnnAssign | ast.Assign):
                target = (
                    node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
                )
                if not isinstance(target, ast.Name) or node.value is None:
                    continue
                if isinstance(node.value, ast.Call) and ast.unparse(
                    node.value.func
                ).endswith("ErrorKeys"):
                    producers[(path, target.id)] = _constants(node.value)
                elif isinstance(node.value, ast.Dict) and target.id.endswith("_KEYS"):
                    producers[(path, target.id)] = {
                        v.value
                        for v in node.value.values
                        if isinstance(v, ast.Constant)
                    }
            if isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef
            ) and node.name.endswith("_key"):
                readers[(path, node.name)] = {
                    n.id
                    for n in ast.walk(node)
                    if isinstance(n, ast.Name) and n.id.endswith("_KEYS")
                }

    def origin(path: Path, name: str) -> tuple[Path, str]:
        while (path, name) in imported:
            path, name = imported[(path, name)]
        return path, name

    for (path, name), tables in readers.items():
        producers[(path, name)] = set().union(
            *(producers[origin(path, table)] for table in tables)
        )

    def resolve(value: ast.expr, path: Path, where: str) -> set[str]:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return {value.value}
        if isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Attribute) and func.attr == "key":
                func = func.value
            if isinstance(func, ast.Name) and origin(path, func.id) in producers:
                return producers[origin(path, func.id)]
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            return producers[origin(path, value.value.id)]
        pytest.fail(f"{where}: translation key {ast.unparse(value)} cannot be checked")

    found: dict[str, set[str]] = {"exceptions": set(), "issues": set()}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                # Keyword arguments of an exception, built as a dict first.
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "translation_key":
                        found["exceptions"] |= resolve(value, path, "a dict")
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            if name in EXCEPTION_CLASSES:
                section = "exceptions"
            elif name in ("async_create_issue", "async_report_issue"):
                section = "issues"
            else:
                continue
            for keyword in node.keywords:
                if keyword.arg == "translation_key" and not (
                    # helpers.async_report_issue handing its own argument on:
                    # its callers' keys are checked where they are written.
                    isinstance(keyword.value, ast.Name)
                    and keyword.value.id == "translation_key"
                    and path.name == "helpers.py"
                ):
                    found[section] |= resolve(
                        keyword.value, path, f"{path.name}: {name}"
                    )
    return found


def test_every_exception_and_issue_key_is_translated_and_used() -> None:
    used = _code_keys()
    assert len(used["exceptions"]) > 15
    for language in LANGUAGES:
        for section in ("exceptions", "issues"):
            defined = set(strings(language)[section])
            assert used[section] - defined == set(), f"{language} {section} missing"
            assert defined - used[section] == set(), f"{language} {section} unused"
        for key, value in strings(language)["exceptions"].items():
            assert value["message"], key


def test_flow_string_check_catches_what_is_missing() -> None:
    broken = Shown(
        "config",
        "shelter_network",
        fields={"host", "no_such_field"},
        errors={"no_such_error"},
    )
    found = problems([broken])
    assert "en: config.step.shelter_network.data.no_such_field missing" in found
    assert "ko: config.error.no_such_error missing" in found
    missing_placeholder = Shown("options", "shelter_profile", fields={"profile"})
    assert "en: options.step.shelter_profile needs placeholders ['issues']" in problems(
        [missing_placeholder]
    )
    assert problems([Shown("config", "", abort="no_such_reason")]) == [
        "en: config.abort.no_such_reason missing",
        "ko: config.abort.no_such_reason missing",
    ]


# --- entities, actions and icons, at run time ----------------------------------------------


@pytest.fixture
async def every_kind(
    hass: HomeAssistant,
    ddc_entry: MockConfigEntry,  # noqa: F811  # the fixture imported above
    cards_entry: MockConfigEntry,  # noqa: F811  # the fixture imported above
    socket_enabled: None,
) -> AsyncIterator[list[MockConfigEntry]]:
    """A DDC, a card sync and a meter site with every kind of meter, all set up.

    The site has a pushed water meter and a bus with electricity meters (one
    prepaid with a relay) and a prepaid M-Bus water meter.
    """
    async with MeterBusServer(stop_after=600) as gateway:
        add_meters(gateway)
        site = bus_site(
            gateway.port,
            [
                *(
                    # The M-Bus water meter prepaid too.
                    {**meter, "prepaid": "money", "tariff": 2.0, "low_credit": 5}
                    if meter["source"] == "mbus"
                    else meter
                    for meter in bus_meters()
                ),
                push_meter("m1", "Meter 1"),
            ],
        )
        entries = [ddc_entry, cards_entry, site]
        for entry in entries:
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        yield entries
        for entry in entries:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


async def test_every_entity_translation_key_exists_and_none_is_orphaned(
    hass: HomeAssistant,
    every_kind: list[MockConfigEntry],
    entity_registry: er.EntityRegistry,
) -> None:
    used = {
        (entry.domain, entry.translation_key)
        for config_entry in every_kind
        for entry in er.async_entries_for_config_entry(
            entity_registry, config_entry.entry_id
        )
        if entry.translation_key
    }
    assert len(used) > 40
    icons = json.loads((PACKAGE / "icons.json").read_text("utf-8"))["entity"]
    for language in LANGUAGES:
        defined = {
            (platform, key)
            for platform, keys in strings(language)["entity"].items()
            for key in keys
        }
        assert used - defined == set(), f"{language}: entity names missing"
        assert defined - used == set(), f"{language}: entity names no entity uses"
    icon_keys = {(platform, key) for platform, keys in icons.items() for key in keys}
    assert icon_keys <= used, "icons for keys no entity uses"


async def test_actions_match_services_yaml_translations_and_icons(
    hass: HomeAssistant,
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    registered = set(hass.services.async_services_for_domain(DOMAIN))
    described = yaml.safe_load((PACKAGE / "services.yaml").read_text("utf-8"))
    assert registered == set(described)
    icons = json.loads((PACKAGE / "icons.json").read_text("utf-8"))["services"]
    assert set(icons) == registered
    for language in LANGUAGES:
        translated = strings(language)["services"]
        assert set(translated) == registered
        for service, spec in described.items():
            assert translated[service]["name"]
            assert translated[service]["description"]
            assert set(translated[service]["fields"]) == set(spec.get("fields", {})), (
                service
            )
            for name in spec.get("fields", {}):
                assert translated[service]["fields"][name]["name"]
                assert translated[service]["fields"][name]["description"]


QUALITY_RULES = [
    "action-setup",
    "appropriate-polling",
    "brands",
    "common-modules",
    "config-flow-test-coverage",
    "config-flow",
    "dependency-transparency",
    "docs-actions",
    "docs-high-level-description",
    "docs-installation-instructions",
    "docs-removal-instructions",
    "entity-event-setup",
    "entity-unique-id",
    "has-entity-name",
    "runtime-data",
    "test-before-configure",
    "test-before-setup",
    "unique-config-entry",
    "action-exceptions",
    "config-entry-unloading",
    "docs-configuration-parameters",
    "docs-installation-parameters",
    "entity-unavailable",
    "integration-owner",
    "log-when-unavailable",
    "parallel-updates",
    "reauthentication-flow",
    "test-coverage",
    "devices",
    "diagnostics",
    "discovery-update-info",
    "discovery",
    "docs-data-update",
    "docs-examples",
    "docs-known-limitations",
    "docs-supported-devices",
    "docs-supported-functions",
    "docs-troubleshooting",
    "docs-use-cases",
    "dynamic-devices",
    "entity-category",
    "entity-device-class",
    "entity-disabled-by-default",
    "entity-translations",
    "exception-translations",
    "icon-translations",
    "reconfiguration-flow",
    "repair-issues",
    "stale-devices",
    "async-dependency",
    "inject-websession",
    "strict-typing",
]


def test_quality_scale_audit_covers_every_rule() -> None:
    rules = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text("utf-8"))["rules"]
    assert sorted(rules) == sorted(QUALITY_RULES)
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in ("done", "exempt"), name
        if status == "exempt":
            assert rule["comment"], f"{name}: an exemption needs a reason"
    # Every PARALLEL_UPDATES matches what the platform does to the shared bus.
    for platform, expected in {
        "switch": 1,
        "climate": 1,
        "fan": 1,
        "time": 1,
        "sensor": 0,
        "binary_sensor": 0,
        "calendar": 0,
    }.items():
        assert f"PARALLEL_UPDATES = {expected}" in (
            PACKAGE / f"{platform}.py"
        ).read_text("utf-8"), platform
