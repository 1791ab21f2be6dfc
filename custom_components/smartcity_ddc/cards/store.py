"""The card registry's file: written atomically and privately, and a write that failed raises."""

from __future__ import annotations

from collections.abc import Mapping
import contextlib
import os
from typing import Any, cast

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.json import save_json
from homeassistant.helpers.storage import STORAGE_DIR
from homeassistant.util.json import load_json

from ..const import DOMAIN
from .engine.errors import CardSyncStoreError
from .engine.sync import STORE_VERSION


# The sync deletes rows from the complex server only after its registry is on
# disk, so it must know a write failed. Home Assistant's Store logs and
# swallows a failed write and defers writes while Home Assistant stops; this
# file is written directly instead, in Store's format, so the same file loads
# after an update either way.
class CardsStore:
    """The registry of one card sync in .storage, readable by Home Assistant's Store."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Locate the entry's registry file."""
        self.hass = hass
        self.key = f"{DOMAIN}.cards_{entry_id}"
        self.path = hass.config.path(STORAGE_DIR, self.key)

    def _read(self) -> Mapping[str, Any] | None:
        """Read the document (blocking)."""
        document = load_json(self.path, default=None)
        if document is None:
            return None
        if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
            raise CardSyncStoreError(f"{self.path} is not a card registry")
        return cast("dict[str, Any]", document["data"])

    async def load(self) -> Mapping[str, Any] | None:
        """Return the stored registry, or None before the first sync."""
        try:
            return await self.hass.async_add_executor_job(self._read)
        except HomeAssistantError as err:
            raise CardSyncStoreError(str(err)) from err

    def _write(self, data: dict[str, Any]) -> None:
        """Write the document atomically with mode 0600, flushed to disk (blocking)."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        save_json(
            self.path,
            {
                "version": STORE_VERSION,
                "minor_version": 1,
                "key": self.key,
                "data": data,
            },
            True,
            atomic_writes=True,
        )

    async def save(self, data: dict[str, Any]) -> None:
        """Write the registry; raise CardSyncStoreError when it was not written."""
        try:
            await self.hass.async_add_executor_job(self._write, data)
        except (OSError, HomeAssistantError, RuntimeError) as err:
            raise CardSyncStoreError(
                f"the card registry was not written to disk: {err}"
            ) from err

    async def async_remove(self) -> None:
        """Delete the registry file (it holds personal data)."""

        def _unlink() -> None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

        await self.hass.async_add_executor_job(_unlink)
