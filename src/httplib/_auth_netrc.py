"""`NetRCAuth`: Basic credentials from a netrc file. It reads a file, so it lives outside the
sans-I/O core; the header it sends is built by the core's Basic scheme."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from ._core.auth import Auth, basic_auth_header

if TYPE_CHECKING:
    from ._models import Request, Response

__all__ = ["NetRCAuth"]


class NetRCAuth(Auth):
    """Basic authentication with credentials looked up by host in a netrc file.

    `file=None` reads `~/.netrc`; a missing file raises `FileNotFoundError` and a malformed one
    `netrc.NetrcParseError`, both at construction, as the stdlib `netrc` module does.
    """

    def __init__(self, file: str | None = None) -> None:
        import netrc  # (on use: few clients read a netrc file)

        self._netrc_info = netrc.netrc(file)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        credentials = self._netrc_info.authenticators(request.url.host)
        # An entry without a password gives no usable credentials: send the request as is.
        if credentials is not None and credentials[2]:
            login, _, password = credentials
            request.headers["Authorization"] = basic_auth_header(login, password)
        yield request
