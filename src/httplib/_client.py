"""`Client` and `AsyncClient`: merge the client's configuration into requests, then run them.

Everything both clients share lives once: configuration and request building in
`_client_base._BaseClient`, the request methods (`request`, `stream`, `get`, ...) in
`_client_methods.Methods`, and every policy (auth, hooks, cookies, redirects) in the sans-I/O
`_core.flow.send_flow`. What is left per client is a table of effect performers (call vs
await), a short loop that runs the flow, and the flow's fast path: a request no policy acts
on before its response (no auth, no hooks, no `Retry`) is sent directly, and reaches the flow
only when that response is a redirect.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    suppress,
)
from time import monotonic, perf_counter, sleep
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, cast

from ._client_base import USE_CLIENT_DEFAULT, UseClientDefault, _BaseClient, _State
from ._client_methods import Methods
from ._core.admission import admission_timed_out, admission_timeout
from ._core.auth import Auth
from ._core.flow import (
    AUTH_CLOSE,
    AUTH_NEXT,
    AUTH_OPEN,
    AUTH_WAIT,
    CLOSE,
    DISCARD,
    HOOKS,
    READ,
    SEND,
    SLEEP,
    FlowStepper,
    send_flow,
)
from ._core.token_auth import Flight
from ._exceptions import RequestError
from ._io.async_driver import running_under_trio
from ._models import Request, Response
from ._transports.base import AsyncBaseTransport, BaseTransport
from ._transports.default import AsyncHTTPTransport, HTTPTransport
from ._types import (
    AsyncByteStream,
    AuthTypes,
    CookieTypes,
    EventHook,
    HeaderTypes,
    QueryParamTypes,
    RequestContent,
    RequestData,
    RequestExtensions,
    RequestFiles,
    SyncByteStream,
    TimeoutTypes,
)
from ._urls import URL

if TYPE_CHECKING:
    from ._io.async_driver import AsyncDriver

__all__ = ["USE_CLIENT_DEFAULT", "AsyncClient", "Client", "UseClientDefault"]

# A class whose `_transport_for_url` is not this one (a subclass's, or respx's patch) routes
# every request through it, as httpx does.
_DEFAULT_ROUTE = _BaseClient._transport_for_url


# ---------------------------------------------------------------------------------------------
# Client: performs the flow's effects by calling.


_POOLED_SYNC_HANDLE = HTTPTransport.handle_request


def _send_single(client: Client, request: Request, whole: bool = False) -> Response:
    """Send `request` through its transport; `whole`: the caller reads the body whole at once,
    which the pooled transport's driver is told (see `Engine.send`)."""
    if not isinstance(request.stream, SyncByteStream):
        raise RuntimeError("Attempted to send an async request with a sync Client instance.")
    if client._unrouted and type(client)._transport_for_url is _DEFAULT_ROUTE:
        transport = client._transport
    else:
        transport = client._transport_for_url(request.url)
    sent_at = perf_counter()
    try:
        # (Only while `handle_request` is ours: a patch of it sees every request.)
        if type(transport).handle_request is _POOLED_SYNC_HANDLE:
            response = transport._driver.handle(request, whole)  # type: ignore[attr-defined]
        else:
            response = transport.handle_request(request)
    except RequestError as exc:
        # What `request_context` does, inline: this is the per-request hot path.
        if exc._request is None:
            exc._request = request
        raise
    return client._bind(response, request, sent_at)


def _call_hooks(client: Client, target: tuple[list[EventHook], Any]) -> None:
    hooks, argument = target
    for hook in hooks:
        hook(argument)


def _auth_next(client: Client, target: tuple[Any, Response | None]) -> Request | None:
    steps, response = target
    try:
        return steps.send(response)  # type: ignore[no-any-return]
    except StopIteration:
        return None


def _auth_wait(client: Client, flight: Flight) -> None:
    """Block this thread until another thread's (or task's) token fetch ends."""
    done = threading.Event()
    if flight.on_done(done.set):
        done.wait()


_SYNC_EFFECTS: dict[int, Callable[[Client, Any], Any]] = {
    SEND: _send_single,
    READ: lambda client, response: response.read(),
    CLOSE: lambda client, response: response.close(),
    DISCARD: lambda client, target: target[0]._discard(target[1]),
    HOOKS: _call_hooks,
    AUTH_OPEN: lambda client, target: target[0].sync_auth_flow(target[1]),
    AUTH_NEXT: _auth_next,
    AUTH_CLOSE: lambda client, steps: steps.close(),
    SLEEP: lambda client, seconds: sleep(seconds),
    AUTH_WAIT: _auth_wait,
}


class Client(Methods[Response, AbstractContextManager[Response]], _BaseClient[BaseTransport]):
    """A blocking HTTP client with connection pooling, redirects, auth and cookie persistence.

    Safe to share between threads. Use it as a context manager, or call `close()`, so its
    connections are released.
    """

    _default_transport = HTTPTransport

    # Monotonic seconds for the client's policies (the transport's engine uses the same); the
    # C function itself, so a clock read costs no Python frame.
    _clock = staticmethod(monotonic)

    def _checked_transport(self, transport: BaseTransport) -> BaseTransport:
        if not hasattr(transport, "handle_request"):
            raise TypeError(
                f"Client needs a sync transport (with handle_request), got {transport!r}; "
                "use AsyncClient for async transports."
            )
        return transport

    def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a built request as is (see `build_request`); read the body unless `stream`."""
        chosen, follow, retry = self._start(request, auth, follow_redirects)
        response = error = None
        resent = 0
        fast, ticket = self._fast_send_plan(request, chosen)
        if fast:
            try:
                response = _send_single(self, request, self._reads_whole(request, stream))
            except BaseException as exc:
                error = self._fast_send_failed(exc, ticket, retry)
            else:
                if self._fast_send_settled(response, ticket, retry):
                    if stream or response._body is not None:  # (its body arrived whole)
                        return response
                    try:
                        response.read()
                        return response
                    except BaseException as exc:
                        response.close()
                        resent, error = self._fast_read_failed(exc, request, retry)
                        response = None  # (the flow sends it again)
            ticket = None  # (the fast path's send used it)
        stepper = FlowStepper(
            send_flow(self, request, chosen, follow, stream, response, retry, error, ticket, resent)
        )
        while (effect := stepper.effect) is not None:
            try:
                value = _SYNC_EFFECTS[effect[0]](self, effect[1])
            except BaseException as exc:
                stepper.fail(exc)
            else:
                stepper.ok(value)
        return stepper.result  # type: ignore[no-any-return]

    @contextmanager
    def _stream(
        self,
        request: Request,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
    ) -> Iterator[Response]:
        response = self.send(request, stream=True, auth=auth, follow_redirects=follow_redirects)
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the transports; the client cannot send afterwards."""
        if self._mark_closed():
            for transport in self._transports():
                transport.close()

    def __enter__(self) -> Client:
        self._enter()
        for transport in self._transports():
            transport.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = _State.CLOSED
        for transport in self._transports():
            transport.__exit__(exc_type, exc_value, traceback)


# ---------------------------------------------------------------------------------------------
# AsyncClient: performs the same effects by awaiting.


_POOLED_HANDLE = AsyncHTTPTransport.handle_async_request


def _pooled_driver(client: AsyncClient) -> AsyncDriver | None:
    """The driver of `client`'s own pooled transport when every request goes through it (no
    mounts, no routing of a subclass's or a patch's, `handle_async_request` not patched:
    pytest-httpx and others patch it on the class), else None."""
    if client._unrouted and type(client)._transport_for_url is _DEFAULT_ROUTE:
        transport = client._transport
        if type(transport).handle_async_request is _POOLED_HANDLE:
            return transport._driver  # type: ignore[attr-defined, no-any-return]
    return None


# What a method shortcut passes `AsyncClient.send` as `stream`: `request` is then its
# arguments unbuilt (`Methods._build_call`'s order), built once past the admission gate. A
# caller's own tuple is not taken for them: it fails as a non-request, as in httpx.
_UNBUILT: Any = object()


def _call_timeouts(client: AsyncClient, request: Any, unbuilt: bool) -> Any:
    """The "timeout" extension `request` will carry, before it is built (`unbuilt`: a
    shortcut's arguments) or before `_start` fills in the client's."""
    if unbuilt:
        extensions = request[10]
        if extensions and "timeout" in extensions:
            return extensions["timeout"]
        return client._timeout_dict(request[9])
    return request.extensions.get("timeout") or client._timeout_dict(USE_CLIENT_DEFAULT)


def _admission_timed_out(
    client: AsyncClient, request: Any, unbuilt: bool, by_deadline: bool
) -> NoReturn:
    """Raise the PoolTimeout of a request whose wait at the admission gate ran out, with its
    request built (as every transport error carries it)."""
    if unbuilt:
        request = client._build_call(request)
    error = admission_timed_out(_call_timeouts(client, request, False), by_deadline)
    error._request = request
    raise error


def _atransport_call(client: AsyncClient, request: Request) -> Coroutine[Any, Any, Response]:
    """What sending `request` awaits: its transport's `handle_async_request`, or for the pooled
    transport itself its driver's coroutine (a request waiting for a pool slot then holds one
    coroutine frame less: issue 15's scale rows)."""
    if not isinstance(request.stream, AsyncByteStream):
        raise RuntimeError("Attempted to send a sync request with an AsyncClient instance.")
    if client._unrouted and type(client)._transport_for_url is _DEFAULT_ROUTE:
        transport = client._transport
    else:
        transport = client._transport_for_url(request.url)
    # (Only while `handle_async_request` is ours: pytest-httpx and others patch it on the class.)
    if type(transport).handle_async_request is _POOLED_HANDLE:
        return transport._driver.handle(request)  # type: ignore[attr-defined, no-any-return]
    return transport.handle_async_request(request)


async def _asend_single(client: AsyncClient, request: Request) -> Response:
    call = _atransport_call(client, request)
    sent_at = perf_counter()
    try:
        response = await call
    except RequestError as exc:
        if exc._request is None:
            exc._request = request
        raise
    return client._bind(response, request, sent_at)


async def _acall_hooks(client: AsyncClient, target: tuple[list[EventHook], Any]) -> None:
    hooks, argument = target
    for hook in hooks:
        await hook(argument)


async def _aauth_next(client: AsyncClient, target: tuple[Any, Response | None]) -> Request | None:
    steps, response = target
    try:
        return await steps.asend(response)  # type: ignore[no-any-return]
    except StopAsyncIteration:
        return None


async def _aread(client: AsyncClient, response: Response) -> bytes:
    return await response.aread()


async def _aclose(client: AsyncClient, response: Response) -> None:
    await response.aclose()


async def _adiscard(client: AsyncClient, target: tuple[Response, int]) -> None:
    await target[0]._adiscard(target[1])


async def _aauth_open(client: AsyncClient, target: tuple[Auth, Request]) -> Any:
    return target[0].async_auth_flow(target[1])


async def _aauth_close(client: AsyncClient, steps: Any) -> None:
    await steps.aclose()


async def _asleep(client: AsyncClient, seconds: float) -> None:
    if running_under_trio():
        import trio

        await trio.sleep(seconds)
    else:
        import asyncio  # (not at import: `import httplib` stays free of asyncio)

        await asyncio.sleep(seconds)


async def _aauth_wait(client: AsyncClient, flight: Flight) -> None:
    """Wait on the running loop's own event until a token fetch ends; the fetch may run in
    another thread (one auth object serving a `Client` too), so the wake is thread-safe."""
    if running_under_trio():
        import trio

        event = trio.Event()
        trio_token = trio.lowlevel.current_trio_token()

        def wake_trio() -> None:
            with suppress(trio.RunFinishedError):  # (this waiter's run is over: nobody waits)
                trio_token.run_sync_soon(event.set)

        if flight.on_done(wake_trio):
            await event.wait()
        return
    import asyncio

    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def resolve() -> None:
        if not woken.done():  # (a cancelled waiter's future is done already)
            woken.set_result(None)

    def wake_asyncio() -> None:
        with suppress(RuntimeError):  # (the loop is closed: nobody waits)
            loop.call_soon_threadsafe(resolve)

    if flight.on_done(wake_asyncio):
        await woken


_ASYNC_EFFECTS: dict[int, Callable[[AsyncClient, Any], Coroutine[Any, Any, Any]]] = {
    SEND: _asend_single,
    READ: _aread,
    CLOSE: _aclose,
    DISCARD: _adiscard,
    HOOKS: _acall_hooks,
    AUTH_OPEN: _aauth_open,
    AUTH_NEXT: _aauth_next,
    AUTH_CLOSE: _aauth_close,
    SLEEP: _asleep,
    AUTH_WAIT: _aauth_wait,
}


class AsyncClient(
    Methods[Coroutine[Any, Any, Response], AbstractAsyncContextManager[Response]],
    _BaseClient[AsyncBaseTransport],
):
    """An async HTTP client (asyncio or trio) with the same features as `Client`.

    Safe to share between tasks. Use `async with`, or `await aclose()`, to release connections.
    Event hooks are awaited.
    """

    _default_transport = AsyncHTTPTransport

    @staticmethod
    def _clock() -> float:
        """Seconds on the running loop's clock for the client's policies: trio's under trio (so
        `trio.testing.MockClock` drives them, as it drives the transport's engine), else
        monotonic time, as asyncio's loop and the engine use."""
        if running_under_trio():
            import trio

            return trio.current_time()
        return monotonic()

    def _checked_transport(self, transport: AsyncBaseTransport) -> AsyncBaseTransport:
        if not hasattr(transport, "handle_async_request"):
            raise TypeError(
                f"AsyncClient needs an async transport (with handle_async_request), got "
                f"{transport!r}; use Client for sync transports."
            )
        return transport

    async def request(
        self,
        method: str,
        url: URL | str,
        *,
        content: RequestContent | None = None,
        data: RequestData | None = None,
        files: RequestFiles | None = None,
        json: Any | None = None,
        params: QueryParamTypes | None = None,
        headers: HeaderTypes | None = None,
        cookies: CookieTypes | None = None,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: TimeoutTypes | UseClientDefault = USE_CLIENT_DEFAULT,
        extensions: RequestExtensions | None = None,
    ) -> Response:
        """Build a request from the arguments merged with the client's settings, and send it."""
        # `async def`, not the shared method returning a coroutine: respx (and other mocking
        # tools) tell the async client by `inspect.iscoroutinefunction(client.request)`.
        return await Methods.request(
            self, method, url, content=content, data=data, files=files, json=json, params=params,
            headers=headers, cookies=cookies, auth=auth, follow_redirects=follow_redirects,
            timeout=timeout, extensions=extensions,
        )  # fmt: skip

    def _shortcut(self, *args: Any) -> Coroutine[Any, Any, Response]:
        """A method shortcut's coroutine: `send`'s own, which builds the request when it starts
        (so a bad argument still raises at the `await`). One coroutine frame less than going
        through `request`, for a request waiting for a pool slot (issue 15's 100,000 in
        flight). Through `request` when this client's `request` or `send` is not AsyncClient's
        own (a subclass's or a test's patch), as httpx's shortcuts always go."""
        # (The bound methods tell a class's override and an instance's patch alike; reading
        # `self.__dict__` instead would turn the client's attributes into a real dict, slower
        # to read on every request after.)
        if (
            getattr(self.request, "__func__", None) is not _OWN_REQUEST
            or getattr(self.send, "__func__", None) is not _OWN_SEND
        ):
            return super()._shortcut(*args)
        # `args` are in `request`'s order (method, url, content, data, files, json, params,
        # headers, cookies, auth, follow_redirects, timeout, extensions). All but auth and
        # follow_redirects go to `send` as a tuple (said by `stream=_UNBUILT`), which it
        # builds into a request once past the admission gate.
        unbuilt = args[:9] + args[11:]
        return self.send(
            cast(Request, unbuilt), stream=_UNBUILT, auth=args[9], follow_redirects=args[10]
        )

    async def send(
        self,
        request: Request,
        *,
        stream: bool = False,
        auth: AuthTypes | UseClientDefault | None = USE_CLIENT_DEFAULT,
        follow_redirects: bool | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> Response:
        """Send a built request as is (see `build_request`); read the body unless `stream`."""
        # The admission gate (`_core/admission.py`): when the pool has as many requests
        # queued as it may, the next ones wait here, before their request is even built,
        # holding this frame and a waker (issue 15's scale rows). Past the gate, the engine
        # gives the place up once the pool has answered the request.
        unbuilt = stream is _UNBUILT
        if unbuilt:
            stream = False
        driver = _pooled_driver(self)
        gate = None if driver is None else driver.admission
        started = None
        queued = 0.0
        if gate is not None and not gate.enter():
            assert driver is not None
            started = self._clock()  # (a total deadline counts from here)
            waiter = driver.queue(gate)
            try:
                timeout, by_deadline = admission_timeout(_call_timeouts(self, request, unbuilt))
                if not await driver.wait(waiter.waker, timeout):
                    _admission_timed_out(self, request, unbuilt, by_deadline)
            except BaseException:
                driver.wake(gate.give_up(waiter))
                raise
            queued = self._clock() - started
        try:
            if unbuilt:  # (`_shortcut`'s arguments)
                request = self._build_call(request)  # type: ignore[arg-type]
            chosen, follow, retry = self._start(request, auth, follow_redirects, started)
            fast, ticket = self._fast_send_plan(request, chosen)
            if fast:
                # `_asend_single` written out: a request waiting for a pool slot holds no
                # frame of its own for it (issue 15's scale rows). The engine takes over the
                # place at the gate.
                if driver is not None and isinstance(request.stream, AsyncByteStream):
                    call = driver.handle(
                        request,
                        None if gate is None else queued,
                        self._reads_whole(request, stream),
                    )
                else:
                    call = _atransport_call(self, request)
                gate = None
        finally:
            if gate is not None:
                # (not sent, or sent through the flow: its exchanges go without a place, as an
                # auth or a hook may send requests of its own on this client meanwhile)
                driver.wake(gate.leave())  # type: ignore[union-attr]
        response = error = None
        resent = 0
        if fast:
            try:
                sent_at = perf_counter()
                response = self._bind(await call, request, sent_at)
            except BaseException as exc:
                if isinstance(exc, RequestError) and exc._request is None:
                    exc._request = request
                error = self._fast_send_failed(exc, ticket, retry)
            else:
                if self._fast_send_settled(response, ticket, retry):
                    if stream or response._body is not None:  # (its body arrived whole)
                        return response
                    try:
                        await response.aread()
                        return response
                    except BaseException as exc:
                        await response.aclose()
                        resent, error = self._fast_read_failed(exc, request, retry)
                        response = None  # (the flow sends it again)
            ticket = None  # (the fast path's send used it)
        stepper = FlowStepper(
            send_flow(self, request, chosen, follow, stream, response, retry, error, ticket, resent)
        )
        while (effect := stepper.effect) is not None:
            try:
                value = await _ASYNC_EFFECTS[effect[0]](self, effect[1])
            except BaseException as exc:
                stepper.fail(exc)
            else:
                stepper.ok(value)
        return stepper.result  # type: ignore[no-any-return]

    @asynccontextmanager
    async def _stream(
        self,
        request: Request,
        auth: AuthTypes | UseClientDefault | None,
        follow_redirects: bool | UseClientDefault,
    ) -> AsyncIterator[Response]:
        response = await self.send(
            request, stream=True, auth=auth, follow_redirects=follow_redirects
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the transports; the client cannot send afterwards."""
        if self._mark_closed():
            for transport in self._transports():
                await transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        self._enter()
        for transport in self._transports():
            await transport.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self._state = _State.CLOSED
        for transport in self._transports():
            await transport.__aexit__(exc_type, exc_value, traceback)


# What `AsyncClient._shortcut` compares against: the methods as this module defines them.
_OWN_REQUEST = AsyncClient.request
_OWN_SEND = AsyncClient.send
