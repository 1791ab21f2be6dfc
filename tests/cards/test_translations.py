"""Every card-sync string exists in English and Korean, with the same placeholders."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

PACKAGE = Path(__file__).parents[2] / "custom_components" / "smartcity_ddc"
#: The card-sync job's own modules (its engine raises errors; it names no keys).
CARD_MODULES = sorted((PACKAGE / "cards").glob("*.py"))


def flatten(
    data: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], str]:
    flat: dict[tuple[str, ...], str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flatten(value, (*path, key)))
        else:
            flat[(*path, key)] = value
    return flat


def load(language: str) -> dict[tuple[str, ...], str]:
    return flatten(
        json.loads((PACKAGE / "translations" / f"{language}.json").read_text("utf-8"))
    )


def test_english_and_korean_have_the_same_keys_and_placeholders() -> None:
    english, korean = load("en"), load("ko")
    assert set(english) == set(korean)
    for key, text in english.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(
            re.findall(r"\{(\w+)\}", korean[key])
        ), key
        if any("cards" in part for part in key) or key[0] == "services":
            # The Korean text is a translation, not a copy of the English one.
            assert korean[key] != text or not re.search(r"[a-z]{4}", text), key


def test_every_card_key_in_the_code_is_translated() -> None:
    keys = {part for key in load("en") for part in key}
    used: set[str] = set()
    for module in CARD_MODULES:
        source = module.read_text("utf-8")
        used |= set(re.findall(r"\"(cards_[a-z_]*[a-z])\"", source))
    assert len(used) > 25
    missing = sorted(name for name in used if name not in keys)
    assert missing == []
