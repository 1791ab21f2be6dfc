"""Time entities of every job: the entry's job builds them."""

from homeassistant.const import Platform

from .jobs import platform_setup

PARALLEL_UPDATES = 1

async_setup_entry = platform_setup(Platform.TIME)
