"""Record every form, menu and abort our flows show during the test session, and check their strings.

hassfest checks that config-flow strings exist; a custom integration has no
hassfest run, and a static scan can't see which fields a dynamic form shows.
Instead every flow step the tests drive is recorded and, at the end of the
session, checked against translations/en.json and ko.json: each field, error,
menu option, abort reason and selector option must be translated, and every
placeholder a string uses must be provided by the step.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
from dataclasses import dataclass, field
import json
from pathlib import Path
import re
from typing import Any
from unittest.mock import patch

from homeassistant.components.repairs import RepairsFlow
from homeassistant.config_entries import ConfigSubentryFlow, OptionsFlow
from homeassistant.data_entry_flow import FlowHandler
from homeassistant.helpers import issue_registry as ir

PACKAGE = Path(__file__).parents[1] / "custom_components" / "smartcity_ddc"
LANGUAGES = ("en", "ko")


@dataclass
class Shown:
    """One step a flow showed."""

    kind: str  # "config", "options", "config_subentries.<type>" or "issues.<key>.fix_flow"
    step_id: str
    fields: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    placeholders: set[str] = field(default_factory=set)
    menu: set[str] = field(default_factory=set)
    selectors: dict[str, set[str]] = field(default_factory=dict)
    abort: str | None = None


SHOWN: list[Shown] = []


def _ours(handler: FlowHandler) -> bool:
    return type(handler).__module__.startswith("custom_components.smartcity_ddc")


def _kind(handler: FlowHandler) -> str:
    """Return where the handler's strings live in the translations."""
    if isinstance(handler, RepairsFlow):
        issue = ir.async_get(handler.hass).async_get_issue(
            str(handler.handler), handler.issue_id
        )
        key = issue.translation_key if issue else handler.issue_id
        return f"issues.{key}.fix_flow"
    if isinstance(handler, ConfigSubentryFlow):
        # The handler is (entry id, subentry type).
        return f"config_subentries.{handler.handler[1]}"
    return "options" if isinstance(handler, OptionsFlow) else "config"


def _section(strings: dict[str, Any], kind: str) -> dict[str, Any]:
    section: Any = strings
    for part in kind.split("."):
        section = section.get(part, {}) if isinstance(section, dict) else {}
    return section if isinstance(section, dict) else {}


def _selectors(schema: Any) -> dict[str, set[str]]:
    """Return translated select selectors in a schema: translation key → options."""
    found: dict[str, set[str]] = {}
    for value in getattr(schema, "schema", {}).values():
        config = getattr(value, "config", None)
        if isinstance(config, dict) and config.get("translation_key"):
            options = {
                o["value"] if isinstance(o, dict) else str(o)
                for o in config.get("options", [])
            }
            found.setdefault(config["translation_key"], set()).update(options)
    return found


@contextlib.contextmanager
def recording() -> Iterator[None]:
    """Wrap FlowHandler's show/abort methods to record what our flows show."""
    show_form, show_menu, abort = (
        FlowHandler.async_show_form,
        FlowHandler.async_show_menu,
        FlowHandler.async_abort,
    )

    def _form(self: FlowHandler, **kwargs: Any) -> Any:
        if _ours(self):
            schema = kwargs.get("data_schema")
            SHOWN.append(
                Shown(
                    _kind(self),
                    kwargs.get("step_id") or "init",
                    fields={str(key) for key in getattr(schema, "schema", {})},
                    errors=set((kwargs.get("errors") or {}).values()),
                    placeholders=set(kwargs.get("description_placeholders") or {}),
                    selectors=_selectors(schema),
                )
            )
        return show_form(self, **kwargs)

    def _menu(self: FlowHandler, **kwargs: Any) -> Any:
        if _ours(self):
            SHOWN.append(
                Shown(
                    _kind(self),
                    kwargs.get("step_id") or "init",
                    menu=set(kwargs["menu_options"]),
                    placeholders=set(kwargs.get("description_placeholders") or {}),
                )
            )
        return show_menu(self, **kwargs)

    def _abort(self: FlowHandler, **kwargs: Any) -> Any:
        if _ours(self):
            SHOWN.append(
                Shown(
                    _kind(self),
                    "",
                    abort=kwargs["reason"],
                    placeholders=set(kwargs.get("description_placeholders") or {}),
                )
            )
        return abort(self, **kwargs)

    with (
        patch.object(FlowHandler, "async_show_form", _form),
        patch.object(FlowHandler, "async_show_menu", _menu),
        patch.object(FlowHandler, "async_abort", _abort),
    ):
        yield


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def problems(shown_steps: list[Shown] | None = None) -> list[str]:
    """Return every untranslated or under-provided string of the recorded (or given) steps."""
    found: list[str] = []
    for language in LANGUAGES:
        strings = json.loads(
            (PACKAGE / "translations" / f"{language}.json").read_text("utf-8")
        )
        for shown in SHOWN if shown_steps is None else shown_steps:
            section = _section(strings, shown.kind)
            where = f"{language}: {shown.kind}"
            if shown.abort is not None:
                text = section.get("abort", {}).get(shown.abort)
                if text is None:
                    found.append(f"{where}.abort.{shown.abort} missing")
                elif missing := _placeholders(text) - shown.placeholders:
                    found.append(
                        f"{where}.abort.{shown.abort} needs placeholders {sorted(missing)}"
                    )
                continue
            step = section.get("step", {}).get(shown.step_id)
            if step is None:
                found.append(f"{where}.step.{shown.step_id} missing")
                continue
            texts = [step.get("title", ""), step.get("description", "")]
            found.extend(
                f"{where}.step.{shown.step_id}.data.{name} missing"
                for name in sorted(shown.fields - set(step.get("data", {})))
            )
            found.extend(
                f"{where}.step.{shown.step_id}.menu_options.{option} missing"
                for option in sorted(shown.menu - set(step.get("menu_options", {})))
            )
            for error in sorted(shown.errors):
                text = section.get("error", {}).get(error)
                if text is None:
                    found.append(f"{where}.error.{error} missing")
                else:
                    texts.append(text)
            found.extend(
                f"{where}.step.{shown.step_id} needs placeholders {sorted(missing)}"
                for text in texts
                if (missing := _placeholders(text) - shown.placeholders)
            )
            for key, options in shown.selectors.items():
                translated = set(
                    strings.get("selector", {}).get(key, {}).get("options", {})
                )
                found.extend(
                    f"{language}: selector.{key}.options.{o} missing"
                    for o in sorted(options - translated)
                )
    return sorted(set(found))
