"""What a meter site is made of, as its subentries configure it, and what its entities show.

Plain data: the coordinator builds these from the entry and fills the views;
entities, the credit book and the diagnostics read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import ConfigEntry

from ..const import CONF_SLAVE, DOMAIN
from ..helpers import line_config
from ..line import LineConfig, ReadRequest, RegisterKind
from .const import (
    CONF_ADDRESS,
    CONF_BUS,
    CONF_ENTITY,
    CONF_GAP_HOURS,
    CONF_LEAK_THRESHOLD,
    CONF_LOW_CREDIT,
    CONF_MAX_POWER,
    CONF_MEDIUM,
    CONF_METER_ID,
    CONF_METER_PASSWORD,
    CONF_OPERATOR_CODE,
    CONF_PREPAID,
    CONF_Q3,
    CONF_Q4,
    CONF_REGISTER,
    CONF_REGISTER_KIND,
    CONF_RELAY_CONTROL,
    CONF_SCALE,
    CONF_SOURCE,
    CONF_TARIFF,
    CONF_VERSION,
    CONF_WORD_ORDER,
    DEFAULT_GAP_HOURS,
    DEFAULT_SCALE,
    SUBENTRY_METER,
    MeterSource,
)
from .engine.model import (
    DEFAULT_LEAK_THRESHOLD,
    DEFAULT_MAX_POWER,
    DEFAULT_Q3,
    DEFAULT_Q4,
    PROBLEMS,
    Medium,
    Rules,
    Status,
)
from .engine.prepaid import CreditUnit
from .engine.stats import MeterSpec, MeterSummary, SiteAggregate


@dataclass(frozen=True, slots=True)
class PrepaidConfig:
    """A prepaid meter's credit settings."""

    #: What its credit is counted in: money, or kWh (electricity meters only).
    unit: CreditUnit
    #: Money per kWh, to bring money top-ups and metered energy to one unit.
    tariff: float | None
    #: At or below this credit (in the unit) the meter shows low credit.
    threshold: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterConfig:
    """One meter as its subentry configures it."""

    meter_id: str
    name: str
    subentry_id: str | None = None
    medium: Medium = Medium.WATER
    max_power: float = DEFAULT_MAX_POWER
    q3: float = DEFAULT_Q3
    q4: float = DEFAULT_Q4
    source: MeterSource = MeterSource.PUSH
    entity_id: str | None = None
    line: LineConfig | None = None
    slave: int = 1
    register: int = 0
    register_kind: RegisterKind = RegisterKind.HOLDING
    scale: float = DEFAULT_SCALE
    word_order: str = "big"
    #: A bus meter: its bus (the bus subentry's id), address and protocol version.
    bus_id: str | None = None
    address: str = ""
    version: int = 2007
    #: The supply relay may be switched (off unless the site asks for it),
    #: with the meter's password and operator code.
    relay_control: bool = False
    meter_password: str = field(default="", repr=False)
    operator_code: str = field(default="", repr=False)
    prepaid: PrepaidConfig | None = None

    @property
    def problems(self) -> tuple[Status, ...]:
        """Return the problems this meter's status can show."""
        low_credit = (Status.LOW_CREDIT,) if self.prepaid is not None else ()
        return (*PROBLEMS[self.medium], *low_credit)

    @property
    def on_bus(self) -> bool:
        """Return True for a meter read over an RS-485 meter bus (DL/T645, M-Bus)."""
        return self.source in (MeterSource.DLT645, MeterSource.MBUS)

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, name: str, subentry_id: str | None = None
    ) -> MeterConfig:
        """Build from a meter subentry's data and title."""
        source = MeterSource(data.get(CONF_SOURCE, MeterSource.PUSH))
        return cls(
            meter_id=data[CONF_METER_ID],
            name=name,
            subentry_id=subentry_id,
            medium=Medium(data.get(CONF_MEDIUM, Medium.WATER)),
            max_power=float(data.get(CONF_MAX_POWER, DEFAULT_MAX_POWER)),
            q3=float(data.get(CONF_Q3, DEFAULT_Q3)),
            q4=float(data.get(CONF_Q4, DEFAULT_Q4)),
            source=source,
            entity_id=data.get(CONF_ENTITY),
            line=line_config(data) if source is MeterSource.MODBUS else None,
            slave=int(data.get(CONF_SLAVE, 1)),
            register=int(data.get(CONF_REGISTER, 0)),
            register_kind=RegisterKind(
                data.get(CONF_REGISTER_KIND, RegisterKind.HOLDING)
            ),
            scale=float(data.get(CONF_SCALE, DEFAULT_SCALE)),
            word_order=data.get(CONF_WORD_ORDER, "big"),
            bus_id=data.get(CONF_BUS),
            address=str(data.get(CONF_ADDRESS, "")),
            version=int(data.get(CONF_VERSION, 2007)),
            relay_control=bool(data.get(CONF_RELAY_CONTROL, False)),
            meter_password=str(data.get(CONF_METER_PASSWORD, "")),
            operator_code=str(data.get(CONF_OPERATOR_CODE, "")),
            prepaid=None
            if data.get(CONF_PREPAID, "none") == "none"
            else PrepaidConfig(
                unit=CreditUnit(data[CONF_PREPAID]),
                tariff=None
                if data.get(CONF_TARIFF) in (None, "")
                else float(data[CONF_TARIFF]),
                threshold=float(data.get(CONF_LOW_CREDIT, 0)),
            ),
        )

    @property
    def part(self) -> str:
        """Return what the meter adds to its device identifier and unique ids."""
        return f"{self.medium}_{self.meter_id}"

    @property
    def statistic_id(self) -> str:
        """Return the external statistic of the meter's hourly usage (water_… or electricity_…)."""
        return f"{DOMAIN}:{self.part}"

    @property
    def spec(self) -> MeterSpec:
        """Return what the engine needs to know of the meter's ratings."""
        return MeterSpec(
            q3=self.q3, q4=self.q4, medium=self.medium, max_power=self.max_power
        )

    @property
    def index_request(self) -> ReadRequest:
        """Return the read of the meter's two index registers."""
        return ReadRequest(self.register_kind, self.register, 2)


def meter_configs(entry: ConfigEntry) -> list[MeterConfig]:
    """Return the meters of a site: one per meter subentry."""
    return [
        MeterConfig.from_data(
            subentry.data, name=subentry.title, subentry_id=subentry.subentry_id
        )
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_METER
    ]


def site_rules(options: Mapping[str, Any]) -> Rules:
    """Return the status thresholds of an entry's options (leak threshold is stored in L/h)."""
    return Rules(
        gap=int(float(options.get(CONF_GAP_HOURS, DEFAULT_GAP_HOURS)) * 3600),
        leak_threshold=float(
            options.get(CONF_LEAK_THRESHOLD, DEFAULT_LEAK_THRESHOLD * 1000)
        )
        / 1000,
    )


@dataclass(frozen=True, slots=True)
class MeterLive:
    """What a meter on a bus reported with its last read, besides its index."""

    #: The meter's own active power (kW), voltage (V) and current (A).
    power: float | None = None
    voltage: float | None = None
    current: float | None = None
    #: Credit the meter keeps itself: energy (kWh) and money left.
    remaining_energy: float | None = None
    remaining_money: float | None = None
    #: The supply relay: closed (True), open (False), unknown (None).
    relay_closed: bool | None = None
    #: An M-Bus meter's error flags (0: none).
    error_flags: int | None = None


@dataclass(frozen=True, slots=True)
class PrepaidState:
    """A prepaid meter's credit, worked out from the meter or from the ledger."""

    #: Credit left, in money or kWh (the ledger's unit); None when unknown.
    balance: float | None
    #: Days the credit lasts at the 7-day average usage; None when unknown.
    days_left: float | None
    low: bool
    unit: CreditUnit = CreditUnit.MONEY
    #: Where the balance comes from: "meter" (its own register) or "ledger".
    source: str | None = None


@dataclass(frozen=True, slots=True)
class MeterView:
    """Everything one meter's entities show."""

    summary: MeterSummary
    live: MeterLive = field(default_factory=MeterLive)
    prepaid: PrepaidState | None = None
    #: A bus meter's latest read: "ok" or what went wrong (None before the first).
    read_status: str | None = None


@dataclass(frozen=True, slots=True)
class MetersData:
    """What the entities of a meter site show."""

    meters: Mapping[str, MeterView]
    #: The 검침집계 of today and yesterday, per medium.
    aggregates: Mapping[Medium, tuple[SiteAggregate, SiteAggregate]]
    #: Meters whose view changed in this update; None means all of them.
    changed: frozenset[str] | None = None
