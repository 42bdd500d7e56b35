"""PoolState: limits, fairness, HTTP/2 sharing, cancellation and expiry, with a fake clock."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from httplib._config import Limits
from httplib._core.pool import (
    Action,
    Close,
    ConnectionState,
    PoolConnection,
    PoolState,
    Ticket,
    TicketStatus,
    Wake,
)
from httplib._core.resend import can_retry_stale_connection, is_idempotent
from httplib._models import Request

READY = TicketStatus.READY
CONNECT = TicketStatus.CONNECT
WAITING = TicketStatus.WAITING
DONE = TicketStatus.DONE
A, B, C = ("https", "a.test", 443), ("https", "b.test", 443), ("http", "c.test", 80)


def make_pool(
    max_connections: int | None = None,
    max_keepalive: int | None = None,
    expiry: float | None = 5.0,
) -> PoolState:
    limits = Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive,
        keepalive_expiry=expiry,
    )
    return PoolState(limits)


def woken(actions: Sequence[Action]) -> list[Ticket]:
    return [a.ticket for a in actions if isinstance(a, Wake)]


def closed(actions: Sequence[Action]) -> list[PoolConnection]:
    return [a.entry for a in actions if isinstance(a, Close)]


def acquire(pool: PoolState, key: Hashable, now: float = 0.0, *, h2: bool = False) -> Ticket:
    """Acquire, expecting no side actions."""
    ticket, actions = pool.acquire(key, now, may_be_http2=h2)
    assert actions == []
    return ticket


def open_conn(
    pool: PoolState, key: Hashable, now: float = 0.0, *, h2: bool = False, streams: int = 1
) -> Ticket:
    """Acquire a fresh connection and report it connected."""
    ticket = acquire(pool, key, now, h2=h2)
    assert ticket.status is CONNECT
    assert ticket.entry is not None
    pool.connected(ticket.entry, now, max_streams=streams)
    assert ticket.status is READY
    return ticket


def assert_empty(pool: PoolState) -> None:
    counts = pool.counts()
    assert counts["streams"] == 0
    assert counts["waiting"] == 0
    assert counts["connecting"] == 0
    assert counts["draining"] == 0
    assert pool.n_connections == pool.n_idle


# ------------------------------------------------------------------------------ basic reuse


def test_new_connection_then_reuse_of_the_same_entry() -> None:
    pool = make_pool()
    first = open_conn(pool, A)
    assert pool.release(first, 1.0) == []
    assert pool.n_idle == 1
    second = acquire(pool, A, 2.0)
    assert second.status is READY
    assert second.entry is first.entry
    assert pool.n_idle == 0


def test_reuse_is_lifo_most_recently_released_first() -> None:
    pool = make_pool()
    t1, t2 = open_conn(pool, A), open_conn(pool, A)
    pool.release(t1, 1.0)
    pool.release(t2, 2.0)
    assert acquire(pool, A, 3.0).entry is t2.entry
    assert acquire(pool, A, 3.0).entry is t1.entry


def test_keys_never_share_connections() -> None:
    pool = make_pool()
    pool.release(open_conn(pool, A), 1.0)
    other = acquire(pool, B, 1.0)
    assert other.status is CONNECT
    assert other.entry is not None
    assert other.entry.key == B
    assert pool.n_connections == 2


# ----------------------------------------------------------------------- limits and fairness


def test_max_connections_queues_waiters_and_serves_them_fifo_across_keys() -> None:
    pool = make_pool(max_connections=2)
    ta, tb = open_conn(pool, A), open_conn(pool, B)
    waiters = [acquire(pool, C), acquire(pool, B), acquire(pool, A)]
    assert [t.status for t in waiters] == [WAITING] * 3
    assert pool.n_waiting == 3

    # A's connection goes idle; the oldest waiter (for C) evicts it to open its own.
    actions = pool.release(ta, 1.0)
    assert woken(actions) == [waiters[0]]
    assert closed(actions) == [ta.entry]
    assert waiters[0].status is CONNECT

    # B's connection is handed straight to the next waiter, which wants B.
    actions = pool.release(tb, 2.0)
    assert woken(actions) == [waiters[1]]
    assert closed(actions) == []
    assert waiters[1].entry is tb.entry
    assert waiters[2].status is WAITING
    assert pool.n_connections == 2


def test_acquire_does_not_overtake_queued_waiters() -> None:
    pool = make_pool(max_connections=1)
    holder = open_conn(pool, A)
    first = acquire(pool, B)
    second = acquire(pool, A)
    actions = pool.release(holder, 1.0)
    assert woken(actions) == [first]
    assert second.status is WAITING


def test_max_keepalive_counts_idle_connections_only() -> None:
    pool = make_pool(max_keepalive=1)
    tickets = [open_conn(pool, A) for _ in range(3)]
    assert pool.n_connections == 3  # active connections are not capped by keep-alive
    assert pool.release(tickets[0], 1.0) == []
    assert closed(pool.release(tickets[1], 2.0)) == [tickets[0].entry]
    assert closed(pool.release(tickets[2], 3.0)) == [tickets[1].entry]
    assert pool.connections() == [tickets[2].entry]


def test_zero_keepalive_closes_each_released_connection() -> None:
    pool = make_pool(max_keepalive=0)
    ticket = open_conn(pool, A)
    assert closed(pool.release(ticket, 1.0)) == [ticket.entry]
    assert pool.n_connections == 0


def test_zero_keepalive_still_hands_the_connection_to_a_waiter() -> None:
    pool = make_pool(max_connections=1, max_keepalive=0)
    holder = open_conn(pool, A)
    waiter = acquire(pool, A)
    actions = pool.release(holder, 1.0)
    assert woken(actions) == [waiter]
    assert closed(actions) == []
    assert waiter.entry is holder.entry


def test_full_pool_evicts_the_oldest_idle_connection_of_another_key() -> None:
    pool = make_pool(max_connections=2)
    ta, tb = open_conn(pool, A), open_conn(pool, B)
    pool.release(ta, 1.0)
    pool.release(tb, 2.0)
    ticket, actions = pool.acquire(C, 3.0)
    assert ticket.status is CONNECT
    assert closed(actions) == [ta.entry]
    assert ta.entry is not None
    assert ta.entry.state is ConnectionState.CLOSED


# ------------------------------------------------------------------------------------ expiry


def test_keepalive_expiry_with_a_fake_clock() -> None:
    pool = make_pool(expiry=5.0)
    ticket = open_conn(pool, A)
    pool.release(ticket, 10.0)
    assert pool.expire(15.0) == []  # idle exactly 5 s: not longer than the expiry
    assert closed(pool.expire(15.5)) == [ticket.entry]
    assert pool.n_connections == 0


def test_expiry_is_lazy_on_acquire() -> None:
    pool = make_pool(expiry=5.0)
    old = open_conn(pool, A)
    pool.release(old, 0.0)
    fresh, actions = pool.acquire(A, 6.0)
    assert closed(actions) == [old.entry]
    assert fresh.status is CONNECT


def test_expiry_closes_only_connections_past_their_time() -> None:
    pool = make_pool(expiry=5.0)
    tickets = [open_conn(pool, key) for key in (A, B, C)]
    for when, ticket in enumerate(tickets):
        pool.release(ticket, float(when))
    assert closed(pool.expire(6.5)) == [tickets[0].entry, tickets[1].entry]
    assert pool.connections() == [tickets[2].entry]


def test_no_expiry_keeps_idle_connections_forever() -> None:
    pool = make_pool(expiry=None)
    pool.release(open_conn(pool, A), 0.0)
    assert pool.expire(1e9) == []
    assert acquire(pool, A, 1e9).status is READY


def test_reuse_restarts_the_idle_clock() -> None:
    pool = make_pool(expiry=5.0)
    ticket = open_conn(pool, A)
    pool.release(ticket, 0.0)
    again = acquire(pool, A, 4.0)
    pool.release(again, 8.0)
    assert pool.expire(12.0) == []
    assert closed(pool.expire(13.5)) == [ticket.entry]


def test_a_connection_found_fresh_once_is_still_expired_later() -> None:
    """The pool remembers until when no idle connection can have expired (so the usual reuse
    skips the check); past that time, reuse and return look again."""
    pool = make_pool(expiry=5.0)
    older, newer = open_conn(pool, A), open_conn(pool, A)
    pool.release(older, 0.0)
    pool.release(newer, 3.0)
    again = acquire(pool, A, 4.0)  # fresh until 5.0 (the older one's expiry)
    assert again.entry is newer.entry
    assert pool.release(again, 4.5) == []
    reused, actions = pool.acquire(A, 6.0)
    assert closed(actions) == [older.entry]
    assert reused.entry is newer.entry
    pool.release(reused, 6.0)
    late, actions = pool.acquire(A, 11.5)
    assert closed(actions) == [newer.entry]
    assert late.status is CONNECT


# ------------------------------------------------------------------------------------ HTTP/2


def test_http2_requests_wait_for_the_connecting_connection_and_share_it() -> None:
    pool = make_pool(max_connections=1)
    opener = acquire(pool, A, h2=True)
    followers = [acquire(pool, A, h2=True) for _ in range(3)]
    assert [t.status for t in followers] == [WAITING] * 3
    assert pool.n_connections == 1
    assert opener.entry is not None

    actions = pool.connected(opener.entry, 1.0, max_streams=3)
    assert woken(actions) == followers[:2]
    assert all(t.entry is opener.entry for t in followers[:2])
    assert opener.entry.active_streams == 3

    actions = pool.release(followers[0], 2.0)
    assert woken(actions) == [followers[2]]
    assert followers[2].entry is opener.entry


def test_http2_at_capacity_opens_another_connection_when_allowed() -> None:
    pool = make_pool()
    opener = acquire(pool, A, h2=True)
    followers = [acquire(pool, A, h2=True) for _ in range(2)]
    assert opener.entry is not None
    actions = pool.connected(opener.entry, 1.0, max_streams=2)
    assert woken(actions) == followers
    assert followers[0].entry is opener.entry
    assert followers[1].status is CONNECT
    assert followers[1].entry is not opener.entry


def test_http2_connection_with_spare_capacity_serves_new_requests_immediately() -> None:
    pool = make_pool(max_connections=1)
    first = open_conn(pool, A, h2=True, streams=100)
    others = [acquire(pool, A, h2=True) for _ in range(10)]
    assert all(t.status is READY and t.entry is first.entry for t in others)
    assert first.entry is not None
    assert first.entry.active_streams == 11
    assert pool.n_idle == 0
    for ticket in [first, *others]:
        pool.release(ticket, 2.0)
    assert pool.n_idle == 1
    assert first.entry.active_streams == 0


def test_http11_negotiated_sends_parked_requests_to_open_in_parallel() -> None:
    pool = make_pool(max_connections=3)
    opener = acquire(pool, A, h2=True)
    followers = [acquire(pool, A, h2=True) for _ in range(3)]
    assert opener.entry is not None
    actions = pool.connected(opener.entry, 1.0, max_streams=1)
    assert woken(actions) == followers[:2]
    assert [t.status for t in followers] == [CONNECT, CONNECT, WAITING]
    assert not any(t.may_be_http2 for t in followers)
    assert pool.n_connections == 3


def test_parked_request_takes_an_idle_connection_of_its_key() -> None:
    pool = make_pool()
    plain = open_conn(pool, A)  # an HTTP/1.1 connection of the same key, busy
    opener = acquire(pool, A, h2=True)
    parked = acquire(pool, A, h2=True)
    assert parked.status is WAITING
    actions = pool.release(plain, 1.0)
    assert woken(actions) == [parked]
    assert parked.entry is plain.entry
    assert opener.entry is not None
    assert woken(pool.connected(opener.entry, 2.0, max_streams=10)) == []


def test_queued_http2_request_reaching_the_head_waits_for_the_connect_in_progress() -> None:
    pool = make_pool(max_connections=2)
    ta, tc = open_conn(pool, A), open_conn(pool, C)
    first, second = acquire(pool, B, h2=True), acquire(pool, B, h2=True)
    assert woken(pool.release(ta, 1.0)) == [first]
    assert first.status is CONNECT
    # A slot frees while B's connect is in progress: the next B request waits to share it.
    assert pool.release(tc, 2.0) == []
    assert second.status is WAITING
    assert pool.n_connections == 2
    assert first.entry is not None
    assert woken(pool.connected(first.entry, 3.0, max_streams=10)) == [second]
    assert second.entry is first.entry


def test_settings_change_limits_and_then_frees_streams() -> None:
    pool = make_pool(max_connections=1)
    first = open_conn(pool, A, h2=True, streams=3)
    second = acquire(pool, A, h2=True)
    assert first.entry is not None
    assert pool.settings_changed(first.entry, 1) == []
    waiter = acquire(pool, A, h2=True)
    assert waiter.status is WAITING
    assert pool.release(second, 1.0) == []  # 1 stream left, still at the new limit
    actions = pool.settings_changed(first.entry, 4)
    assert woken(actions) == [waiter]
    assert waiter.entry is first.entry


def test_settings_zero_on_an_idle_connection_stops_its_reuse() -> None:
    pool = make_pool()
    ticket = open_conn(pool, A, h2=True, streams=5)
    pool.release(ticket, 1.0)
    assert ticket.entry is not None
    pool.settings_changed(ticket.entry, 0)
    fresh = acquire(pool, A, 2.0)
    assert fresh.status is CONNECT
    assert fresh.entry is not ticket.entry
    assert pool.n_idle == 1  # still idle, and still subject to expiry
    assert closed(pool.expire(10.0)) == [ticket.entry]


def test_full_pool_replaces_an_unusable_idle_connection_of_the_same_key() -> None:
    pool = make_pool(max_connections=1)
    old = open_conn(pool, A, h2=True, streams=5)
    pool.release(old, 1.0)
    assert old.entry is not None
    pool.settings_changed(old.entry, 0)
    fresh, actions = pool.acquire(A, 2.0, may_be_http2=True)
    assert closed(actions) == [old.entry]
    assert fresh.entry is not None
    pool.connected(fresh.entry, 2.0, max_streams=5)
    pool.release(fresh, 3.0)
    again = acquire(pool, A, 4.0, h2=True)
    assert again.status is READY
    assert again.entry is fresh.entry


def test_draining_connection_takes_no_new_streams_and_closes_after_the_last() -> None:
    pool = make_pool()
    first = open_conn(pool, A, h2=True, streams=10)
    second = acquire(pool, A, h2=True)
    assert first.entry is not None
    assert pool.draining(first.entry) == []
    third = acquire(pool, A, h2=True)
    assert third.status is CONNECT
    assert third.entry is not first.entry
    assert pool.release(first, 1.0) == []
    assert closed(pool.release(second, 2.0)) == [first.entry]


def test_draining_an_idle_connection_closes_it_and_serves_a_waiter() -> None:
    pool = make_pool(max_connections=1)
    ticket = open_conn(pool, A, h2=True, streams=10)
    pool.release(ticket, 1.0)
    assert ticket.entry is not None
    assert closed(pool.draining(ticket.entry)) == [ticket.entry]
    assert pool.n_connections == 0


def test_not_reusable_release_closes_once_other_streams_finish() -> None:
    pool = make_pool()
    first = open_conn(pool, A, h2=True, streams=10)
    second = acquire(pool, A, h2=True)
    assert pool.release(first, 1.0, reusable=False) == []
    assert acquire(pool, A, h2=True).entry is not first.entry
    assert closed(pool.release(second, 2.0)) == [first.entry]


# ------------------------------------------------------------------- cancellation and failure


def test_cancel_while_waiting_removes_the_waiter() -> None:
    pool = make_pool(max_connections=1)
    holder = open_conn(pool, A)
    waiter = acquire(pool, B)
    assert pool.cancel(waiter, 1.0) == []
    assert pool.n_waiting == 0
    assert pool.release(holder, 2.0) == []
    assert waiter.status is DONE


def test_cancel_while_connecting_closes_it_and_lets_the_next_waiter_open() -> None:
    pool = make_pool(max_connections=1)
    opener = acquire(pool, A)
    waiter = acquire(pool, B)
    actions = pool.cancel(opener, 1.0)
    assert closed(actions) == [opener.entry]
    assert woken(actions) == [waiter]
    assert waiter.status is CONNECT
    # The cancelled connect finishing late is told to close its socket.
    assert opener.entry is not None
    assert closed(pool.connected(opener.entry, 2.0, max_streams=1)) == [opener.entry]


def test_cancel_of_the_http2_opener_hands_the_connect_to_a_parked_request() -> None:
    pool = make_pool(max_connections=1)
    opener = acquire(pool, A, h2=True)
    parked = [acquire(pool, A, h2=True) for _ in range(2)]
    actions = pool.cancel(opener, 1.0)
    assert woken(actions) == [parked[0]]
    assert parked[0].status is CONNECT
    assert parked[1].status is WAITING
    assert parked[0].entry is not None
    assert woken(pool.connected(parked[0].entry, 2.0, max_streams=5)) == [parked[1]]


def test_cancel_after_assignment_before_waking_passes_the_connection_on() -> None:
    pool = make_pool(max_connections=1)
    holder = open_conn(pool, A)
    late, nxt = acquire(pool, A), acquire(pool, A)
    assert woken(pool.release(holder, 1.0)) == [late]
    # `late` was assigned but its task was cancelled before it woke up.
    actions = pool.cancel(late, 1.5)
    assert woken(actions) == [nxt]
    assert nxt.entry is holder.entry


def test_cancel_while_active_then_not_reusable_release_closes_and_frees_the_slot() -> None:
    pool = make_pool(max_connections=1)
    active = open_conn(pool, A)
    waiter = acquire(pool, A)
    actions = pool.release(active, 1.0, reusable=False)
    assert closed(actions) == [active.entry]
    assert woken(actions) == [waiter]
    assert waiter.status is CONNECT


def test_cancel_is_idempotent_and_double_release_is_an_error() -> None:
    pool = make_pool()
    ticket = open_conn(pool, A)
    pool.release(ticket, 1.0)
    assert pool.cancel(ticket, 1.0) == []
    with pytest.raises(RuntimeError, match="Cannot release"):
        pool.release(ticket, 1.0)
    assert pool.n_idle == 1
    assert pool.counts()["streams"] == 0


def test_connect_failure_hands_the_slot_to_the_next_waiter() -> None:
    pool = make_pool(max_connections=1)
    failing = acquire(pool, A)
    waiter = acquire(pool, A)
    assert failing.entry is not None
    actions = pool.connect_failed(failing.entry, 1.0)
    assert failing.status is DONE
    assert closed(actions) == []
    assert woken(actions) == [waiter]
    assert waiter.status is CONNECT
    assert waiter.entry is not failing.entry
    assert pool.n_connections == 1


def test_connect_failure_of_http2_opener_retries_with_one_parked_request() -> None:
    pool = make_pool()
    opener = acquire(pool, A, h2=True)
    parked = [acquire(pool, A, h2=True) for _ in range(3)]
    assert opener.entry is not None
    actions = pool.connect_failed(opener.entry, 1.0)
    assert woken(actions) == [parked[0]]
    assert [t.status for t in parked] == [CONNECT, WAITING, WAITING]
    assert pool.n_connections == 1
    assert pool.n_waiting == 2


@pytest.mark.parametrize("stage", ["waiting", "connecting", "assigned", "active"])
def test_cancellation_at_every_stage_never_leaks_a_slot(stage: str) -> None:
    pool = make_pool(max_connections=2, max_keepalive=1)
    keys = [A, B, C]
    now = 0.0
    for cycle in range(200):
        now += 0.25
        holders = [acquire_and_connect(pool, keys[(cycle + i) % 3], now) for i in range(2)]
        # A victim for a third key must open a connection; for a holder's key it gets reuse.
        victim_key = keys[(cycle + 2) % 3] if stage == "connecting" else keys[cycle % 3]
        victim, _ = pool.acquire(victim_key, now)
        assert victim.status is WAITING
        if stage == "waiting":
            pool.cancel(victim, now)
        for holder in holders:
            pool.release(holder, now)
        expected = {"waiting": DONE, "connecting": CONNECT}.get(stage, READY)
        assert victim.status is expected
        if stage == "active":
            pool.release(victim, now, reusable=False)
        else:
            pool.cancel(victim, now)
        assert victim.status is DONE
        assert_empty(pool)
        assert pool.n_connections <= 1


def acquire_and_connect(pool: PoolState, key: Hashable, now: float) -> Ticket:
    """Acquire for `key` on a pool with room or idle connections, connecting if needed."""
    ticket, _ = pool.acquire(key, now)
    if ticket.status is CONNECT:
        assert ticket.entry is not None
        pool.connected(ticket.entry, now, max_streams=1)
    assert ticket.status is READY
    return ticket


# --------------------------------------------------------------------------------- closing


def test_close_all_rejects_waiters_and_closes_connections() -> None:
    pool = make_pool(max_connections=2)
    busy = open_conn(pool, A)
    idle = open_conn(pool, B)
    pool.release(idle, 1.0)
    waiter, actions = pool.acquire(C, 1.0)
    assert waiter.status is CONNECT
    assert closed(actions) == [idle.entry]
    queued = acquire(pool, C)
    actions = pool.close_all()
    assert woken(actions) == [queued]
    assert queued.status is TicketStatus.REJECTED
    assert set(closed(actions)) == {busy.entry, waiter.entry}
    assert waiter.status is TicketStatus.REJECTED
    assert waiter.entry is not None
    assert closed(pool.connected(waiter.entry, 2.0, max_streams=1)) == [waiter.entry]
    assert pool.release(busy, 2.0) == []
    assert pool.n_connections == 0
    assert pool.is_closed
    with pytest.raises(RuntimeError, match="pool is closed"):
        pool.acquire(A, 3.0)


def test_a_pool_holds_nothing_until_a_request_asks() -> None:
    pool = make_pool(max_connections=1)
    assert pool.holds_nothing()
    acquire(pool, A)
    assert not pool.holds_nothing()
    pool.close_all()
    assert pool.holds_nothing()


# ---------------------------------------------------------------------- validation and repr


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_connected_rejects_bad_max_streams(value: object, error: type[Exception]) -> None:
    pool = make_pool()
    ticket = acquire(pool, A)
    assert ticket.entry is not None
    with pytest.raises(error, match=repr(value).replace(".", r"\.")):
        pool.connected(ticket.entry, 0.0, max_streams=value)  # type: ignore[arg-type]


def test_connected_twice_is_an_error() -> None:
    pool = make_pool()
    ticket = open_conn(pool, A)
    assert ticket.entry is not None
    with pytest.raises(RuntimeError, match="called twice"):
        pool.connected(ticket.entry, 0.0, max_streams=1)


def test_counts_and_repr_describe_the_pool() -> None:
    pool = make_pool(max_connections=2)
    open_conn(pool, A)
    acquire(pool, B)
    acquire(pool, C)
    assert pool.counts() == {
        "connecting": 1,
        "ready": 1,
        "draining": 0,
        "idle": 0,
        "waiting": 1,
        "streams": 2,
    }
    assert repr(pool) == (
        "<PoolState connections=2 connecting=1 ready=1 idle=0 draining=0 streams=2 waiting=1>"
    )


# ------------------------------------------------------------------ stale-connection retries


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "get"])
def test_idempotent_methods_are_idempotent(method: str) -> None:
    assert is_idempotent(Request(method, "http://example.org/"))


@pytest.mark.parametrize("method", ["POST", "PATCH", "CONNECT"])
def test_other_methods_are_idempotent_only_with_an_idempotency_key(method: str) -> None:
    assert not is_idempotent(Request(method, "http://example.org/"))
    assert not is_idempotent(Request(method, "http://example.org/", headers={"Key": "k"}))
    for field in ("Idempotency-Key", "idempotency-key", "X-Idempotency-Key"):
        keyed = Request(method, "http://example.org/", headers={field: '"8e03978e"'})
        assert is_idempotent(keyed)


def test_stale_reused_connection_resend_rule() -> None:
    common = {"connection_reused": True, "response_started": False}
    assert can_retry_stale_connection(True, body_sent=True, **common)
    # Not idempotent: only when no byte of its body left (the server cannot have acted on it).
    assert can_retry_stale_connection(False, body_sent=False, **common)
    assert not can_retry_stale_connection(False, body_sent=True, **common)


def test_no_retry_on_fresh_connection_or_after_response_bytes() -> None:
    assert not can_retry_stale_connection(
        True, connection_reused=False, response_started=False, body_sent=False
    )
    assert not can_retry_stale_connection(
        True, connection_reused=True, response_started=True, body_sent=False
    )


# --------------------------------------------------------------------- random event sequences

ALIVE = (READY, CONNECT)


class PoolMachine(RuleBasedStateMachine):
    """Random acquire/connect/release/cancel/expiry/GOAWAY sequences keep every pool invariant."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = make_pool()
        self.max_connections: int | None = None
        self.max_keepalive: int | None = None
        self.now = 0.0
        self.tickets: list[Ticket] = []
        self.served_at_once: set[Ticket] = set()
        self.woken: set[Ticket] = set()
        self.closed: set[PoolConnection] = set()
        self.h2_entries: set[PoolConnection] = set()
        # A fresh ticket's forbidden connections: those already open when it asked.
        self.not_for: dict[Ticket, set[PoolConnection]] = {}

    @initialize(
        max_connections=st.sampled_from([1, 2, 3, None]),
        max_keepalive=st.sampled_from([0, 1, 2, None]),
        expiry=st.sampled_from([None, 0.5, 2.0]),
    )
    def configure(
        self, max_connections: int | None, max_keepalive: int | None, expiry: float | None
    ) -> None:
        self.pool = make_pool(max_connections, max_keepalive, expiry)
        self.max_connections, self.max_keepalive = max_connections, max_keepalive

    # -- bookkeeping

    def apply(self, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Wake):
                ticket = action.ticket
                assert ticket not in self.woken, f"{ticket!r} woken twice"
                assert ticket not in self.served_at_once, f"{ticket!r} was never waiting"
                self.woken.add(ticket)
                assert ticket.status in ALIVE
                self.check_fresh_stream(ticket)
                self.check_fresh_connection(ticket)
            else:
                assert action.entry not in self.closed, f"{action.entry!r} closed twice"
                assert action.entry.state is ConnectionState.CLOSED
                self.closed.add(action.entry)

    def check_fresh_stream(self, ticket: Ticket) -> None:
        entry = ticket.entry
        assert entry is not None
        if ticket.status is READY:
            assert entry.state is ConnectionState.READY
            assert entry.active_streams <= entry.max_streams
        else:
            assert entry.state is ConnectionState.CONNECTING

    def check_fresh_connection(self, ticket: Ticket) -> None:
        """A fresh ticket never gets a connection that was open (not connecting) when it asked."""
        if ticket in self.not_for:
            assert ticket.entry not in self.not_for[ticket], f"{ticket!r} got an old connection"

    def holding(self, *statuses: TicketStatus) -> list[Ticket]:
        return [t for t in self.tickets if t.status in statuses]

    def ready_entries(self) -> list[PoolConnection]:
        # Ordered by ticket (not a set) so that Hypothesis draws replay deterministically.
        entries = dict.fromkeys(t.entry for t in self.holding(READY))
        return [e for e in entries if e is not None and e.state is ConnectionState.READY]

    # -- rules

    @rule(key=st.sampled_from([A, B, C]), h2=st.booleans(), fresh=st.booleans())
    def acquire(self, key: Hashable, h2: bool, fresh: bool) -> None:
        old = {e for e in self.pool.connections() if e.state is not ConnectionState.CONNECTING}
        ticket, actions = self.pool.acquire(key, self.now, may_be_http2=h2, fresh=fresh)
        self.tickets.append(ticket)
        if fresh:
            self.not_for[ticket] = old
        if ticket.status is not WAITING:
            self.served_at_once.add(ticket)
            self.check_fresh_stream(ticket)
            self.check_fresh_connection(ticket)
        self.apply(actions)

    @precondition(lambda self: self.holding(CONNECT))
    @rule(data=st.data(), streams=st.integers(1, 3))
    def connected(self, data: st.DataObject, streams: int) -> None:
        ticket = data.draw(st.sampled_from(self.holding(CONNECT)))
        assert ticket.entry is not None
        entry = ticket.entry
        if not entry.may_be_http2:
            streams = 1
        elif streams > 1:
            self.h2_entries.add(entry)
        self.apply(self.pool.connected(entry, self.now, max_streams=streams))
        assert ticket.status is READY

    @precondition(lambda self: self.holding(CONNECT))
    @rule(data=st.data())
    def connect_failed(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self.holding(CONNECT)))
        assert ticket.entry is not None
        self.apply(self.pool.connect_failed(ticket.entry, self.now))
        assert ticket.status is DONE

    @precondition(lambda self: self.holding(READY))
    @rule(data=st.data(), reusable=st.booleans())
    def release(self, data: st.DataObject, reusable: bool) -> None:
        ticket = data.draw(st.sampled_from(self.holding(READY)))
        self.apply(self.pool.release(ticket, self.now, reusable=reusable))

    @precondition(lambda self: self.tickets)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(self.tickets))
        self.apply(self.pool.cancel(ticket, self.now))
        assert ticket.status is DONE

    @rule(seconds=st.sampled_from([0.1, 1.0, 3.0]), explicit=st.booleans())
    def advance_clock(self, seconds: float, explicit: bool) -> None:
        self.now += seconds
        if explicit:
            self.apply(self.pool.expire(self.now))

    @precondition(lambda self: self.ready_entries())
    @rule(data=st.data())
    def goaway(self, data: st.DataObject) -> None:
        self.apply(self.pool.draining(data.draw(st.sampled_from(self.ready_entries()))))

    @precondition(lambda self: any(e in self.h2_entries for e in self.ready_entries()))
    @rule(data=st.data(), streams=st.integers(0, 4))
    def settings(self, data: st.DataObject, streams: int) -> None:
        candidates = [e for e in self.ready_entries() if e in self.h2_entries]
        self.apply(self.pool.settings_changed(data.draw(st.sampled_from(candidates)), streams))

    # -- invariants

    @invariant()
    def limits_hold(self) -> None:
        if self.max_connections is not None:
            assert self.pool.n_connections <= self.max_connections
        if self.max_keepalive is not None:
            assert self.pool.n_idle <= self.max_keepalive

    @invariant()
    def holds_nothing_only_when_nothing_is_held(self) -> None:
        # (the engine then skips its close flow: nothing would be closed or woken)
        if self.pool.holds_nothing():
            assert self.pool.connections() == []
            assert self.pool.n_waiting == 0
            assert self.holding(*ALIVE) == []

    @invariant()
    def streams_match_their_holders(self) -> None:
        for entry in self.pool.connections():
            assert entry not in self.closed
            holders = [t for t in self.holding(*ALIVE) if t.entry is entry]
            assert entry.active_streams == len(holders)
            if entry.idle_since is not None:  # idle: ready and carrying nothing
                assert entry.state is ConnectionState.READY
                assert entry.active_streams == 0
        assert self.pool.n_waiting == len(self.holding(WAITING))

    @invariant()
    def nobody_waits_while_capacity_is_free(self) -> None:
        entries = self.pool.connections()
        for ticket in self.holding(WAITING):
            same_key = [e for e in entries if e.key == ticket.key]
            # (a fresh ticket waits beside room on old connections: it may not use them)
            assert ticket.fresh or not any(
                e.state is ConnectionState.READY and e.active_streams < e.max_streams
                for e in same_key
            )
            h2_connect = any(
                e.state is ConnectionState.CONNECTING and e.may_be_http2 for e in same_key
            )
            if not (ticket.may_be_http2 and h2_connect):
                assert self.max_connections is not None
                assert self.pool.n_connections == self.max_connections
                assert self.pool.n_idle == 0

    def teardown(self) -> None:
        """Finish every request: all waiters get served and no stream or slot is left over."""
        for _ in range(10 * len(self.tickets) + 10):
            if not self.holding(*ALIVE, WAITING):
                break
            for ticket in self.holding(CONNECT):
                assert ticket.entry is not None
                self.apply(self.pool.connected(ticket.entry, self.now, max_streams=1))
            for ticket in self.holding(READY):
                self.apply(self.pool.release(ticket, self.now))
        assert not self.holding(*ALIVE, WAITING)
        assert_empty(self.pool)


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
