"""Entities of a card sync: all on the sync's one device."""

from __future__ import annotations

from ..entity import SmartCityEntity
from .coordinator import CardsCoordinator


class CardsEntity(SmartCityEntity[CardsCoordinator]):
    """An entity of a card sync; its figures come from the local registry."""

    @property
    def available(self) -> bool:
        """Stay available while the server is down: the registry is local."""
        return True
