"""Connection pool as pure state: requests and connection events in, actions out.

Theory of operation
-------------------
The pool never opens, closes, reads a clock or waits. A shell drives it and performs the actions
it returns. The state is **not thread-safe**: a shell that calls it from several threads guards
every call with one lock, and performs the returned actions outside the lock if it likes.

* ``ticket, actions = pool.acquire(key, now, may_be_http2=..., fresh=...)`` asks for one stream
  on a connection for ``key`` (a hashable the shell builds from everything that changes a
  connection: scheme, host, port, TLS settings, client cert, proxy). ``fresh=True`` asks for a
  connection opened for it (or one still connecting), never an idle or busy one: the resend of a
  request whose reused connection turned out dead, since the idle connections opened before it
  (closed by the same server restart or idle timeout) are likely dead too. ``ticket.status`` is then
  ``READY`` (``ticket.entry`` is an open connection, one stream reserved for this request),
  ``CONNECT`` (a slot is reserved: open ``ticket.entry``, then report ``connected`` or
  ``connect_failed``) or ``WAITING`` (wait for a ``Wake(ticket)`` action; the ticket's status
  then says READY, CONNECT or REJECTED). ``ticket.waker`` is free for the shell's event/future.
* Every call returns a list of actions: ``Wake(ticket)`` (wake that waiter; read its status) and
  ``Close(entry)`` (close ``entry.handle`` if the shell set one).
* The opener reports ``connected(entry, now, max_streams=...)`` (1 for HTTP/1.1, the peer's
  SETTINGS_MAX_CONCURRENT_STREAMS for HTTP/2) or ``connect_failed(entry, now)``. If
  ``connected`` returns a ``Close`` of the opener's own entry, the pool was closed or the ticket
  cancelled meanwhile: ``ticket.status`` is then not READY and the request must not proceed.
  (That entry's ``Close`` was already returned once, when it was aborted: closing must be
  idempotent.)
* When a request is finished with its stream: ``release(ticket, now, reusable=...)``;
  ``reusable=False`` means the connection must carry nothing more (closed once its other streams
  end). A request that stops waiting (pool timeout, cancellation) at any point before it used its
  connection calls ``cancel(ticket, now)``: this is safe in every ticket state and idempotent, so a
  shell may call it from an ``except``/``finally`` block. Once the shell has started to *use* the
  connection it calls ``release`` instead (``reusable=False`` for a half-done HTTP/1.1 exchange).
* HTTP/2: ``draining(entry)`` after GOAWAY (no new streams, current ones finish),
  ``settings_changed(entry, max_streams)`` when the peer changes its stream limit.
* ``expire(now)`` closes connections idle longer than ``keepalive_expiry`` (also done lazily on
  acquire and release); ``close_all()`` rejects every waiter and closes every connection.

Data structures (why nothing scans every connection)
----------------------------------------------------
Per key: ``idle`` (ready connections with no stream, reused LIFO), ``spare`` (HTTP/2 connections in
use with room for another stream), ``connecting`` (the connection a may-be-HTTP/2 request waits
on instead of opening another) and a FIFO of that key's waiters. Globally: ``_idle``, every idle
connection oldest-idle first (expiry pops from the front: O(expired); eviction of another key's
idle connection when the pool is full takes the oldest), and ``_queue``, the FIFO of waiters that
need a slot. Removals from the waiter FIFOs are lazy (a ticket that is no longer WAITING is
skipped when it reaches the front), so cancellation is O(1).

Reuse is LIFO: the most recently used connection is the one least likely to have been closed by
the server's own idle timeout, and the cold tail of the stack ages out through expiry, so the pool
shrinks to what the load needs. FIFO reuse would keep every connection barely alive and hit the
"server closed it just as we sent" race more often.

Fairness: waiters needing a slot are served strictly in arrival order across all keys (the head
may evict an idle connection of another key). Stream capacity that only one key can use (room on
an HTTP/2 connection) goes to that key's oldest waiter without waiting for the global head.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict, deque
from collections.abc import Hashable
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # _config imports ssl, which the sans-I/O core must not pull in at runtime.
    from .._config import Limits

__all__ = [
    "Action",
    "Close",
    "ConnectionState",
    "PoolConnection",
    "PoolState",
    "Ticket",
    "TicketStatus",
    "Wake",
]


class ConnectionState(enum.Enum):
    """Life cycle of a pooled connection."""

    CONNECTING = "connecting"
    READY = "ready"
    DRAINING = "draining"  # GOAWAY or not reusable: no new streams, current ones finish
    CLOSED = "closed"


class TicketStatus(enum.Enum):
    """What a request's ticket currently entitles it to."""

    WAITING = "waiting"  # wait for Wake(ticket)
    READY = "ready"  # ticket.entry is ready; one stream is reserved for this request
    CONNECT = "connect"  # open ticket.entry, then call connected() or connect_failed()
    REJECTED = "rejected"  # the pool was closed: fail the request
    DONE = "done"  # released, cancelled, or its connect failed


_WAITING = TicketStatus.WAITING
_READY = TicketStatus.READY
_CONNECT = TicketStatus.CONNECT
_REJECTED = TicketStatus.REJECTED
_DONE = TicketStatus.DONE
_C_CONNECTING = ConnectionState.CONNECTING
_C_READY = ConnectionState.READY
_C_DRAINING = ConnectionState.DRAINING
_C_CLOSED = ConnectionState.CLOSED

# Where a connection sits in the lookup structures.
_NOWHERE, _IDLE, _SPARE = 0, 1, 2


class _KeyState:
    """Everything the pool knows about one key; dropped when it holds nothing."""

    __slots__ = ("connecting", "idle", "n_entries", "n_waiting", "spare", "waiters")

    def __init__(self) -> None:
        self.idle: OrderedDict[PoolConnection, None] = OrderedDict()
        self.spare: OrderedDict[PoolConnection, None] = OrderedDict()
        self.connecting: PoolConnection | None = None
        self.waiters: deque[Ticket] = deque()  # live WAITING tickets, plus lazily skipped dead
        self.n_waiting = 0
        self.n_entries = 0

    def available(self) -> PoolConnection | None:
        """A connection that can take one more stream now: busy HTTP/2 first, then LIFO idle."""
        if self.spare:
            return next(reversed(self.spare))
        if self.idle:
            return next(reversed(self.idle))
        return None


class PoolConnection:
    """One pooled connection; `handle` is the shell's real connection object."""

    __slots__ = (
        "_followers",
        "_ks",
        "_opener",
        "_slot",
        "active_streams",
        "handle",
        "idle_since",
        "key",
        "max_streams",
        "may_be_http2",
        "state",
    )

    def __init__(self, key: Hashable, ks: _KeyState, opener: Ticket) -> None:
        self.key = key
        self.handle: object = None
        self.state = _C_CONNECTING
        self.max_streams = 1  # unknown until connected(); the opener's stream is counted already
        self.active_streams = 1
        self.idle_since: float | None = None
        self.may_be_http2 = opener.may_be_http2
        self._ks = ks
        self._slot = _NOWHERE
        self._opener: Ticket | None = opener
        self._followers: list[Ticket] = []  # may-be-HTTP/2 tickets waiting for this connect

    def __repr__(self) -> str:
        return (
            f"<PoolConnection {self.key!r} {self.state.value} "
            f"streams={self.active_streams}/{self.max_streams}>"
        )


class Ticket:
    """One request's claim on the pool; `waker` is free for the shell's event or future."""

    __slots__ = ("_parked", "_seq", "entry", "fresh", "key", "may_be_http2", "status", "waker")

    def __init__(self, key: Hashable, may_be_http2: bool, seq: int, fresh: bool = False) -> None:
        self.key = key
        self.may_be_http2 = may_be_http2
        self.fresh = fresh  # only a new connection will do (see acquire)
        self.status = _WAITING
        self.entry: PoolConnection | None = None
        self.waker: object = None
        self._seq = seq
        self._parked: PoolConnection | None = None  # the connecting entry it waits on, if any

    def __repr__(self) -> str:
        return f"<Ticket #{self._seq} {self.key!r} {self.status.value}>"


class Wake:
    """Action: wake the waiter holding `ticket`; its status says what it got."""

    __slots__ = ("ticket",)
    __match_args__ = ("ticket",)

    def __init__(self, ticket: Ticket) -> None:
        self.ticket = ticket

    def __repr__(self) -> str:
        return f"Wake({self.ticket!r})"


class Close:
    """Action: close `entry.handle` (nothing to do if the shell never set one)."""

    __slots__ = ("entry",)
    __match_args__ = ("entry",)

    def __init__(self, entry: PoolConnection) -> None:
        self.entry = entry

    def __repr__(self) -> str:
        return f"Close({self.entry!r})"


Action = Wake | Close
_by_seq = attrgetter("_seq")


def _check_streams(max_streams: int, minimum: int) -> None:
    if isinstance(max_streams, bool) or not isinstance(max_streams, int):
        raise TypeError(f"max_streams must be an int, got {max_streams!r}.")
    if max_streams < minimum:
        raise ValueError(f"max_streams must be at least {minimum}, got {max_streams!r}.")


def _trim_dead(waiters: deque[Ticket]) -> None:
    while waiters and waiters[0].status is not _WAITING:
        waiters.popleft()


class PoolState:
    """Waiter queue, connection table, limits and expiry; see the module docstring."""

    def __init__(self, limits: Limits) -> None:
        self._max_connections = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._keys: dict[Hashable, _KeyState] = {}
        self._entries: set[PoolConnection] = set()  # every connection not yet CLOSED
        self._idle: OrderedDict[PoolConnection, None] = OrderedDict()  # oldest idle first
        # No idle connection expires before this (`_any_expired` sets it): `_idle` only ever
        # loses its oldest entries or gains newer ones, so the bound stays true, and the
        # usual reuse and return skip the check with one comparison.
        self._fresh_until = float("inf") if self._expiry is None else float("-inf")
        self._queue: deque[Ticket] = deque()  # waiters needing a slot, by arrival
        self._n_queued = 0
        self._n_parked = 0
        self._seq = 0
        self._closed = False

    # ----------------------------------------------------------------------------- requests

    def acquire(
        self, key: Hashable, now: float, *, may_be_http2: bool = False, fresh: bool = False
    ) -> tuple[Ticket, list[Action]]:
        """Ask for a stream on a connection for `key`; see the ticket's status."""
        if self._closed:
            raise RuntimeError("Cannot acquire a connection: the pool is closed.")
        ticket = Ticket(key, may_be_http2, self._seq, fresh)
        self._seq += 1
        ks = self._keys.get(key)
        if (
            ks is not None
            and ks.idle
            and not ks.spare
            and not fresh
            and (now <= self._fresh_until or not self._any_expired(now))
        ):
            # The usual keep-alive reuse: the same outcome as below, without the action list
            # and helper calls (no expiry, no spare HTTP/2 stream takes precedence).
            entry = ks.idle.popitem()[0]  # LIFO: the most recently used
            del self._idle[entry]
            entry.idle_since = None
            entry.active_streams = streams = entry.active_streams + 1
            if streams < entry.max_streams:
                entry._slot = _SPARE
                ks.spare[entry] = None
            else:
                entry._slot = _NOWHERE
            ticket.status = _READY
            ticket.entry = entry
            return ticket, []
        acts = self._lazy_expire(now)
        if ks is None:
            ks = self._keys[key] = _KeyState()
        else:
            available = None if fresh else ks.available()
            if available is not None:
                self._assign(ticket, available)
                return ticket, acts
            if may_be_http2 and ks.connecting is not None:
                self._add_waiter(ticket, ks)
                self._park(ticket, ks.connecting)
                return ticket, acts
        # Queued waiters mean no slot or idle connection is free (see _serve): skip the try.
        if self._n_queued == 0 and self._try_open(ticket, ks, acts):
            return ticket, acts
        self._add_waiter(ticket, ks)
        self._queue.append(ticket)
        self._n_queued += 1
        return ticket, acts

    def release(self, ticket: Ticket, now: float, *, reusable: bool = True) -> list[Action]:
        """The request holding `ticket` is done with its stream."""
        entry = ticket.entry
        if ticket.status is not _READY or entry is None:
            raise RuntimeError(f"Cannot release {ticket!r}: it holds no connection.")
        ticket.status = _DONE
        if (
            reusable
            and entry.active_streams == 1
            and entry.state is _C_READY
            and not self._n_queued
            and not entry._ks.n_waiting
            and (self._max_idle is None or len(self._idle) < self._max_idle)
            and (now <= self._fresh_until or not self._any_expired(now))
        ):
            # The usual keep-alive return: it goes idle and nobody waits, so nothing else moves.
            # (`_unplace` then `_place`, written out: a connection in use is never idle.)
            entry.active_streams = 0
            if entry._slot == _SPARE:
                del entry._ks.spare[entry]
            entry.idle_since = now
            entry._slot = _IDLE
            self._idle[entry] = None
            if entry.max_streams > 0:
                entry._ks.idle[entry] = None
            return []
        acts = self._lazy_expire(now)
        entry.active_streams -= 1
        if entry.state is _C_READY:
            self._unplace(entry)
            if reusable:
                self._place(entry, now)
            else:
                entry.state = _C_DRAINING
        if entry.state is _C_DRAINING and entry.active_streams == 0:
            self._discard(entry, acts)
        self._after_capacity(entry, acts)
        return acts

    def cancel(self, ticket: Ticket, now: float) -> list[Action]:
        """The request stopped waiting before using a connection; safe in any state."""
        status = ticket.status
        if status is _READY:
            return self.release(ticket, now, reusable=True)
        acts = self._lazy_expire(now)
        if status is _WAITING:
            ticket.status = _DONE
            self._unwait(ticket)
        elif status is _CONNECT:
            # The cancelled task was driving the connect, so the half-open connection goes.
            ticket.status = _DONE
            entry = ticket.entry
            assert entry is not None
            self._abandon_connect(entry, acts)
            self._discard(entry, acts)
        self._serve(acts)
        return acts

    # --------------------------------------------------------------------- connection events

    def connected(self, entry: PoolConnection, now: float, *, max_streams: int) -> list[Action]:
        """The shell opened `entry` (after TLS/ALPN); it carries `max_streams` streams at once."""
        _check_streams(max_streams, 1)
        if entry.state is _C_CLOSED:
            return [Close(entry)]  # aborted meanwhile (cancel or close_all): close the socket
        if entry.state is not _C_CONNECTING:
            raise RuntimeError(f"connected() called twice for {entry!r}.")
        acts: list[Action] = []
        opener = entry._opener
        entry._opener = None
        if opener is not None and opener.status is _CONNECT:
            opener.status = _READY
        entry.state = _C_READY
        entry.max_streams = max_streams
        if entry._ks.connecting is entry:
            entry._ks.connecting = None
        self._place(entry, now)
        followers = self._unpark_all(entry)
        leftovers: list[Ticket] = []
        for ticket in followers:
            if entry.active_streams < entry.max_streams:
                self._wake_assign(ticket, entry, acts)
            else:
                if max_streams == 1:  # the origin spoke HTTP/1.1: open in parallel from now on
                    ticket.may_be_http2 = False
                leftovers.append(ticket)
        self._requeue(leftovers)
        self._after_capacity(entry, acts)
        return acts

    def connect_failed(self, entry: PoolConnection, now: float) -> list[Action]:
        """Opening `entry` failed: free its slot and let the next waiter try."""
        if entry.state is _C_CLOSED:
            return []
        if entry.state is not _C_CONNECTING:
            raise RuntimeError(f"connect_failed() called for {entry!r}, which is not connecting.")
        opener = entry._opener
        if opener is not None and opener.status is _CONNECT:
            opener.status = _DONE
        acts = self._lazy_expire(now)
        self._abandon_connect(entry, acts)
        self._discard(entry, acts, close=False)
        self._serve(acts)
        return acts

    def draining(self, entry: PoolConnection) -> list[Action]:
        """`entry` got GOAWAY: no new streams; it closes when its current streams end."""
        if entry.state is _C_CONNECTING:
            raise RuntimeError(f"draining() called for {entry!r} before connected().")
        acts: list[Action] = []
        if entry.state is _C_READY:
            self._unplace(entry)
            entry.state = _C_DRAINING
            if entry.active_streams == 0:
                self._discard(entry, acts)
                self._serve(acts)
        return acts

    def settings_changed(self, entry: PoolConnection, max_streams: int) -> list[Action]:
        """The HTTP/2 peer changed SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 section 6.5.2)."""
        _check_streams(max_streams, 0)
        if entry.state is not _C_READY:
            if entry.state is not _C_CONNECTING:
                entry.max_streams = max_streams
            return []  # connected() sets the limit of a connecting entry
        acts: list[Action] = []
        ks = entry._ks
        if entry._slot == _IDLE:
            # Stays idle (and keeps its age); only whether its key may reuse it changes.
            entry.max_streams = max_streams
            if max_streams > 0:
                ks.idle.setdefault(entry)
            else:
                ks.idle.pop(entry, None)
        else:
            self._unplace(entry)
            entry.max_streams = max_streams
            self._place(entry, 0.0)  # active > 0 here, so no idle time is recorded
        self._serve_key(entry, acts)
        return acts

    def expire(self, now: float) -> list[Action]:
        """Close connections idle longer than keepalive_expiry."""
        return self._lazy_expire(now)

    def holds_nothing(self) -> bool:
        """No connection, and no request has asked for one since the last `close_all` (so
        closing would change nothing)."""
        return not self._entries and not self._keys

    def close_all(self) -> list[Action]:
        """Reject every waiter, close every connection; later acquires raise RuntimeError."""
        self._closed = True
        acts: list[Action] = []
        for ks in self._keys.values():
            for ticket in ks.waiters:
                if ticket.status is _WAITING:
                    ticket.status = _REJECTED
                    ticket._parked = None
                    acts.append(Wake(ticket))
        for entry in self._entries:
            opener = entry._opener
            if opener is not None and opener.status is _CONNECT:
                opener.status = _REJECTED  # it learns when connected() returns Close
            entry.state = _C_CLOSED
            entry._slot = _NOWHERE
            entry._opener = None
            entry._followers = []
            acts.append(Close(entry))
        self._entries.clear()
        self._idle.clear()
        self._keys.clear()
        self._queue.clear()
        self._n_queued = self._n_parked = 0
        return acts

    # ----------------------------------------------------------------------- introspection

    @property
    def is_closed(self) -> bool:
        """True after close_all()."""
        return self._closed

    @property
    def n_waiting(self) -> int:
        """Requests waiting for a connection (queued for a slot or for an HTTP/2 connect)."""
        return self._n_queued + self._n_parked

    @property
    def n_connections(self) -> int:
        """Open connections: connecting, ready and draining."""
        return len(self._entries)

    @property
    def n_idle(self) -> int:
        """Ready connections carrying no stream."""
        return len(self._idle)

    def connections(self) -> list[PoolConnection]:
        """Every open connection (a copy, for tests and debugging)."""
        return list(self._entries)

    def counts(self) -> dict[str, int]:
        """Connections by state, plus idle connections, waiters and active streams."""
        result = {state.value: 0 for state in ConnectionState if state is not _C_CLOSED}
        streams = 0
        for entry in self._entries:
            result[entry.state.value] += 1
            streams += entry.active_streams
        result.update(idle=len(self._idle), waiting=self.n_waiting, streams=streams)
        return result

    def __repr__(self) -> str:
        c = self.counts()
        return (
            f"<PoolState connections={len(self._entries)} connecting={c['connecting']} "
            f"ready={c['ready']} idle={c['idle']} draining={c['draining']} "
            f"streams={c['streams']} waiting={c['waiting']}{' closed' if self._closed else ''}>"
        )

    # ---------------------------------------------------------------------------- internals

    def _has_room(self) -> bool:
        return self._max_connections is None or len(self._entries) < self._max_connections

    def _try_open(self, ticket: Ticket, ks: _KeyState, acts: list[Action]) -> bool:
        """Reserve a slot for a new connection, evicting the oldest idle one if full."""
        full = not self._has_room()
        if full and not self._idle:
            return False
        entry = PoolConnection(ticket.key, ks, ticket)
        ks.n_entries += 1  # first, so evicting this key's last (unusable) idle keeps `ks`
        if full:
            self._discard(next(iter(self._idle)), acts)
        self._entries.add(entry)
        if ticket.may_be_http2 and ks.connecting is None:
            ks.connecting = entry
        ticket.status = _CONNECT
        ticket.entry = entry
        return True

    def _assign(self, ticket: Ticket, entry: PoolConnection) -> None:
        self._unplace(entry)
        entry.active_streams += 1
        if entry.active_streams < entry.max_streams:
            entry._slot = _SPARE
            entry._ks.spare[entry] = None
        ticket.status = _READY
        ticket.entry = entry

    def _wake_assign(self, ticket: Ticket, entry: PoolConnection, acts: list[Action]) -> None:
        self._assign(ticket, entry)
        self._unwait(ticket)
        acts.append(Wake(ticket))

    def _place(self, entry: PoolConnection, now: float) -> None:
        """File a READY connection under idle or spare according to its streams."""
        if entry.active_streams == 0:
            entry.idle_since = now
            entry._slot = _IDLE
            self._idle[entry] = None
            if entry.max_streams > 0:
                entry._ks.idle[entry] = None
        elif entry.active_streams < entry.max_streams:
            entry._slot = _SPARE
            entry._ks.spare[entry] = None

    def _unplace(self, entry: PoolConnection) -> None:
        slot = entry._slot
        if slot == _IDLE:
            del self._idle[entry]
            entry._ks.idle.pop(entry, None)
            entry.idle_since = None
        elif slot == _SPARE:
            del entry._ks.spare[entry]
        entry._slot = _NOWHERE

    def _discard(self, entry: PoolConnection, acts: list[Action], *, close: bool = True) -> None:
        """Forget a connection, freeing its slot."""
        self._unplace(entry)
        entry.state = _C_CLOSED
        self._entries.discard(entry)
        ks = entry._ks
        ks.n_entries -= 1
        if ks.connecting is entry:
            ks.connecting = None
        self._drop_if_unused(entry.key, ks)
        if close:
            acts.append(Close(entry))

    def _drop_if_unused(self, key: Hashable, ks: _KeyState) -> None:
        if ks.n_entries == 0 and ks.n_waiting == 0 and self._keys.get(key) is ks:
            del self._keys[key]

    def _add_waiter(self, ticket: Ticket, ks: _KeyState) -> None:
        ks.waiters.append(ticket)
        ks.n_waiting += 1

    def _park(self, ticket: Ticket, entry: PoolConnection) -> None:
        ticket._parked = entry
        entry._followers.append(ticket)
        self._n_parked += 1

    def _unwait(self, ticket: Ticket) -> None:
        """Count out a ticket that just left WAITING; the FIFOs shed it when it reaches the front.

        Trimming dead tickets off both fronts here keeps the FIFOs bounded even when the pool
        stays saturated and its key never runs out of waiters.
        """
        if ticket._parked is not None:
            ticket._parked = None
            self._n_parked -= 1
        else:
            self._n_queued -= 1
            _trim_dead(self._queue)
        ks = self._keys[ticket.key]
        ks.n_waiting -= 1
        _trim_dead(ks.waiters)
        if ks.n_waiting == 0:
            self._drop_if_unused(ticket.key, ks)

    def _unpark_all(self, entry: PoolConnection) -> list[Ticket]:
        """Followers still parked on `entry`, oldest first, now queued-for-a-slot waiters."""
        followers = [t for t in entry._followers if t._parked is entry]
        entry._followers = []
        followers.sort(key=_by_seq)
        for ticket in followers:
            ticket._parked = None
        self._n_parked -= len(followers)
        self._n_queued += len(followers)
        return followers

    def _requeue(self, tickets: list[Ticket]) -> None:
        """Put sorted, already counted waiters back into the slot FIFO by arrival order."""
        if not tickets:
            return
        queue = self._queue
        if not queue or queue[-1]._seq < tickets[0]._seq:
            queue.extend(tickets)
        else:  # rare: an HTTP/2 guess fell back to HTTP/1.1 or a connect failed
            self._queue = deque(heapq.merge(queue, tickets, key=_by_seq))

    def _abandon_connect(self, entry: PoolConnection, acts: list[Action]) -> None:
        """A connect will not complete: its followers go back to the slot FIFO."""
        entry._opener = None
        self._requeue(self._unpark_all(entry))

    def _after_capacity(self, entry: PoolConnection, acts: list[Action]) -> None:
        """A slot or a stream may have freed: serve the FIFO, then this key, then trim idle."""
        self._serve(acts)
        if entry.state is _C_READY:
            self._serve_key(entry, acts)
        if self._max_idle is not None:
            while len(self._idle) > self._max_idle:
                self._discard(next(iter(self._idle)), acts)  # keep the most recently used

    def _serve(self, acts: list[Action]) -> None:
        """Serve waiters needing a slot strictly in arrival order until the head must wait."""
        queue = self._queue
        while self._n_queued:
            ticket = queue[0]
            if ticket.status is not _WAITING or ticket._parked is not None:
                queue.popleft()
                continue
            ks = self._keys[ticket.key]
            entry = None if ticket.fresh else ks.available()
            if entry is not None:
                self._wake_assign(ticket, entry, acts)
            elif ticket.may_be_http2 and ks.connecting is not None:
                queue.popleft()
                self._n_queued -= 1
                self._park(ticket, ks.connecting)
            elif self._try_open(ticket, ks, acts):
                self._unwait(ticket)
                acts.append(Wake(ticket))
            else:
                return

    def _serve_key(self, entry: PoolConnection, acts: list[Action]) -> None:
        """Give spare streams on `entry` to its key's oldest waiters (not to those that need a
        fresh connection: they keep their places)."""
        ks = entry._ks
        waiters = ks.waiters
        kept: list[Ticket] = []
        while (
            ks.n_waiting > len(kept)
            and entry.state is _C_READY
            and entry.active_streams < entry.max_streams
        ):
            ticket = waiters.popleft()
            if ticket.status is not _WAITING:
                continue
            if ticket.fresh:
                kept.append(ticket)
            else:
                self._wake_assign(ticket, entry, acts)
        if kept:
            waiters.extendleft(reversed(kept))

    def _any_expired(self, now: float) -> bool:
        """Whether `_lazy_expire(now)` would close anything (the oldest idle is past expiry)."""
        expiry = self._expiry
        if expiry is None or not self._idle:
            return False
        oldest = next(iter(self._idle)).idle_since
        if oldest is None or oldest + expiry < now:
            return True
        self._fresh_until = oldest + expiry
        return False

    def _lazy_expire(self, now: float) -> list[Action]:
        """Close idle connections past keepalive_expiry: O(expired), oldest idle first."""
        acts: list[Action] = []
        expiry = self._expiry
        idle = self._idle
        if expiry is None:
            return acts
        while idle:
            entry = next(iter(idle))
            if entry.idle_since is not None and entry.idle_since + expiry >= now:
                break
            self._discard(entry, acts)
        return acts
