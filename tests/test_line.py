"""The shared line's log manners: it mutes pymodbus's repeats of what it reports itself,
for its own requests only — another pymodbus user (Home Assistant's modbus) keeps its logs."""

from __future__ import annotations

import logging

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
import pytest

from custom_components.smartcity_ddc.line import (
    UNIT_KEYWORD,
    LineConfig,
    LineTimeoutError,
    ModbusLine,
    ReadRequest,
    RegisterKind,
    Transport,
)
from devtools.simulator import ShelterDdc, SimulatorServer


def _pymodbus_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("pymodbus") and record.levelno >= logging.ERROR
    ]


async def test_only_our_own_requests_are_muted(
    simulator: SimulatorServer, ddc: ShelterDdc, caplog: pytest.LogCaptureFixture
) -> None:
    ddc.faults.silent = True
    caplog.set_level(logging.DEBUG, logger="pymodbus")
    # Another user of pymodbus, as Home Assistant's modbus integration is.
    other = AsyncModbusTcpClient(
        "127.0.0.1", port=simulator.port, timeout=0.3, retries=0, reconnect_delay=0
    )
    await other.connect()
    with pytest.raises(ModbusIOException):
        await other.read_holding_registers(352, count=1, **{UNIT_KEYWORD: 1})
    other.close()
    theirs = _pymodbus_errors(caplog)
    assert theirs, "pymodbus logged nothing about its own timeout"

    caplog.clear()
    line = ModbusLine(
        LineConfig(
            transport=Transport.TCP, host="127.0.0.1", port=simulator.port, timeout=0.3
        ),
        retries=0,
    )
    with pytest.raises(LineTimeoutError):
        await line.read(1, ReadRequest(RegisterKind.HOLDING, 352, 1))
    await line.retire()
    # The line reports the timeout itself (typed error, logged once by its user).
    assert _pymodbus_errors(caplog) == []
