"""Admission: the gate in front of an async pool's queue, as pure state (`_core/admission.py`).

The shell's side is played by hand: a "waker" is a plain object, and waking it means the
waiter it belongs to may go in. A hypothesis state machine checks that no place is lost or
made up whatever the order of arrivals, departures, wakes and give-ups, and that waiters go in
in the order they queued.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from httplib._core.admission import (
    ADMISSION_BURST,
    ADMISSION_FLOOR,
    Admission,
    Waiter,
    admission_for,
    admission_timed_out,
    admission_timeout,
)


def test_requests_go_in_at_once_up_to_the_burst_then_queue() -> None:
    gate = Admission(limit=2, burst=4)
    assert [gate.enter() for _ in range(5)] == [True, True, True, True, False]
    assert gate.inside == 4


def test_a_queue_drains_the_inside_down_to_the_limit_before_anyone_goes_in() -> None:
    gate = Admission(limit=2, burst=4)
    for _ in range(4):
        assert gate.enter()
    first, second = gate.join("w1"), gate.join("w2")
    # 4 inside, limit 2: the first two to leave free no place for the queue...
    assert gate.leave() is None
    assert gate.leave() is None
    # ...and while some wait, a newcomer queues behind them even below the burst.
    assert not gate.enter()
    third = gate.join("w3")
    assert gate.leave() == "w1"
    assert first.admitted
    assert not second.admitted
    assert gate.inside == 2
    assert gate.leave() == "w2"
    assert gate.give_up(third) is None  # (it never went in: nothing to hand on)
    assert gate.leave() is None
    assert gate.waiting == 0
    # Nobody waits: the burst is open again.
    assert gate.enter()
    assert gate.enter()
    assert gate.enter()


def test_a_waiter_let_in_that_gives_up_hands_its_place_on() -> None:
    gate = Admission(limit=1)
    assert gate.enter()
    first, second = gate.join("w1"), gate.join("w2")
    assert gate.leave() == "w1"
    # Cancelled after it was woken, before it ran: its place goes to the next one.
    assert gate.give_up(first) == "w2"
    assert second.admitted
    assert gate.give_up(second) is None  # (`leave` would do the same: nobody waits)
    assert gate.inside == 0


def test_waiters_that_gave_up_are_skipped_and_cost_a_newcomer_nothing() -> None:
    gate = Admission(limit=1)
    assert gate.enter()
    gone = [gate.join(f"w{i}") for i in range(1000)]
    for waiter in gone:
        assert gate.give_up(waiter) is None
    assert gate.leave() is None
    assert gate.enter()  # (the queue of given-up waiters is dropped, not walked per call)
    assert gate.waiting == 0


def test_the_gate_scales_with_the_pool_and_is_off_without_a_connection_limit() -> None:
    assert admission_for(None) is None
    small = admission_for(10)
    assert small is not None
    assert (small.limit, small.burst) == (ADMISSION_FLOOR, ADMISSION_BURST)
    large = admission_for(5000)
    assert large is not None
    assert large.limit == 5000
    assert large.burst >= 10 * 5000
    with pytest.raises(ValueError, match="room for one request"):
        Admission(0)


def test_the_wait_at_the_gate_is_bounded_by_the_pool_timeout_or_a_shorter_deadline() -> None:
    assert admission_timeout(None) == (None, False)
    assert admission_timeout({"pool": 5.0, "read": 1.0}) == (5.0, False)
    assert admission_timeout({"pool": 5.0, "total": 2.0}) == (2.0, True)
    assert admission_timeout({"pool": 1.0, "total": 2.0}) == (1.0, False)
    assert admission_timeout({"pool": None, "total": 2.0}) == (2.0, True)
    assert str(admission_timed_out({"pool": 1.0}, False)) == (
        "Timed out waiting for a connection from the pool."
    )
    assert "total deadline of 2.0 s" in str(admission_timed_out({"total": 2.0}, True))


class AdmissionMachine(RuleBasedStateMachine):
    """Requests arrive, go in or queue; those inside leave; wakes are delivered late (the
    shell's task runs some time after it is woken); waiters give up at any point."""

    def __init__(self) -> None:
        super().__init__()
        self.limit = 2
        self.gate = Admission(limit=self.limit, burst=4)
        self.count = 0
        self.inside: set[int] = set()  # requests holding a place
        self.queued: list[tuple[int, Waiter]] = []  # in arrival order, not yet woken
        self.woken: list[tuple[int, Waiter]] = []  # woken, their task not yet run
        self.let_in_order: list[int] = []

    def _deliver(self, waker: object) -> None:
        if waker is None:
            return
        for i, (number, waiter) in enumerate(self.queued):
            if waiter.waker == waker:
                self.woken.append(self.queued.pop(i))
                self.let_in_order.append(number)
                return
        raise AssertionError(f"woke {waker!r}, which is not queued")

    @rule()
    def arrive(self) -> None:
        self.count += 1
        if self.gate.enter():
            assert not [w for _, w in self.queued if w.state == 0], "overtook a waiter"
            self.inside.add(self.count)
        else:
            self.queued.append((self.count, self.gate.join(f"waker{self.count}")))

    @precondition(lambda self: self.inside)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        number = data.draw(st.sampled_from(sorted(self.inside)))
        self.inside.remove(number)
        self._deliver(self.gate.leave())

    @precondition(lambda self: self.woken)
    @rule(data=st.data())
    def woken_task_runs(self, data: st.DataObject) -> None:
        number, waiter = self.woken.pop(data.draw(st.integers(0, len(self.woken) - 1)))
        assert waiter.admitted
        self.inside.add(number)

    @precondition(lambda self: self.queued or self.woken)
    @rule(data=st.data())
    def give_up(self, data: st.DataObject) -> None:
        pool = self.queued + self.woken
        number, waiter = data.draw(st.sampled_from(pool))
        if (number, waiter) in self.queued:
            self.queued.remove((number, waiter))
        else:
            self.woken.remove((number, waiter))  # (its place was handed to it: it goes on)
        self._deliver(self.gate.give_up(waiter))

    @invariant()
    def places_are_conserved(self) -> None:
        assert self.gate.inside == len(self.inside) + len(self.woken)
        assert self.gate.inside <= self.gate.burst

    @invariant()
    def nobody_waits_while_a_place_below_the_limit_is_free(self) -> None:
        if self.queued:
            assert self.gate.inside >= self.limit
        assert self.gate.waiting == len(self.queued)

    @invariant()
    def waiters_go_in_in_arrival_order(self) -> None:
        assert self.let_in_order == sorted(self.let_in_order)


AdmissionMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=40)
test_admission_machine = AdmissionMachine.TestCase
