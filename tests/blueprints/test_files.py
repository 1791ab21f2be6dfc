"""Every blueprint file: valid for Home Assistant, bilingual, filtered to this integration, tested."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
import re
from typing import Any

from homeassistant.components.blueprint.models import Blueprint
from homeassistant.components.blueprint.schemas import BLUEPRINT_SCHEMA
from homeassistant.util import yaml as yaml_util
import pytest

from custom_components.smartcity_ddc.const import DOMAIN

from .conftest import BLUEPRINTS

FILES = sorted(BLUEPRINTS.glob("*.yaml"))
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]{3,}")
REPOSITORY = "https://github.com/smartcity-ddc/smartcity_ddc/blob/main/"


def load(path: Path) -> Blueprint:
    """Load a blueprint file as Home Assistant does."""
    return Blueprint(
        yaml_util.load_yaml_dict(path),
        path=path.name,
        expected_domain="automation",
        schema=BLUEPRINT_SCHEMA,
    )


def inputs(blueprint: Blueprint) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield every input, also those inside sections."""
    for key, value in blueprint.data["blueprint"]["input"].items():
        if value and "input" in value:
            yield from value["input"].items()
        else:
            yield key, value


def bilingual(text: str) -> bool:
    """Return whether text has both Korean and English in it."""
    return bool(HANGUL.search(text)) and bool(LATIN.search(text))


def test_there_are_at_least_six() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_blueprint_is_valid_and_bilingual(path: Path) -> None:
    blueprint = load(path)
    metadata = blueprint.data["blueprint"]
    assert blueprint.domain == "automation"
    assert bilingual(metadata["name"]), metadata["name"]
    # One description field: a Korean paragraph and an English one.
    description = metadata["description"]
    korean, _, english = description.partition("**English**")
    assert korean.startswith("**한국어**")
    assert HANGUL.search(korean)
    assert english
    assert not HANGUL.search(english)
    assert (
        metadata["source_url"]
        == f"{REPOSITORY}blueprints/automation/{DOMAIN}/{path.name}"
    )
    for key, value in inputs(blueprint):
        assert bilingual(value["name"]), key


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_entity_inputs_offer_only_this_integrations_entities(path: Path) -> None:
    for key, value in inputs(load(path)):
        selector = value["selector"]
        if "entity" in selector:
            filters = selector["entity"]["filter"]
            assert filters, key
            assert all(f["integration"] == DOMAIN and f["domain"] for f in filters), key


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.stem)
def test_blueprint_is_run_by_a_test(path: Path) -> None:
    tests = "".join(
        test.read_text(encoding="utf-8")
        for test in Path(__file__).parent.glob("test_*.py")
        if test.name != Path(__file__).name
    )
    assert f'"{path.name}"' in tests
