"""Read planner: exact coverage, protocol limits, learned refusals, cost."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from custom_components.smartcity_ddc.line import ReadRequest, RegisterKind, RegisterRef
from custom_components.smartcity_ddc.shelter.engine.client import DdcClient
from custom_components.smartcity_ddc.shelter.engine.planner import (
    MAX_READ,
    WireModel,
    plan_reads,
)
from custom_components.smartcity_ddc.shelter.engine.profile import standard_profile

KINDS = st.sampled_from(list(RegisterKind))


def _covered(plan: tuple[ReadRequest, ...]) -> list[RegisterRef]:
    return [RegisterRef(r.kind, r.start + i) for r in plan for i in range(r.count)]


@st.composite
def spans(draw: st.DrawFn) -> list[tuple[RegisterRef, int]]:
    """Random needed values: mostly single registers, some 32-bit pairs."""
    items = draw(
        st.lists(
            st.tuples(KINDS, st.integers(0, 5000), st.sampled_from([1, 1, 1, 2])),
            min_size=1,
            max_size=60,
        )
    )
    return [
        (RegisterRef(kind, address), length if not kind.is_bit else 1)
        for kind, address, length in items
    ]


@settings(max_examples=300, deadline=None)
@given(spans(), st.floats(0.0, 0.2))
def test_every_needed_register_is_read_exactly_once_within_limits(
    needed: list[tuple[RegisterRef, int]], turnaround: float
) -> None:
    plan = plan_reads(needed, wire=WireModel(turnaround=turnaround))
    covered = _covered(plan)
    # No register is read twice...
    assert len(covered) == len(set(covered))
    # ...every needed register is read...
    for ref, length in needed:
        for offset in range(length):
            assert RegisterRef(ref.kind, ref.address + offset) in covered
    # ...a multi-register value never straddles two requests...
    for ref, length in needed:
        holders = {
            i
            for i, r in enumerate(plan)
            for o in range(length)
            if RegisterRef(ref.kind, ref.address + o) in r
        }
        assert len(holders) == 1
    # ...every request respects the protocol limit and starts and ends on a needed register.
    needed_refs = {
        RegisterRef(ref.kind, ref.address + o)
        for ref, length in needed
        for o in range(length)
    }
    for request in plan:
        assert 1 <= request.count <= MAX_READ[request.kind]
        assert RegisterRef(request.kind, request.start) in needed_refs
        assert RegisterRef(request.kind, request.end) in needed_refs


@settings(max_examples=200, deadline=None)
@given(spans(), st.data())
def test_refused_registers_are_read_alone_and_bad_gaps_never_crossed(
    needed: list[tuple[RegisterRef, int]], data: st.DataObject
) -> None:
    # Registers that are only ever needed on their own (not half of a 32-bit value).
    pairs = {
        RegisterRef(ref.kind, ref.address + o)
        for ref, length in needed
        if length == 2
        for o in (0, 1)
    }
    refs = sorted({ref for ref, length in needed if length == 1} - pairs)
    refused = (
        data.draw(st.lists(st.sampled_from(refs), max_size=3, unique=True))
        if refs
        else []
    )
    kind = data.draw(KINDS)
    first = data.draw(st.integers(0, 5000))
    gap = (kind, first, first + data.draw(st.integers(0, 30)))
    plan = plan_reads(needed, refused=refused, bad_gaps=[gap])
    for ref in refused:
        holder = next(r for r in plan if ref in r)
        assert holder.count == 1
    needed_refs = {
        RegisterRef(ref.kind, ref.address + o)
        for ref, length in needed
        for o in range(length)
    }
    for request in plan:
        if request.kind is not kind:
            continue
        for address in range(max(request.start, gap[1]), min(request.end, gap[2]) + 1):
            # A request may only touch a bad gap's addresses that it needs.
            assert RegisterRef(kind, address) in needed_refs


def test_gap_is_bridged_only_while_cheaper_than_a_new_request() -> None:
    wire = WireModel(turnaround=0.0)
    ref = RegisterRef(RegisterKind.HOLDING, 100)
    # The fixed cost of a request is 20 characters; each bridged register costs 2.
    near = plan_reads(
        [(ref, 1), (RegisterRef(RegisterKind.HOLDING, 109), 1)], wire=wire
    )
    far = plan_reads([(ref, 1), (RegisterRef(RegisterKind.HOLDING, 111), 1)], wire=wire)
    assert near == (ReadRequest(RegisterKind.HOLDING, 100, 10),)
    assert far == (
        ReadRequest(RegisterKind.HOLDING, 100, 1),
        ReadRequest(RegisterKind.HOLDING, 111, 1),
    )


def test_limits_split_long_runs() -> None:
    needed = [(RegisterRef(RegisterKind.INPUT, address), 1) for address in range(300)]
    plan = plan_reads(needed)
    assert [r.count for r in plan] == [125, 125, 50]
    coils = [(RegisterRef(RegisterKind.COIL, address), 1) for address in range(4001)]
    assert [r.count for r in plan_reads(coils)] == [2000, 2000, 1]


def test_standard_shelter_full_poll_needs_five_requests() -> None:
    client = DdcClient(line=None, slave=1, profile=standard_profile())  # type: ignore[arg-type]
    full = client.plan(full=True)
    live = client.plan(full=False)
    assert len(full) == 5
    assert len(live) <= len(full)
    # The live poll leaves the schedule windows out.
    assert sum(r.count for r in live) < sum(r.count for r in full)


def test_wire_model_minimum_is_a_lower_bound() -> None:
    client = DdcClient(line=None, slave=1, profile=standard_profile())  # type: ignore[arg-type]
    wire = WireModel()
    registers = client.registers(full=True)
    assert wire.minimum_time(registers) <= wire.plan_time(client.plan(full=True))
    # One request per value, as a hand-written YAML configuration would do, costs far more.
    naive = [ReadRequest(ref.kind, ref.address, 1) for ref in registers]
    assert wire.plan_time(naive) > 5 * wire.plan_time(client.plan(full=True))
