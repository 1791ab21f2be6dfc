"""Home Assistant's rules for a translation file, as a checker of one parsed file.

The rules are those of hassfest's translations schema (core's
script/hassfest/translations.py, release 2024.1 and later ones): which
sections and keys a file may have, the pattern of translation keys (selector
options, entity states, service fields), and what a string may contain — no
HTML, no leading or trailing whitespace, no URLs, no placeholder that is not
an identifier or sits in single quotes, none where Home Assistant fills in
nothing (entity states), no combined references. One more applies to a
custom integration only: no `[%key:…%]` reference at all, because only
core's build resolves them and a custom integration would show the raw text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import re
import string
from typing import Any

import homeassistant.helpers.config_validation as cv
import voluptuous as vol

RE_TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9-_]+(?<![_-])$")
RE_REFERENCE = re.compile(r"\[%key:[^%]*%\]")
RE_COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
RE_QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
RE_URL = re.compile(
    r"(((ftp|ftps|scp|http|https|mqtt|mqtts|socket|socks5)://|www\.)"
    r"[a-z0-9]+([\-.][a-z0-9]+)*\.[a-z]{2,5}(:[0-9]{1,5})?(/.*)?)",
    re.IGNORECASE,
)

Validator = Callable[[Any], Any]


def placeholders(text: str) -> set[str]:
    """Return the names of the `{placeholders}` in a string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def translation_key(value: Any) -> str:
    """Accept a key Home Assistant looks strings up by: [a-z0-9-_]+, no -/_ at either end or doubled."""
    if not isinstance(value, str) or not RE_TRANSLATION_KEY.match(value):
        raise vol.Invalid(
            f"invalid translation key {value!r}: needs [a-z0-9-_]+, "
            "no hyphen or underscore at either end or two in a row"
        )
    return value


def text(*, allow_placeholders: bool = True) -> Validator:
    """Return a validator of one translated string."""

    def validate(value: Any) -> str:
        """Check a translated string against every rule."""
        if not isinstance(value, str):
            raise vol.Invalid(f"expected a string, got {type(value).__name__}")
        cv.string_with_no_html(value)
        if value != value.strip():
            raise vol.Invalid("the string should not have leading or trailing spaces")
        if RE_QUOTED_PLACEHOLDER.search(value):
            raise vol.Invalid("a placeholder should not be in single quotes")
        try:
            names = placeholders(value)
        except ValueError as err:
            raise vol.Invalid(f"broken placeholder: {err}") from err
        if names and not allow_placeholders:
            raise vol.Invalid("placeholders are not filled in here")
        if bad := sorted(name for name in names if not name.isidentifier()):
            raise vol.Invalid(f"placeholders must be identifiers: {bad}")
        if RE_REFERENCE.search(value):
            raise vol.Invalid(
                "a [%key:…%] reference is only resolved in core; a custom "
                "integration would show it as it is"
            )
        if RE_COMBINED_REFERENCE.search(value):
            raise vol.Invalid("the string should not contain combined translations")
        if RE_URL.search(value):
            raise vol.Invalid("the string should not contain a URL: use a placeholder")
        return value

    return validate


TEXT = text()
PLAIN = text(allow_placeholders=False)


def _collect(
    errors: list[vol.Invalid], run: Callable[[], Any], path: list[Any]
) -> None:
    """Run a validation and keep its errors, prefixed with `path`."""
    try:
        run()
    except vol.MultipleInvalid as err:
        for error in err.errors:
            error.prepend(path)
            errors.append(error)
    except vol.Invalid as err:
        err.prepend(path)
        errors.append(err)


def keyed(values: Any, key: Validator = cv.slug) -> Validator:
    """Return a validator of a dict whose every key passes `key` and every value `values`."""
    schema = vol.Schema(values)

    def validate(value: Any) -> Any:
        """Check every key and every value, reporting all errors."""
        if not isinstance(value, dict):
            raise vol.Invalid("expected a dictionary")
        errors: list[vol.Invalid] = []
        for name, item in value.items():
            _collect(errors, lambda name=name: key(name), [name])
            _collect(errors, lambda item=item: schema(item), [name])
        if errors:
            raise vol.MultipleInvalid(errors)
        return value

    return validate


def every(*validators: Validator) -> Validator:
    """Return a validator that runs all of `validators` and reports all their errors."""

    def validate(value: Any) -> Any:
        """Run each validator in turn."""
        errors: list[vol.Invalid] = []
        for validator in validators:
            _collect(errors, lambda validator=validator: validator(value), [])
        if errors:
            raise vol.MultipleInvalid(errors)
        return value

    return validate


def _described_fields_exist(flow: Any) -> Any:
    """Each data_description key describes a field the step has."""
    if not isinstance(flow, dict) or not isinstance(flow.get("step"), dict):
        return flow
    errors = [
        vol.Invalid(
            "data_description for a field the step's data does not name",
            path=["step", step_id, "data_description", field],
        )
        for step_id, step in flow["step"].items()
        if isinstance(step, dict)
        for field in step.get("data_description", {})
        if field not in step.get("data", {})
    ]
    if errors:
        raise vol.MultipleInvalid(errors)
    return flow


def _no_config_title(flow: Any) -> Any:
    """config.title moved to the file's root title long ago (hassfest warns)."""
    if isinstance(flow, dict) and "title" in flow:
        raise vol.Invalid("config.title moved to the root title", path=["title"])
    return flow


def flow(*, subentry: bool = False, config: bool = False) -> Validator:
    """Return a validator of a config, options, subentry or repair flow's strings."""
    strings_of: dict[Any, Any] = {str: TEXT}
    section = {
        vol.Optional("data"): strings_of,
        vol.Optional("data_description"): strings_of,
        vol.Optional("description"): TEXT,
        vol.Optional("name"): TEXT,
    }
    step = {
        vol.Optional("title"): TEXT,
        vol.Optional("description"): TEXT,
        vol.Optional("data"): strings_of,
        vol.Optional("data_description"): strings_of,
        vol.Optional("menu_options"): strings_of,
        vol.Optional("menu_option_descriptions"): strings_of,
        vol.Optional("submit"): TEXT,
        vol.Optional("sections"): {str: section},
    }
    schema: dict[Any, Any] = {
        vol.Optional("flow_title"): TEXT,
        vol.Required("step"): {str: step},
        vol.Optional("error"): strings_of,
        vol.Optional("abort"): strings_of,
        vol.Optional("progress"): strings_of,
        vol.Optional("create_entry"): strings_of,
    }
    if subentry:
        schema[vol.Required("entry_type")] = TEXT
        schema[vol.Required("initiate_flow")] = {vol.Required("user"): TEXT, str: TEXT}
    else:
        schema[vol.Optional("initiate_flow")] = {vol.Required("user"): TEXT}
    checks: list[Validator] = [_described_fields_exist]
    if config:
        schema[vol.Optional("title")] = object
        checks.append(_no_config_title)
    return every(vol.Schema(schema), *checks)


def _description_or_fix_flow(issue: Any) -> Any:
    """A repair issue says what is wrong, or offers a flow to fix it."""
    if isinstance(issue, dict) and not {"description", "fix_flow"} & set(issue):
        raise vol.Invalid("an issue needs a description or a fix_flow")
    return issue


def _issue() -> Validator:
    """Return a validator of one repair issue's strings."""
    return every(
        _description_or_fix_flow,
        vol.Schema(
            {
                vol.Required("title"): TEXT,
                vol.Exclusive("description", "fixable"): TEXT,
                vol.Exclusive("fix_flow", "fixable"): flow(),
            }
        ),
    )


_FIELDS = keyed(
    {
        vol.Required("name"): str,
        vol.Required("description"): TEXT,
        vol.Optional("example"): TEXT,
    },
    translation_key,
)

SCHEMA = vol.Schema(
    {
        vol.Optional("title"): TEXT,
        vol.Optional("config"): flow(config=True),
        vol.Optional("config_subentries"): keyed(
            flow(subentry=True), vol.Any("_", cv.slug)
        ),
        vol.Optional("options"): flow(),
        vol.Optional("selector"): keyed(
            {
                vol.Optional("choices"): keyed(TEXT, translation_key),
                vol.Optional("options"): keyed(TEXT, translation_key),
                vol.Optional("unit_of_measurement"): keyed(TEXT, translation_key),
                vol.Optional("fields"): vol.Any(
                    keyed(str),
                    keyed(
                        {vol.Required("name"): str, vol.Required("description"): TEXT},
                        translation_key,
                    ),
                ),
            },
            vol.Any("_", cv.slug),
        ),
        vol.Optional("device_automation"): {
            vol.Optional(kind): {str: TEXT}
            for kind in (
                "action_type",
                "condition_type",
                "trigger_type",
                "trigger_subtype",
                "extra_fields",
                "extra_fields_descriptions",
            )
        },
        vol.Optional("system_health"): {
            vol.Optional("info"): keyed(TEXT, translation_key)
        },
        vol.Optional("application_credentials"): {vol.Optional("description"): TEXT},
        vol.Optional("issues"): {str: _issue()},
        vol.Optional("entity_component"): keyed(
            {
                vol.Optional("name"): str,
                vol.Optional("state"): keyed(PLAIN, translation_key),
                vol.Optional("state_attributes"): keyed(
                    {
                        vol.Optional("name"): str,
                        vol.Optional("state"): keyed(PLAIN, translation_key),
                    },
                    translation_key,
                ),
            },
            vol.Any("_", cv.slug),
        ),
        vol.Optional("device"): keyed({vol.Optional("name"): TEXT}, translation_key),
        vol.Optional("entity"): keyed(
            keyed(
                {
                    vol.Optional("name"): TEXT,
                    vol.Optional("state"): keyed(PLAIN, translation_key),
                    vol.Optional("state_attributes"): keyed(
                        {
                            vol.Optional("name"): PLAIN,
                            vol.Optional("state"): keyed(PLAIN, translation_key),
                        },
                        translation_key,
                    ),
                    vol.Optional("unit_of_measurement"): PLAIN,
                },
                translation_key,
            )
        ),
        vol.Optional("exceptions"): keyed({vol.Optional("message"): TEXT}),
        vol.Optional("services"): keyed(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): _FIELDS,
                vol.Optional("sections"): keyed(
                    {vol.Required("name"): str, vol.Optional("description"): TEXT},
                    translation_key,
                ),
            },
            translation_key,
        ),
        vol.Optional("conditions"): keyed(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): _FIELDS,
            }
        ),
        vol.Optional("triggers"): keyed(
            {
                vol.Required("name"): TEXT,
                vol.Required("description"): TEXT,
                vol.Optional("fields"): _FIELDS,
            }
        ),
    }
)


def translation_problems(strings: dict[str, Any]) -> list[str]:
    """Return what breaks Home Assistant's rules in one translation file, as 'path: reason'."""
    try:
        SCHEMA(strings)
    except vol.MultipleInvalid as err:
        errors = err.errors
    except vol.Invalid as err:
        errors = [err]
    else:
        return []
    return sorted(
        f"{'.'.join(str(part) for part in error.path)}: {error.msg}" for error in errors
    )


def _strings(
    data: dict[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """Yield (dotted key, string) for every string in a translation file."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _strings(value, (*path, key))
        elif isinstance(value, str):
            yield ".".join((*path, key)), value


def placeholder_mismatches(languages: dict[str, dict[str, Any]]) -> list[str]:
    """Return each key whose placeholders differ between the first language and another."""
    (reference, first), *others = languages.items()
    wanted = {key: _names(value) for key, value in _strings(first)}
    return [
        f"{language}: {key} has {sorted(_names(value))}, {reference} has {sorted(wanted[key])}"
        for language, strings in others
        for key, value in _strings(strings)
        if key in wanted and _names(value) != wanted[key]
    ]


def _names(value: str) -> set[str]:
    """Return a string's placeholder names; a broken one counts as a name of its own."""
    try:
        return placeholders(value)
    except ValueError:
        return {"(broken)"}
