"""The project's own Sungil DDC simulator: a real Modbus server on 127.0.0.1.

Independent of the integration: the register map is written here from the
SPEC, and the Modbus server is written on asyncio. Typical use::

    async with SimulatorServer(framer="tcp", auto_tick=False) as server:
        ddc = server.add_device(1, ShelterDdc(seed=1))
        ...  # connect a client to 127.0.0.1:server.port
"""

from .device import (
    COOLER_WINDOW_2,
    DO_PORTS,
    DeviceFaults,
    Kind,
    ModbusDevice,
    ModbusError,
    Port,
    ShelterDdc,
    Window,
)
from .meterbus import BusDevice, Dlt645Meter, MeterBusServer, MeterFaults
from .server import FramerName, ServerStats, SimulatorServer, crc16
from .water import WaterMeterBank

__all__ = [
    "COOLER_WINDOW_2",
    "DO_PORTS",
    "BusDevice",
    "DeviceFaults",
    "Dlt645Meter",
    "FramerName",
    "Kind",
    "MeterBusServer",
    "MeterFaults",
    "ModbusDevice",
    "ModbusError",
    "Port",
    "ServerStats",
    "ShelterDdc",
    "SimulatorServer",
    "WaterMeterBank",
    "Window",
    "crc16",
]
