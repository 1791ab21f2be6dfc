"""The built-in modbus configuration the benchmark generates is valid and equivalent."""

from __future__ import annotations

from homeassistant.components.modbus import CONFIG_SCHEMA
import yaml

from devtools.modbus_yaml import (
    Hub,
    entity_count,
    main,
    modbus_config,
    reads_per_slave,
    to_yaml,
)

HUBS = [Hub("gw1", "127.0.0.1", 5020, (1, 2)), Hub("gw2", "127.0.0.1", 5021, (1,))]


def test_configuration_passes_home_assistants_schema() -> None:
    for grouped in (True, False):
        config = modbus_config(HUBS, grouped=grouped)
        validated = CONFIG_SCHEMA(yaml.safe_load(to_yaml(config)))
        assert len(validated["modbus"]) == 2
        names = [
            entity["name"]
            for hub in config
            for key in ("switches", "climates", "fans", "sensors", "binary_sensors")
            for entity in hub.get(key, [])
        ]
        # The built-in drops an entity whose name it has seen on any hub.
        assert len(names) == len(set(names))


def test_entities_match_the_integrations_units() -> None:
    config = modbus_config([Hub("gw1", "127.0.0.1", 5020, (1,))])
    hub = config[0]
    # 8 relay power switches and 12 follow-schedule switches.
    assert len(hub["switches"]) == 20
    climate = hub["climates"][0]
    assert climate["hvac_onoff_coil"] == 368
    assert climate["hvac_mode_register"]["address"] == 122
    assert climate["target_temp_register"] == [125, 125, 125, 125, 126, 125, 125]
    assert [fan["address"] for fan in hub["fans"]] == [370]
    bench = next(
        s for s in hub["switches"] if s["unique_id"].endswith("d041_u001_power")
    )
    assert (bench["address"], bench["verify"]["address"]) == (372, 825)
    assert entity_count(config) == 85


def test_grouping_reads_consecutive_registers_together() -> None:
    hub = Hub("gw1", "127.0.0.1", 5020, (1,))
    grouped = reads_per_slave(modbus_config([hub]), "gw1", 1)
    single = reads_per_slave(modbus_config([hub], grouped=False), "gw1", 1)
    assert len(single) == 89
    assert all(interval == 10 for _request, interval in single)
    fast = [request for request, interval in grouped if interval == 10]
    assert len(fast) == 32
    assert len(grouped) - len(fast) == 52  # schedule registers every 5 minutes
    air = next(r for r in fast if r.start == 134)
    assert air.count == 5  # PM10, PM2.5, PM1.0, CO2, VOC in one request


def test_cli_prints_yaml_with_what_it_cannot_express(capsys) -> None:
    main(["--port", "5020", "--slaves", "3"])
    out = capsys.readouterr().out
    assert "# What this configuration cannot express:" in out
    config = yaml.safe_load(out)
    assert {entity["slave"] for entity in config["modbus"][0]["sensors"]} == {3}
