"""YAML for Home Assistant's built-in `modbus` integration that mirrors this integration's entities.

Generated from a DDC profile (the standard shelter unless told otherwise), so
the benchmark compares the same units, registers and entities:

* relay power: a switch that writes the power coil and verifies the status
  input register; schedule mode: a switch on the mode holding register;
* the cooler: a climate with its current temperature, the summer/winter
  target per HVAC mode, the mode and fan-speed registers and the on/off coil;
* the ventilator: a fan on its power coil, its speed and mode read-backs as
  sensors;
* the air-quality sensor: sensors; the door external switches: binary
  sensors; every schedule window: four sensors (start/end hour/minute).

``grouped=True`` is the best a careful user can write: consecutive registers
of one device with the same type are read in one request (`virtual_count`,
`slave_count`) and the schedule sensors are polled as rarely as this
integration reads the windows. ``grouped=False`` is one entity per value, all
at one scan interval, as the built-in's documentation shows it.

What the built-in cannot express is listed in `NOT_EXPRESSIBLE`.

python -m devtools.modbus_yaml [--host H] [--port P] [--slaves 1,2] [--ungrouped]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

from custom_components.smartcity_ddc.line import ReadRequest, RegisterKind, RegisterRef
from custom_components.smartcity_ddc.shelter.engine.profile import (
    RELAY_TYPES,
    Key,
    Point,
    Profile,
    Unit,
    UnitType,
    ValueType,
    standard_profile,
)

#: What the standard shelter needs and the built-in `modbus` integration has no way to say.
NOT_EXPRESSIBLE: Final[tuple[str, ...]] = (
    "The power rule: the DDC ignores a power command while the unit follows "
    "its schedule. The built-in writes the coil anyway; the verify read shows "
    "the unchanged status and the user gets no error (and the coil keeps a "
    "command that takes effect later, when the unit goes manual).",
    "Mirrored read/write registers in the climate: the cooler's mode and fan "
    "speed are written to holding 122/123 and read back from input 116/117, "
    "where the LG unit reports what it runs. The built-in climate reads mode "
    "and fan from the registers it writes, so it shows the command, not the "
    "unit's state (a value the unit rejected still shows as set).",
    "The cooler's power status: the climate's on/off is read from the command "
    "coil 368, not from the status input 821, so in schedule mode it shows "
    "the last manual command instead of whether the cooler runs.",
    "Value maps outside the climate: the ventilator's speed (0 stop .. 3 high) "
    "and mode (1 manual .. 4 sleep) can only be raw numbers in sensors; the "
    "built-in fan is on/off only, with no speed or preset modes.",
    "Writing schedule windows: there is no time (or number) platform, so the "
    "hour/minute registers are read-only sensors; changing a window takes the "
    "modbus.write_register action with a raw address.",
    "Invalid values: a register outside its range (a mode of 9, an hour of "
    "25) is shown as a number or clamped by min/max, not as unavailable.",
    "Registers shared by two units (SPEC 3.6) are read once per entity; "
    "nothing warns that two units collide.",
    "Read planning: each entity reads its own registers; only consecutive "
    "registers of one type can share a request (virtual_count/slave_count), "
    "never a span with gaps, and a refused register fails its whole group.",
)

#: Modbus table -> the built-in's input_type / verify input_type.
_CALL_TYPE: Final = {
    RegisterKind.COIL: "coil",
    RegisterKind.DISCRETE: "discrete_input",
    RegisterKind.HOLDING: "holding",
    RegisterKind.INPUT: "input",
}

_AIR: Final[dict[Key, tuple[str | None, str | None]]] = {
    Key.PM10: ("pm10", "µg/m³"),
    Key.PM2_5: ("pm25", "µg/m³"),
    Key.PM1_0: ("pm1", "µg/m³"),
    Key.CO2: ("carbon_dioxide", "ppm"),
    Key.VOC: ("volatile_organic_compounds_parts", "ppb"),
    Key.TEMPERATURE: ("temperature", "°C"),
    Key.HUMIDITY: ("humidity", "%"),
}

_HVAC_STATES: Final = {
    "cool": "state_cool",
    "dry": "state_dry",
    "fan_only": "state_fan_only",
    "auto": "state_heat_cool",
    "heat": "state_heat",
}
_FAN_STATES: Final = {
    "low": "state_fan_low",
    "medium": "state_fan_medium",
    "high": "state_fan_high",
    "auto": "state_fan_auto",
}
# The built-in climate's target register list is indexed by HVAC mode in this order.
_TARGET_ORDER: Final = ("auto", "cool", "dry", "fan_only", "heat", "heat_cool", "off")


@dataclass(frozen=True, slots=True)
class Hub:
    """One Modbus TCP gateway (a line) and the DDC slave ids behind it."""

    name: str
    host: str
    port: int
    slaves: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Sensor:
    """One value the built-in shows as a sensor."""

    key: str
    name: str
    point: Point
    scan_interval: int
    device_class: str | None = None
    unit: str | None = None


def _reads(point: Point) -> RegisterRef:
    """Return the register a point is read from."""
    if point.read is None:
        raise ValueError(f"{point.name} is not readable")
    return point.read


def _writes(point: Point) -> RegisterRef:
    """Return the register a point is written to."""
    if point.write is None:
        raise ValueError(f"{point.name} is not writable")
    return point.write


def _ids(hub: Hub, slave: int, unit: Unit, key: str) -> tuple[str, str]:
    """Return (unique id, name) of an entity; names are unique across hubs, as the built-in requires."""
    return (
        f"{hub.name}_s{slave}_{unit.uid}_{key}",
        f"{hub.name} S{slave} {unit.uid} {key.replace('_', ' ')}",
    )


def _sensor_conf(
    hub: Hub, slave: int, unit: Unit, sensors: Sequence[_Sensor]
) -> dict[str, Any]:
    """Return one sensor entry reading a run of consecutive registers."""
    first = sensors[0]
    point = first.point
    read = _reads(point)
    unique_id, name = _ids(hub, slave, unit, first.key)
    conf: dict[str, Any] = {
        "name": name,
        "unique_id": unique_id,
        "slave": slave,
        "address": read.address,
        "input_type": _CALL_TYPE[read.kind],
        "data_type": "int16" if point.value_type is ValueType.INT16 else "uint16",
        "scan_interval": first.scan_interval,
    }
    if point.scale != 1:
        conf["scale"] = point.scale
        conf["precision"] = 1
    if first.device_class:
        conf["device_class"] = first.device_class
    if first.unit:
        conf["unit_of_measurement"] = first.unit
        conf["state_class"] = "measurement"
    if len(sensors) > 1:
        conf["virtual_count"] = len(sensors) - 1
    return conf


def _runs(sensors: Sequence[_Sensor], grouped: bool) -> Iterator[list[_Sensor]]:
    """Split sensors into runs the built-in can read in one request."""
    run: list[_Sensor] = []
    for sensor in sorted(sensors, key=lambda s: _reads(s.point)):
        if run and grouped:
            last, this = run[-1], sensor
            if (
                _reads(this.point).kind is _reads(last.point).kind
                and _reads(this.point).address == _reads(last.point).address + 1
                and (this.point.value_type, this.point.scale, this.scan_interval)
                == (last.point.value_type, last.point.scale, last.scan_interval)
            ):
                run.append(sensor)
                continue
        if run:
            yield run
        run = [sensor]
    if run:
        yield run


def _unit_entities(
    hub: Hub,
    slave: int,
    unit: Unit,
    *,
    scan_interval: int,
    slow_interval: int,
    grouped: bool,
) -> dict[str, list[dict[str, Any]]]:
    """Return the built-in entities of one unit, by platform key."""
    out: dict[str, list[dict[str, Any]]] = {}
    points = unit.points
    sensors: list[_Sensor] = []
    power = points.get(Key.POWER)
    if (
        unit.type in RELAY_TYPES
        and unit.type is not UnitType.EXTERNALSW
        and power is not None
        and power.write is not None
        and power.read is not None
    ):
        unique_id, name = _ids(hub, slave, unit, "power")
        out.setdefault("switches", []).append(
            {
                "name": name,
                "unique_id": unique_id,
                "slave": slave,
                "address": power.write.address,
                "write_type": "coil",
                "scan_interval": scan_interval,
                "verify": {
                    "address": power.read.address,
                    "input_type": _CALL_TYPE[power.read.kind],
                    "state_on": 1,
                    "state_off": 0,
                },
            }
        )
    if (auto := points.get(Key.AUTO)) is not None and auto.write is not None:
        unique_id, name = _ids(hub, slave, unit, "auto")
        out.setdefault("switches", []).append(
            {
                "name": name,
                "unique_id": unique_id,
                "slave": slave,
                "address": auto.write.address,
                "write_type": "holding",
                "scan_interval": scan_interval,
                "verify": {"input_type": "holding"},
            }
        )
    if unit.type is UnitType.COOLER:
        out.setdefault("climates", []).append(_climate(hub, slave, unit, scan_interval))
    if unit.type is UnitType.EXCHANGER and power is not None:
        unique_id, name = _ids(hub, slave, unit, "fan")
        out.setdefault("fans", []).append(
            {
                "name": name,
                "unique_id": unique_id,
                "slave": slave,
                "address": _writes(power).address,
                "write_type": "coil",
                "scan_interval": scan_interval,
                "verify": {
                    "address": _reads(power).address,
                    "input_type": _CALL_TYPE[_reads(power).kind],
                },
            }
        )
        sensors += [
            _Sensor(key.value, key.value, points[key], scan_interval)
            for key in (Key.SPEED, Key.MODE)
            if key in points
        ]
    if unit.type is UnitType.SENSOR:
        sensors += [
            _Sensor(key.value, key.value, points[key], scan_interval, *_AIR[key])
            for key in _AIR
            if key in points
        ]
    if unit.type is UnitType.EXTERNALSW and power is not None:
        unique_id, name = _ids(hub, slave, unit, "pressed")
        out.setdefault("binary_sensors", []).append(
            {
                "name": name,
                "unique_id": unique_id,
                "slave": slave,
                "address": _reads(power).address,
                "input_type": _CALL_TYPE[_reads(power).kind],
                "scan_interval": scan_interval,
            }
        )
    for number, window in enumerate(unit.windows, start=1):
        for field, point in zip(
            ("start_hour", "start_minute", "end_hour", "end_minute"),
            window.points(),
            strict=True,
        ):
            key = f"window{number}_{field}"
            sensors.append(
                _Sensor(key, key, point, slow_interval if grouped else scan_interval)
            )
    for run in _runs(sensors, grouped):
        out.setdefault("sensors", []).append(_sensor_conf(hub, slave, unit, run))
    return out


def _climate(hub: Hub, slave: int, unit: Unit, scan_interval: int) -> dict[str, Any]:
    """Return the built-in climate of the cooler/heater."""
    points = unit.points
    current = points[Key.CURRENT_TEMPERATURE]
    summer = points[Key.SUMMER_TARGET]
    winter = points.get(Key.WINTER_TARGET, summer)
    unique_id, name = _ids(hub, slave, unit, "climate")
    conf: dict[str, Any] = {
        "name": name,
        "unique_id": unique_id,
        "slave": slave,
        "address": _reads(current).address,
        "input_type": _CALL_TYPE[_reads(current).kind],
        "data_type": "int16",
        "scale": current.scale,
        "precision": 1,
        "scan_interval": scan_interval,
        # The DDC uses the winter target in heat and the summer target otherwise.
        "target_temp_register": [
            _writes(winter if mode == "heat" else summer).address
            for mode in _TARGET_ORDER
        ],
        "min_temp": summer.minimum if summer.minimum is not None else 16,
        "max_temp": summer.maximum if summer.maximum is not None else 30,
        "temp_step": 0.5,
    }
    if (power := points.get(Key.POWER)) is not None and power.write is not None:
        conf["hvac_onoff_coil"] = power.write.address
    if (mode := points.get(Key.MODE)) is not None and mode.write is not None:
        assert mode.value_map is not None
        conf["hvac_mode_register"] = {
            "address": mode.write.address,
            "values": {_HVAC_STATES[v]: raw for raw, v in mode.value_map.items()},
        }
    if (speed := points.get(Key.SPEED)) is not None and speed.write is not None:
        assert speed.value_map is not None
        conf["fan_mode_register"] = {
            "address": speed.write.address,
            "values": {_FAN_STATES[v]: raw for raw, v in speed.value_map.items()},
        }
    return conf


def modbus_config(
    hubs: Sequence[Hub],
    profile: Profile | None = None,
    *,
    scan_interval: int = 10,
    slow_interval: int = 300,
    grouped: bool = True,
    timeout: int = 3,
) -> list[dict[str, Any]]:
    """Return the `modbus:` configuration for every DDC behind every hub."""
    profile = profile or standard_profile()
    config = []
    for hub in hubs:
        entry: dict[str, Any] = {
            "name": hub.name,
            "type": "tcp",
            "host": hub.host,
            "port": hub.port,
            "timeout": timeout,
        }
        for slave in hub.slaves:
            for unit in profile.units:
                for key, entities in _unit_entities(
                    hub,
                    slave,
                    unit,
                    scan_interval=scan_interval,
                    slow_interval=slow_interval,
                    grouped=grouped,
                ).items():
                    entry.setdefault(key, []).extend(entities)
        config.append(entry)
    return config


def to_yaml(config: list[dict[str, Any]]) -> str:
    """Render a `modbus:` configuration as YAML."""
    return yaml.safe_dump({"modbus": config}, sort_keys=False, allow_unicode=True)


def entity_count(config: list[dict[str, Any]]) -> int:
    """Return how many entities Home Assistant creates (virtual sensors included)."""
    total = 0
    for hub in config:
        for key in ("switches", "climates", "fans", "sensors", "binary_sensors"):
            for entity in hub.get(key, []):
                total += 1 + entity.get("virtual_count", entity.get("slave_count", 0))
    return total


def reads_of(platform: str, entity: dict[str, Any]) -> list[ReadRequest]:
    """Return the requests one update of a built-in entity sends (modbus 2025.4)."""
    kinds = {value: kind for kind, value in _CALL_TYPE.items()}
    if platform in ("switches", "fans"):
        verify = entity["verify"]
        kind = kinds[verify.get("input_type", entity["write_type"])]
        return [ReadRequest(kind, verify.get("address", entity["address"]), 1)]
    if platform == "climates":
        reads = [
            ReadRequest(RegisterKind.HOLDING, entity["target_temp_register"][0], 1),
            ReadRequest(kinds[entity["input_type"]], entity["address"], 1),
        ]
        if "hvac_mode_register" in entity:
            reads.append(
                ReadRequest(
                    RegisterKind.HOLDING, entity["hvac_mode_register"]["address"], 1
                )
            )
        if "fan_mode_register" in entity:
            reads.append(
                ReadRequest(
                    RegisterKind.HOLDING, entity["fan_mode_register"]["address"], 1
                )
            )
        if "hvac_onoff_coil" in entity:
            reads.append(ReadRequest(RegisterKind.COIL, entity["hvac_onoff_coil"], 1))
        return reads
    count = 1 + entity.get("virtual_count", entity.get("slave_count", 0))
    return [ReadRequest(kinds[entity["input_type"]], entity["address"], count)]


def reads_per_slave(
    config: list[dict[str, Any]], hub_name: str, slave: int
) -> list[tuple[ReadRequest, int]]:
    """Return (request, scan interval) for one update of every entity of one DDC."""
    hub = next(h for h in config if h["name"] == hub_name)
    return [
        (request, entity["scan_interval"])
        for key in ("switches", "climates", "fans", "sensors", "binary_sensors")
        for entity in hub.get(key, [])
        if entity["slave"] == slave
        for request in reads_of(key, entity)
    ]


def main(argv: list[str] | None = None) -> None:
    """Print the YAML for one gateway."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=502)
    parser.add_argument("--slaves", default="1", help="comma-separated slave ids")
    parser.add_argument("--scan-interval", type=int, default=10)
    parser.add_argument(
        "--ungrouped",
        action="store_true",
        help="one entity per value, every entity at --scan-interval",
    )
    args = parser.parse_args(argv)
    hub = Hub(
        "ddc",
        args.host,
        args.port,
        tuple(int(slave) for slave in args.slaves.split(",")),
    )
    config = modbus_config(
        [hub], scan_interval=args.scan_interval, grouped=not args.ungrouped
    )
    print("# Generated by python -m devtools.modbus_yaml")
    print("# What this configuration cannot express:")
    for line in NOT_EXPRESSIBLE:
        print(f"#  - {line}")
    print(to_yaml(config), end="")


if __name__ == "__main__":
    main()
