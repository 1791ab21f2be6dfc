"""Profiles: the standard layout, loading, line-level validation, collisions."""

from __future__ import annotations

import json
from pathlib import Path
import resource
import subprocess
import sys
from typing import Any

import pytest

from custom_components.smartcity_ddc.line import RegisterKind, RegisterRef
from custom_components.smartcity_ddc.shelter.engine.errors import ProfileError
from custom_components.smartcity_ddc.shelter.engine.profile import (
    MAX_PROFILE_ALIASES,
    MAX_PROFILE_CHARACTERS,
    MAX_PROFILE_DEPTH,
    MAX_PROFILE_NODES,
    Key,
    UnitType,
    customize_layout,
    load_profile,
    parse_profile_text,
    profile_from_data,
    standard_profile,
    standard_profile_text,
)

PACKAGE = Path(__file__).parents[2] / "custom_components" / "smartcity_ddc"


def test_standard_profile_matches_spec_section_2() -> None:
    profile = standard_profile()
    by_id = {f"{u.device_id}.{u.unit_id}": u for u in profile.units}
    assert sorted(by_id) == [
        "d011.u001", "d011.u002", "d021.u001", "d022.u001", "d023.u001", "d023.u002",
        "d041.u001", "d041.u002", "d051.u001", "d051.u002", "d061.u001", "d081.u001", "d081.u002",
    ]  # fmt: skip
    light = by_id["d011.u001"]
    assert light.type is UnitType.LIGHTING
    # Named by Home Assistant's translations after type and number.
    assert light.names == {}
    assert light.number == 1
    assert light.points[Key.AUTO].read == RegisterRef(RegisterKind.HOLDING, 352)
    assert light.points[Key.POWER].read == RegisterRef(RegisterKind.INPUT, 821)
    assert light.points[Key.POWER].write == RegisterRef(RegisterKind.COIL, 368)
    assert [p.read.address for p in light.windows[0].points() if p.read] == [
        42,
        58,
        74,
        90,
    ]
    bench2 = by_id["d041.u002"]
    assert bench2.points[Key.POWER].write == RegisterRef(RegisterKind.COIL, 373)
    assert bench2.points[Key.POWER].read == RegisterRef(RegisterKind.INPUT, 826)
    cooler = by_id["d021.u001"]
    assert cooler.points[Key.MODE].options() == (
        "cool",
        "dry",
        "fan_only",
        "auto",
        "heat",
    )
    assert cooler.points[Key.MODE].write == RegisterRef(RegisterKind.HOLDING, 122)
    assert [p.read.address for p in cooler.windows[1].points() if p.read] == [
        146,
        150,
        155,
        160,
    ]
    ventilator = by_id["d022.u001"]
    assert (
        ventilator.points[Key.POWER].read
        == ventilator.points[Key.POWER].write
        == RegisterRef(RegisterKind.COIL, 370)
    )
    assert ventilator.points[Key.SPEED].options() == ("stop", "low", "medium", "high")
    switch2 = by_id["d081.u002"]
    assert switch2.points[Key.POWER].write is None
    assert switch2.points[Key.POWER].read == RegisterRef(RegisterKind.INPUT, 834)
    assert [p.read.address for p in switch2.windows[0].points() if p.read] == [
        150,
        155,
        160,
        165,
    ]
    sensor = by_id["d061.u001"]
    assert sorted(sensor.points) == sorted(
        [
            Key.PM10,
            Key.PM2_5,
            Key.PM1_0,
            Key.CO2,
            Key.VOC,
            Key.TEMPERATURE,
            Key.HUMIDITY,
        ]
    )


def test_standard_profile_collisions_are_the_ones_spec_3_6_names() -> None:
    collisions = {str(c.register): c.users for c in standard_profile().collisions()}
    assert collisions["holding 352"] == ("d011_u001.auto", "d021_u001.auto")
    assert collisions["input 821"] == ("d011_u001.power", "d021_u001.power")
    assert collisions["coil 370"] == ("d022_u001.power", "d023_u001.power")
    assert "holding 353" in collisions
    # The cooler's window 2 and DO14's window (SPEC §3.6 item 5).
    assert collisions["holding 150"] == (
        "d021_u001.window2_start_minute",
        "d081_u002.window1_start_hour",
    )
    assert len(collisions) == 16


def test_profile_without_shared_registers_reports_none() -> None:
    data, _ = parse_profile_text(standard_profile_text())
    data = customize_layout(data, removed=["d021.u001", "d022.u001", "d081.u002"])
    assert profile_from_data(data).collisions() == ()


def test_json_profile_loads() -> None:
    text = json.dumps(
        {
            "units": [
                {
                    "id": "d061.u001",
                    "type": "sensor",
                    "name": {"ko": "센서", "en": "Sensor"},
                    "points": {"co2": "input 137"},
                }
            ]
        }
    )
    profile = load_profile(text)
    assert profile.units[0].points[Key.CO2].read == RegisterRef(RegisterKind.INPUT, 137)
    assert profile.units[0].points[Key.CO2].write is None


def test_address_offset_shifts_every_address() -> None:
    text = standard_profile_text().replace("address_offset: 0", "address_offset: -1")
    light = load_profile(text).unit("d011_u001")
    assert light.points[Key.AUTO].read == RegisterRef(RegisterKind.HOLDING, 351)
    assert light.windows[0].start_hour.read == RegisterRef(RegisterKind.HOLDING, 41)


def _issues(text: str) -> list[str]:
    with pytest.raises(ProfileError) as excinfo:
        load_profile(text)
    return [str(issue) for issue in excinfo.value.issues]


BAD_UNIT = """\
units:
  - id: d011.u001
    type: {type}
    name: Light
    points:
      auto: {auto}
      power: {{read: input 821, write: coil 368, scale: {scale}}}
"""


def test_unknown_type_reported_with_line() -> None:
    issues = _issues(BAD_UNIT.format(type="lamp", auto="holding 352", scale=1))
    assert issues == [
        "line 3: units[0].type: unknown unit type 'lamp', expected one of "
        + str(sorted(t.value for t in UnitType))
    ]


def test_address_out_of_range_reported_with_line() -> None:
    issues = _issues(BAD_UNIT.format(type="lighting", auto="holding 70000", scale=1))
    assert issues == [
        "line 6: units[0].points.auto.register: address 70000 is out of range 0-65535"
    ]


def test_bad_scale_reported_with_line() -> None:
    issues = _issues(BAD_UNIT.format(type="lighting", auto="holding 352", scale=0))
    assert issues == [
        "line 7: units[0].points.power.scale: scale must be a positive number, got 0"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("units: [", "not valid YAML/JSON"),
        ("[]", "a profile must be a mapping"),
        ("units: []", "units: a profile needs a non-empty list of units"),
        ("nmae: x\nunits: []", "line 1: nmae: unknown field 'nmae'"),
        (
            "units:\n  - id: light1\n    type: lighting\n    name: L\n    port: 1\nrelay_ports: {1: {power_status: 821}}",
            "line 2: units[0].id: unit id must look like",
        ),
        (
            "units:\n  - id: d1.u1\n    type: lighting\n    name: L\n    port: 3\nrelay_ports: {1: {power_status: 821}}",
            "line 5: units[0].port: relay port 3 is not in relay_ports",
        ),
        (
            "units:\n  - id: d1.u1\n    type: sensor\n    name: S\n    points: {co2: coil 5}",
            "a uint16 value cannot live in a single-bit register",
        ),
        (
            "units:\n  - id: d1.u1\n    type: sensor\n    name: S\n    points: {co2: {read: input 5, write: input 5}}",
            "input registers cannot be written",
        ),
        (
            "units:\n  - id: d1.u1\n    type: sensor\n    name: S\n    points: {power: input 5}",
            "a sensor unit has no power",
        ),
        (
            "units:\n  - id: d1.u1\n    type: cooler\n    name: C\n    points: {power: coil 1, mode: holding 2}",
            "mode needs a 'map'",
        ),
        (
            "units:\n  - id: d1.u1\n    type: cooler\n    name: C\n    points: {power: coil 1, mode: {register: holding 2, map: {0: turbo}}}",
            "unknown option 'turbo'",
        ),
        (
            "units:\n  - id: d1.u1\n    type: cooler\n    name: C\n    points: {mode: {register: holding 2, map: {0: cool}}}",
            "a cooler unit needs power",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 2}}",
            "line 3: units[1].id: unit id is already used by units[0]",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: input 1, min: 9, max: 2}}}",
            "min 9 is above max 2",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: input 1, type: float}}}",
            "unknown value type 'float'",
        ),
        (
            "units:\n  - {id: d1.u1, type: lighting, name: L, points: {power: {read: input 1, write: coil 1}}, windows: [[1, 2, 3]]}",
            "a window is [start hour",
        ),
        (
            "address_offset: 5\nunits:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}",
            "address_offset must be -1, 0 or 1",
        ),
        (
            "units:\n  - {id: d1.u1, type: externalsw, name: X, points: {power: {read: input 1, write: coil 1}}}",
            "read-only",
        ),
    ],
)
def test_validation_errors_are_clear(text: str, expected: str) -> None:
    assert any(expected in issue for issue in _issues(text)), _issues(text)


def test_every_issue_is_reported_at_once() -> None:
    text = "units:\n  - {id: d1.u1, type: lamp}\n  - {id: d1.u2, type: sensor, name: S, points: {co2: holding 99999}}"
    assert len(_issues(text)) == 2


def test_customize_layout_moves_removes_and_adds() -> None:
    data, lines = parse_profile_text(standard_profile_text())
    data = customize_layout(
        data,
        removed=["d041.u002"],
        ports={"d041.u001": 9},
        added=[
            {
                "id": "d091.u001",
                "type": "relay",
                "name": {"ko": "간판", "en": "Sign"},
                "port": 10,
            }
        ],
    )
    profile = profile_from_data(data, lines)
    uids = [unit.uid for unit in profile.units]
    assert "d041_u002" not in uids
    bench = profile.unit("d041_u001")
    assert bench.points[Key.POWER].write == RegisterRef(RegisterKind.COIL, 376)
    sign = profile.unit("d091_u001")
    assert sign.points[Key.AUTO].read == RegisterRef(RegisterKind.HOLDING, 361)
    with pytest.raises(KeyError):
        profile.unit("nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "a profile must be a mapping"),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: true}}}",
            "expected a register like 'holding 352', got True",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: {kind: input, address: x}}}}",
            "address must be an integer, got 'x'",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: {kind: eeprom, address: 1}}}}",
            "unknown register kind 'eeprom'",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: 5}}",
            "expected a register or a mapping, got 5",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {scale: 2}}}",
            "a point needs a 'register', or 'read' and/or 'write'",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {register: input 1, read: input 2}}}",
            "use either 'register' or 'read'/'write', not both",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: input 65535, type: uint32}}}",
            "a 32-bit value needs two registers",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: input 1, min: low}}}",
            "min must be a number, got 'low'",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: {read: input 1, word_order: middle}}}",
            "word_order must be 'big' or 'little'",
        ),
        (
            "units:\n  - {id: d1.u1, type: cooler, name: C, points: {power: coil 1, mode: {register: holding 2, map: []}}}",
            "map must be a non-empty mapping",
        ),
        (
            "units:\n  - {id: d1.u1, type: cooler, name: C, points: {power: coil 1, mode: {register: holding 2, map: {x: cool}}}}",
            "raw value 'x' must be an integer",
        ),
        (
            "units:\n  - {id: d1.u1, type: cooler, name: C, points: {power: coil 1, mode: {register: holding 2, map: {0: cool, 1: cool}}}}",
            "option 'cool' is mapped twice",
        ),
        (
            "units:\n  - {id: d1.u1, type: lighting, name: L, points: {power: coil 1}, windows: [[1, 2, 3, 99999]]}",
            "address 99999 is out of range",
        ),
        (
            "relay_ports: [1, 2]\nunits:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}",
            "relay_ports must be a mapping",
        ),
        (
            "relay_ports: {99: {power_status: 1}}\nunits:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}",
            "relay port must be a number 1-64, got 99",
        ),
        (
            "relay_ports: {1: {auto: 5}}\nunits:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}",
            "a relay port needs at least 'power_status'",
        ),
        (
            "relay_ports: {1: {power_status: 1, colour: red}}\nunits:\n  - {id: d1.u1, type: sensor, name: S, points: {co2: input 1}}",
            "unknown field 'colour'",
        ),
        ("units:\n  - just a string", "a unit must be a mapping"),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: {}, points: {co2: input 1}}",
            "name is text, or names by language",
        ),
        (
            "relay_ports: {1: {power_status: 1}}\nunits:\n  - {id: d1.u1, type: sensor, name: S, port: 1, points: {co2: input 1}}",
            "a sensor unit is not on a relay port",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: [co2]}",
            "points must be a mapping",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {ozone: input 1}}",
            "unknown key 'ozone'",
        ),
        (
            "units:\n  - {id: d1.u1, type: sensor, name: S, points: {}}",
            "a sensor unit needs at least one value",
        ),
        (
            "units:\n  - {id: d1.u1, type: lighting, name: L, points: {power: coil 1}, windows: [[1,2,3,4],[5,6,7,8],[9,10,11,12]]}",
            "a lighting unit has at most 2 windows",
        ),
        ("units: {a: 1}\n", "a profile needs a non-empty list of units"),
        ("\tunits: x", "not valid YAML/JSON"),
    ],
)
def test_more_validation_errors(text: str, expected: str) -> None:
    assert any(expected in issue for issue in _issues(text)), _issues(text)


def test_write_only_and_read_only_points() -> None:
    profile = load_profile(
        "units:\n"
        "  - {id: d1.u1, type: cooler, name: C, points: {power: {write: coil 1}, summer_target: {register: holding 5}}}"
    )
    unit = profile.units[0]
    assert unit.points[Key.POWER].read_registers() == ()
    assert unit.points[Key.POWER].options() == ()
    assert unit.names == {"en": "C"}


# --- hostile documents -------------------------------------------------------

#: Nine lists of nine aliases of the list above: 9**9 (387 million) strings
#: once expanded, from 350 bytes ("billion laughs").
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
)

INTEGRATION = Path(__file__).parents[3] / "custom_components" / "smartcity_ddc"
_ISOLATED = """
import importlib, json, sys, time, tracemalloc, types
package = types.ModuleType('custom_components.smartcity_ddc')
package.__path__ = [sys.argv[1]]
sys.modules[package.__name__] = package
profile = importlib.import_module(
    'custom_components.smartcity_ddc.shelter.engine.profile'
)
errors = importlib.import_module('custom_components.smartcity_ddc.shelter.engine.errors')
if sys.argv[2] == 'pure':
    profile._LOADER = importlib.import_module('yaml').SafeLoader
text = sys.stdin.read()

def parse():
    try:
        profile.parse_profile_text(text)
    except errors.ProfileError as err:
        return [[issue.path, issue.message, issue.line] for issue in err.issues]
    return None

started = time.perf_counter()
issues = parse()
seconds = time.perf_counter() - started
tracemalloc.start()
parse()
print(json.dumps({
    'issues': issues, 'seconds': seconds, 'peak': tracemalloc.get_traced_memory()[1],
}))
"""


def parse_isolated(text: str, loader: str) -> dict[str, Any]:
    """Parse text in a child process limited to 512 MB and 20 s; return what happened.

    loader: "libyaml" (PyYAML's C parser, when installed) or "pure" (its Python one).
    """

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))

    result = subprocess.run(
        [sys.executable, "-c", _ISOLATED, str(INTEGRATION), loader],
        input=text,
        capture_output=True,
        text=True,
        timeout=20,
        preexec_fn=limit,
        cwd=INTEGRATION.parents[1],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            ALIAS_BOMB,
            f"more than {MAX_PROFILE_NODES} values once aliases are expanded",
            None,
        ),
        ("[" * 5000 + "]" * 5000, f"nested deeper than {MAX_PROFILE_DEPTH} levels", 1),
        (
            # The mapping of k15 is the 17th level, on line 17.
            "".join(f"{'  ' * n}k{n}:\n" for n in range(40)) + "  " * 40 + "x\n",
            f"nested deeper than {MAX_PROFILE_DEPTH} levels",
            17,
        ),
        ("units:\n  - ? [d011, u001]\n    : lighting\n", "a key must be a plain", 2),
        (
            "x: [" + ", ".join(["1"] * (MAX_PROFILE_NODES + 1)) + "]\n",
            f"more than {MAX_PROFILE_NODES} values",
            1,
        ),
        ("{[1, 2]: x}\n", "a key must be a plain value", 1),
        ("a: &a [*a]\n", f"nested deeper than {MAX_PROFILE_DEPTH} levels", 1),
        (
            "x: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n",
            f"more than {MAX_PROFILE_ALIASES} aliases",
            2,
        ),
        (
            "# " + "x" * MAX_PROFILE_CHARACTERS,
            f"at most {MAX_PROFILE_CHARACTERS} are accepted",
            None,
        ),
    ],
    ids=[
        "alias-bomb",
        "deep-flow",
        "deep-block",
        "list-key",
        "many-values",
        "flow-list-key",
        "recursive-alias",
        "many-aliases",
        "too-long",
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "pure"])
def test_hostile_documents_are_refused_at_once(
    text: str, message: str, line: int | None, loader: str
) -> None:
    outcome = parse_isolated(text, loader)
    assert outcome["issues"] is not None, "the document was accepted"
    [(_, found, found_line)] = outcome["issues"]
    assert message in found
    if line is not None:
        assert found_line == line
    # A few megabytes, whatever the document asks for; a parser working for
    # minutes would be stopped by the child's time limit (how fast the
    # refusal comes is a figure, not something to time here).
    assert outcome["peak"] < 16 << 20


def test_anchors_and_aliases_within_the_limits_still_work() -> None:
    text = """\
units:
  - id: d061.u001
    type: sensor
    name: &name {ko: 센서, en: Sensor}
    points: {co2: &co2 input 137}
  - id: d061.u002
    type: sensor
    name: *name
    points: {co2: *co2}
"""
    profile = load_profile(text)
    assert [unit.names for unit in profile.units] == [
        {"ko": "센서", "en": "Sensor"},
        {"ko": "센서", "en": "Sensor"},
    ]
    assert profile.units[1].points[Key.CO2].read == RegisterRef(RegisterKind.INPUT, 137)


def test_brackets_in_quoted_names_are_text_not_nesting() -> None:
    deep = "[" * 20 + "{" * 20
    text = (
        "units:\n"
        # '' is a quote inside single quotes; the scalar goes on after it.
        f"  - {{id: d1.u1, type: sensor, name: 'it''s {deep}', points: {{co2: input 1}}}}\n"
        # \" is a quote inside double quotes; \\ before the closing one is a backslash.
        f'  - {{id: d1.u2, type: sensor, name: "say \\"{deep}\\" \\\\", points: {{co2: input 2}}}}\n'
    )
    profile = load_profile(text)
    assert [unit.names for unit in profile.units] == [
        {"en": f"it's {deep}"},
        {"en": f'say "{deep}" \\'},
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # The quote after an escaped backslash closes the scalar.
        ('notes: "a \\\\"\nunits: ' + "[" * 20 + "\n", 2),
        # A quoted scalar over two lines moves the reported line on.
        ("notes: 'two\n  lines [[['\nunits: [" + "[" * 20 + "\n", 3),
    ],
    ids=["after-escaped-backslash", "after-multi-line-quote"],
)
def test_brackets_after_a_quoted_scalar_count(text: str, line: int) -> None:
    assert _issues(text) == [
        f"line {line}: nested deeper than {MAX_PROFILE_DEPTH} levels"
    ]


def test_a_control_character_is_named() -> None:
    # A profile pasted from a terminal may carry an escape the YAML reader refuses.
    [issue] = _issues("units:\n  - id: d1.u1\x07\n")
    assert "not valid YAML/JSON" in issue
    assert "#x0007" in issue
    assert "control characters are not allowed" in issue


def test_an_unclosed_quote_is_invalid_yaml_not_nesting() -> None:
    # Everything after an unclosed quote is the quote's text: the brackets
    # in it are not nesting, and the reader says what is wrong.
    [issue] = _issues('units: "' + "[" * 20 + "\n")
    assert "not valid YAML/JSON" in issue
    assert "nested" not in issue
