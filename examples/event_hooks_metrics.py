"""Event hooks collecting metrics: a count per status and the time to each response head.

A request hook runs just before each request is sent (redirects included) and a response hook
as each response head arrives, before the body is read. Here the request hook stamps the start
time into `request.extensions`, and the response hook reads it back.

Run: python examples/event_hooks_metrics.py
"""

from __future__ import annotations

import collections
import statistics
import sys
import time

from local_server import serve

import httplib


class Metrics:
    def __init__(self) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        self.seconds: list[float] = []

    def on_request(self, request: httplib.Request) -> None:
        request.extensions["metrics.start"] = time.perf_counter()

    def on_response(self, response: httplib.Response) -> None:
        start = response.request.extensions["metrics.start"]
        self.seconds.append(time.perf_counter() - start)
        self.statuses[response.status_code] += 1

    def hooks(self) -> dict[str, list[object]]:
        return {"request": [self.on_request], "response": [self.on_response]}


def main(base_url: str) -> int:
    metrics = Metrics()
    with httplib.Client(base_url=base_url, event_hooks=metrics.hooks()) as client:  # type: ignore[arg-type]
        for path in ["/json", "/delay/0.1", "/status/404", "/redirect?to=/json"]:
            client.get(path, follow_redirects=True)
    print("responses by status:", dict(sorted(metrics.statuses.items())))
    print(
        f"time to head: median {statistics.median(metrics.seconds) * 1000:.1f} ms, "
        f"max {max(metrics.seconds) * 1000:.1f} ms"
    )
    # The redirect is seen as its own 302 response before the 200 it leads to.
    return 0 if metrics.statuses == {200: 3, 302: 1, 404: 1} else 1


if __name__ == "__main__":
    with serve() as url:
        sys.exit(main(url))
