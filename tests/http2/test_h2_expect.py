"""`Expect: 100-continue` over HTTP/2 (RFC 9110 section 10.1.1; RFC 9113 section 8.1), against
the scripted peer on every runtime: the body waits for the server's 100, is never sent when a
final answer comes first (the stream is reset, the connection kept), and goes after a bounded
wait when the server says nothing."""

from __future__ import annotations

from servers.h2_peer import run_h2_peer
from transport.transport_harness import Mode, Runner, timeouts

EXPECT = {"Expect": "100-continue"}
CANCEL = 8  # RFC 9113 section 7


def test_the_body_waits_for_100_continue(run: Runner) -> None:
    with run_h2_peer(expect="continue") as peer:

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)
            # Small, and larger than the initial 64 KiB window: flow control after the 100.
            for content in (b"hello", b"x" * 200_000):
                response = await client.send(
                    "POST", peer.url + "/upload", content=content, headers=EXPECT
                )
                assert response.status_code == 200
                assert await client.read(response) == b"%d" % len(content)
            await client.close()

        run(case)
        assert peer.continues == 2
        assert peer.body_before_continue == 0
        assert peer.connections == 1


def test_a_final_answer_before_100_keeps_the_body(run: Runner) -> None:
    with run_h2_peer(expect="refuse") as peer:

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)
            response = await client.send(
                "POST", peer.url + "/upload", content=b"secret" * 1000, headers=EXPECT
            )
            assert response.status_code == 417
            assert await client.read(response) == b""
            # The stream is reset, not the connection: the next request goes on it.
            response = await client.send("POST", peer.url + "/upload", content=b"plain")
            assert await client.read(response) == b"5"
            await client.close()

        run(case)
        assert peer.body_after_refusal == 0  # not one byte of the body, ever
        assert peer.connections == 1
        assert [code for _, code in peer.resets_received] == [CANCEL]


def test_a_silent_server_gets_the_body_after_a_bounded_wait(run: Runner) -> None:
    with run_h2_peer() as peer:  # (no 100: a server that waits for the body)

        async def case(mode: Mode) -> None:
            client = mode.transport(http1=False, http2=True)
            # The read timeout caps the wait for the 100 (`EXPECT_CONTINUE_TIMEOUT` otherwise).
            response = await client.send(
                "POST",
                peer.url + "/upload",
                content=b"hello",
                headers=EXPECT,
                extensions=timeouts(10.0, read=0.2),
            )
            assert response.status_code == 200
            assert await client.read(response) == b"5"
            await client.close()

        run(case)
