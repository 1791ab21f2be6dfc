"""The deprecation check itself: it sees Home Assistant's reports and our warnings."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.loader import async_get_integration

from custom_components.smartcity_ddc.const import DOMAIN
from tests.deprecations import REPORTS, ROOT, warning_concerns_us


async def test_a_home_assistant_usage_report_about_us_is_collected(
    hass: HomeAssistant,
) -> None:
    await async_get_integration(hass, DOMAIN)
    before = len(REPORTS.reports)
    frame.report_usage(
        "uses the self-test of the deprecation check",
        breaks_in_ha_version="2099.1",
        integration_domain=DOMAIN,
    )
    found = REPORTS.reports[before:]
    # Expected here, not a finding: take it back out of the run's reports.
    del REPORTS.reports[before:]
    assert len(found) == 1
    assert "custom integration 'smartcity_ddc'" in found[0]
    assert "This will stop working in Home Assistant 2099.1" in found[0]


def test_which_python_warnings_concern_us() -> None:
    ours = str(ROOT / "custom_components" / "smartcity_ddc" / "coordinator.py")
    theirs = "/usr/lib/python3/site-packages/homeassistant/core.py"
    assert warning_concerns_us(DeprecationWarning, "use x instead", ours)
    assert warning_concerns_us(
        PendingDeprecationWarning, "custom_components.smartcity_ddc uses y", theirs
    )
    assert not warning_concerns_us(DeprecationWarning, "use x instead", theirs)
    assert not warning_concerns_us(UserWarning, "nothing deprecated", ours)
    assert not warning_concerns_us(
        DeprecationWarning, "x", str(ROOT / ".venv" / "lib" / "site.py")
    )
