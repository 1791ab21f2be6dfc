"""Read planning: cover the registers a poll needs in the cheapest requests.

Each Modbus request costs a fixed overhead on the wire (request frame,
response header and CRC, the 3.5-character silences, the device's turnaround)
plus its payload. Reading a few unneeded registers between two needed ones is
cheaper than a second request, up to a point; an exact dynamic program per
register table finds the cheapest split, within the protocol's limits and
never across an address the device is known to refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
import itertools
import math
from typing import TYPE_CHECKING

from ...line import (
    DEFAULT_WIRE,
    MAX_READ,
    ReadRequest,
    RegisterKind,
    RegisterRef,
    WireModel,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_WIRE", "MAX_READ", "WireModel", "plan_reads"]


@dataclass(frozen=True, slots=True)
class _Atom:
    """Registers that must be read together (a 32-bit value), or one register."""

    start: int
    end: int
    isolated: bool


def _atoms(
    spans: Iterable[tuple[int, int]], refused: frozenset[int], limit: int
) -> list[_Atom]:
    """Merge spans into sorted atoms; isolate atoms holding a refused address.

    Needed registers that touch each other are one atom (up to the request
    limit): reading them together always costs less than splitting them, and
    it keeps the dynamic program small even for thousands of coils.
    """
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    atoms: list[_Atom] = []
    for start, end in merged:
        isolated = any(start <= address <= end for address in refused)
        if isolated:
            # Read a refused value alone, but keep the registers around it in
            # their own atoms so they still arrive.
            inside = sorted(a for a in refused if start <= a <= end)
            atoms.extend(_Atom(a, a, isolated=True) for a in inside)
            cursor = start
            for address in inside:
                if cursor < address:
                    atoms.append(_Atom(cursor, address - 1, isolated=False))
                cursor = address + 1
            if cursor <= end:
                atoms.append(_Atom(cursor, end, isolated=False))
            continue
        last = atoms[-1] if atoms else None
        if (
            last is not None
            and not last.isolated
            and last.end + 1 == start
            and end - last.start < limit
        ):
            atoms[-1] = _Atom(last.start, end, isolated=False)
        else:
            atoms.append(_Atom(start, end, isolated=False))
    return sorted(atoms, key=lambda atom: atom.start)


def plan_reads(
    spans: Iterable[tuple[RegisterRef, int]],
    *,
    refused: Iterable[RegisterRef] = (),
    bad_gaps: Iterable[tuple[RegisterKind, int, int]] = (),
    wire: WireModel = DEFAULT_WIRE,
    limits: Mapping[RegisterKind, int] = MAX_READ,
) -> tuple[ReadRequest, ...]:
    """Plan the cheapest requests that read every span exactly once.

    spans: (first register, length) of each value to read; a 32-bit value is
    one span of length 2 and is never split across requests.
    refused: needed registers the device refused; each is read on its own so
    the rest of its block still arrives (and its recovery is noticed).
    bad_gaps: (kind, first, last) address ranges between needed registers that
    made a bridged request fail; no request reads across them.
    """
    by_kind: dict[RegisterKind, list[tuple[int, int]]] = {}
    for ref, length in spans:
        by_kind.setdefault(ref.kind, []).append((ref.address, ref.address + length - 1))
    refused_by_kind: dict[RegisterKind, set[int]] = {}
    for ref in refused:
        refused_by_kind.setdefault(ref.kind, set()).add(ref.address)
    gaps_by_kind: dict[RegisterKind, list[tuple[int, int]]] = {}
    for kind, first, last in bad_gaps:
        gaps_by_kind.setdefault(kind, []).append((first, last))

    plan: list[ReadRequest] = []
    for kind in sorted(by_kind):
        atoms = _atoms(
            by_kind[kind], frozenset(refused_by_kind.get(kind, ())), limits[kind]
        )
        plan.extend(
            _plan_kind(kind, atoms, gaps_by_kind.get(kind, []), wire, limits[kind])
        )
    return tuple(plan)


def _plan_kind(
    kind: RegisterKind,
    atoms: list[_Atom],
    bad_gaps: list[tuple[int, int]],
    wire: WireModel,
    limit: int,
) -> list[ReadRequest]:
    """Exact DP over atoms: best[j] = cheapest cover of atoms[:j]; a block is atoms[i:j]."""
    count = len(atoms)
    best = [0.0] + [math.inf] * count
    cut = [0] * (count + 1)
    # A block may not grow across a gap that holds a refused address.
    blocked = [
        any(
            first <= right.start - 1 and left.end + 1 <= last
            for first, last in bad_gaps
        )
        for left, right in itertools.pairwise(atoms)
    ]
    for j in range(1, count + 1):
        last = atoms[j - 1]
        for i in range(j - 1, -1, -1):
            first = atoms[i]
            span = last.end - first.start + 1
            if span > limit:
                break
            if i < j - 1 and (first.isolated or last.isolated or blocked[i]):
                # An isolated atom is read alone, and a bad gap is never read.
                break
            cost = best[i] + wire.request_time(kind, span)
            if cost < best[j]:
                best[j], cut[j] = cost, i
    requests: list[ReadRequest] = []
    j = count
    while j > 0:
        i = cut[j]
        requests.append(
            ReadRequest(kind, atoms[i].start, atoms[j - 1].end - atoms[i].start + 1)
        )
        j = i
    requests.reverse()
    return requests
