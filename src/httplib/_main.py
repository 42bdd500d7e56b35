"""The command-line client: `httplib URL [OPTIONS]`, with the options and output of httpx's CLI.

It prints each response's status line and headers (and, with `--verbose`, the connection, TLS
and request details), then the final body pretty-printed by content type, or streams it to a
file with `--download`. The exit code is 0 for a 2xx final response, 1 for any other response
or a request error, 2 for bad usage (click's convention).

Our transport has no connection-level trace callbacks, so verbose mode builds its connection
report from event hooks: the request hook announces a connection to each new origin and the
response hook describes each new network stream (`response.extensions["network_stream"]`).

Needs the `cli` extra (click, rich, pygments). `httplib.main` is this command, imported on first
use; without the extra it prints one line naming the extra and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, NoReturn

import click

# No stubs ship with pygments (types-Pygments is not a dependency); its two calls here are simple.
import pygments.lexers  # type: ignore[import-untyped, unused-ignore]
import pygments.util  # type: ignore[import-untyped, unused-ignore]
import rich.console
import rich.markup
import rich.progress
import rich.syntax
import rich.table
import rich.text

from ._client import Client
from ._content import filelike_size
from ._exceptions import InvalidURL, RequestError
from ._models import Request, Response

__all__ = ["main"]

# Errors reported as one line and exit code 1 rather than a traceback: transport and protocol
# failures (a proxy's among them), and malformed URLs.
REPORTED_ERRORS: tuple[type[Exception], ...] = (RequestError, InvalidURL)

BODY_OPTIONS = ("content", "data", "files", "json")
SYNTAX_THEME = "ansi_dark"
EXIT_FAILURE = 1

Pairs = tuple[tuple[str, str], ...]


def _console() -> rich.console.Console:
    # Created per call so that output goes to whatever sys.stdout is now (click's test runner
    # swaps it); FORCE_COLOR / NO_COLOR and terminal detection are left to rich.
    return rich.console.Console()


# ------------------------------------------------------------------------------------ help


def _option_label(param: click.Parameter) -> str:
    """`-p, --params <NAME VALUE> ...` for the help table: flags, then the metavar, if any."""
    if not isinstance(param, click.Option):
        return param.human_readable_name
    label = ", ".join(sorted(param.opts, key=len))
    if param.is_flag:
        return label
    metavar = param.metavar or param.type.name.upper()
    more = " ..." if param.multiple else ""
    return f"{label} {metavar}{more}"


def print_help(ctx: click.Context) -> None:
    """The rich `--help` screen, built from the command's own parameters so it cannot drift."""
    console = _console()
    console.print("[bold]HTTPLIB[/bold]", justify="center")
    console.print("A fast, robust HTTP client with httpx's API.", justify="center")
    console.print()
    console.print(f"Usage: [bold]{ctx.info_name or 'httplib'}[/bold] [cyan]<URL> [OPTIONS][/cyan]")
    console.print()
    table = rich.table.Table.grid(padding=1, pad_edge=True)
    table.add_column("Option", no_wrap=True, justify="left", style="bold")
    table.add_column("Description", justify="left", no_wrap=False)
    for param in ctx.command.params:
        if isinstance(param, click.Option):
            label = rich.text.Text(_option_label(param))
            table.add_row(label, rich.text.Text(param.help or ""))
    console.print(table)


def _help_callback(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        print_help(ctx)
        ctx.exit(0)


# ------------------------------------------------------------------------- option parsing


def _parse_json(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"Not valid JSON: {value!r} ({exc.msg})") from None


def _parse_auth(
    ctx: click.Context, param: click.Parameter, value: tuple[str | None, str | None]
) -> tuple[str, str] | None:
    username, password = value
    if username is None or password is None:
        return None
    if password == "-":
        # '-' keeps the password out of the shell history and the process list.
        password = click.prompt("Password", hide_input=True)
    return username, password


# ------------------------------------------------------------------------------ rendering


def _decoded(raw: Iterable[tuple[bytes, bytes]], encoding: str) -> Iterator[str]:
    for name, value in raw:
        yield f"{name.decode(encoding)}: {value.decode(encoding)}"


def _print_head(console: rich.console.Console, lines: list[str]) -> None:
    """A message head, highlighted as HTTP on a terminal, followed by the blank line."""
    text = "\n".join(lines)
    if console.is_terminal:
        console.print(rich.syntax.Syntax(text, "http", theme=SYNTAX_THEME, word_wrap=True))
    else:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print()


def print_request_head(console: rich.console.Console, request: Request, http_version: str) -> None:
    """`GET /path?query HTTP/1.1` and the request headers as sent."""
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} {http_version}"]
    lines.extend(_decoded(request.headers.raw, request.headers.encoding))
    _print_head(console, lines)


def print_response_head(console: rich.console.Console, response: Response) -> None:
    """`HTTP/1.1 200 OK` and the response headers as received."""
    lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}"]
    lines.extend(_decoded(response.headers.raw, response.headers.encoding))
    _print_head(console, lines)


def _lexer_name(response: Response) -> str | None:
    """The pygments lexer for the body's media type; None when the body is binary."""
    media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return "json"
    if media_type:
        try:
            return str(pygments.lexers.get_lexer_for_mimetype(media_type).aliases[0])
        except (pygments.util.ClassNotFound, IndexError):
            pass
    # A declared charset says the bytes are text even when no lexer knows the media type.
    return "text" if response.charset_encoding is not None else None


def _json_text(response: Response) -> str:
    """JSON re-indented for reading; the body as is when it does not parse."""
    try:
        return json.dumps(response.json(), indent=4)
    except ValueError:
        return response.text


def print_response_body(console: rich.console.Console, response: Response) -> None:
    """The body: JSON indented, other text highlighted by media type, binary as a byte count."""
    if not response.content:
        return
    lexer = _lexer_name(response)
    if lexer is None:
        console.print(f"<{len(response.content)} bytes of binary data>", markup=False)
        return
    text = _json_text(response) if lexer == "json" else response.text
    if console.is_terminal:
        console.print(rich.syntax.Syntax(text, lexer, theme=SYNTAX_THEME, word_wrap=True))
    else:
        # Piped output stays byte-faithful: no highlighting and no wrapping at 80 columns.
        console.print(text, markup=False, highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------- verbose reporting


def _certificate_lines(certificate: dict[str, Any]) -> Iterator[str]:
    """The peer certificate (as `SSLSocket.getpeercert()` gives it), one field a line."""
    for key, value in certificate.items():
        if key in ("subject", "issuer"):
            yield f"*   {key}:"
            for rdn in value:
                for name, field in rdn:
                    yield f"*     {name}: {field!r}"
        elif key == "subjectAltName":
            yield f"*   {key}:"
            for kind, field in value:
                yield f"*     {kind}: {field!r}"
        else:
            yield f"*   {key}: {value!r}"


def connection_lines(stream: Any) -> Iterator[str]:
    """What verbose mode says about a new connection: peer address, then TLS details if any."""
    server_addr = stream.get_extra_info("server_addr")
    if server_addr:
        yield f"* Connected to {server_addr[0]!r} on port {server_addr[1]}"
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return
    cipher = ssl_object.cipher()
    yield f"* SSL established using {ssl_object.version()!r} / {cipher[0] if cipher else None!r}"
    yield f"* Selected ALPN protocol: {ssl_object.selected_alpn_protocol()!r}"
    # Empty when verification is off: the ssl module only decodes a validated certificate.
    certificate = ssl_object.getpeercert()
    if certificate:
        yield "* Server certificate:"
        yield from _certificate_lines(certificate)


class Reporter:
    """Event hooks that print each exchange as it happens (heads only; the body comes last)."""

    def __init__(self, console: rich.console.Console, verbose: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.announced: set[tuple[bytes, bytes, int | None]] = set()
        self.streams_seen: list[Any] = []  # kept alive so that identity checks stay valid
        self.before_response: list[Callable[[], object]] = []

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def on_request(self, request: Request) -> None:
        origin = (request.url.raw_scheme, request.url.raw_host, request.url.port)
        if self.verbose and origin not in self.announced:
            # Printed before sending so that a refused connection still shows where it went.
            self.announced.add(origin)
            self._say(f"* Connecting to {request.url.host!r}")

    def on_response(self, response: Response) -> None:
        for callback in self.before_response:
            callback()
        if self.verbose:
            stream = response.extensions.get("network_stream")
            if stream is not None and not any(s is stream for s in self.streams_seen):
                self.streams_seen.append(stream)
                for line in connection_lines(stream):
                    self._say(line)
            print_request_head(self.console, response.request, response.http_version)
        print_response_head(self.console, response)

    def hooks(self) -> dict[str, list[Callable[..., Any]]]:
        return {"request": [self.on_request], "response": [self.on_response]}


# ------------------------------------------------------------------------------ download


def download_response(response: Response, file: IO[bytes]) -> None:
    """Stream the (decoded) body into `file` under a progress bar sized by Content-Length: bytes
    so far of the total, speed and time remaining."""
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    name = rich.markup.escape(getattr(file, "name", "file"))
    with transfer_progress(_console()) as progress:
        task = progress.add_task(f"Downloading [bold]{name}", total=total)
        for chunk in response.iter_bytes():
            file.write(chunk)
            progress.update(task, completed=response.num_bytes_downloaded)


class _ProgressFile:
    """A file being uploaded: reads pass through and move its bar; a rewind (the multipart
    body seeks to 0 before sending, and again on a redirect replay) moves the bar back."""

    def __init__(self, file: IO[bytes], progress: rich.progress.Progress) -> None:
        self._file = file
        self._progress = progress
        self.name = getattr(file, "name", "file")
        label = rich.markup.escape(os.path.basename(str(self.name)))
        self._task = progress.add_task(f"Uploading [bold]{label}", total=filelike_size(file))

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._progress.advance(self._task, len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._file.seek(offset, whence)
        self._progress.update(self._task, completed=position)
        return position

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return self._file.seekable()

    def fileno(self) -> int:
        return self._file.fileno()


def transfer_progress(console: rich.console.Console) -> rich.progress.Progress:
    """Bars for a download or for files being uploaded: bytes so far of the total, speed and
    time remaining."""
    return rich.progress.Progress(
        "[progress.description]{task.description}",
        "[progress.percentage]{task.percentage:>3.0f}%",
        rich.progress.BarColumn(bar_width=None),
        rich.progress.DownloadColumn(),
        rich.progress.TransferSpeedColumn(),
        rich.progress.TimeRemainingColumn(),
        console=console,
    )


# ---------------------------------------------------------------------------------- main


def _report_error(console: rich.console.Console, exc: Exception) -> NoReturn:
    message = rich.text.Text.assemble((type(exc).__name__, "red"), ": ", str(exc))
    console.print(message)
    sys.exit(EXIT_FAILURE)


def _send(
    console: rich.console.Console,
    client_options: dict[str, Any],
    request_options: dict[str, Any],
    download: IO[bytes] | None,
) -> Response:
    """Run the exchange, printing as it goes; returns the final response (body consumed)."""
    with (
        Client(**client_options) as client,
        client.stream(**request_options) as response,
    ):
        if download is not None:
            download_response(response, download)
        else:
            response.read()
            print_response_body(console, response)
    return response


def _pairs_option(*flags: str, help: str) -> Callable[[Any], Any]:
    """A repeatable `NAME VALUE` option (params, data, headers, cookies)."""
    return click.option(*flags, type=(str, str), multiple=True, metavar="<NAME VALUE>", help=help)


def _pairs(values: Pairs) -> list[tuple[str, str]] | None:
    return list(values) if values else None


def _form(values: Pairs) -> dict[str, list[str]] | None:
    """Form fields with every value kept: `-d tag a -d tag b` sends `tag=a&tag=b`."""
    if not values:
        return None
    form: dict[str, list[str]] = {}
    for name, value in values:
        form.setdefault(name, []).append(value)
    return form


@click.command(name="httplib", add_help_option=False)
@click.argument("url", type=str)
@click.option(
    "--method",
    "-m",
    type=str,
    metavar="METHOD",
    help=(
        "Request method, such as GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD. "
        "[Default: GET, or POST if a request body is included]"
    ),
)
@_pairs_option("--params", "-p", help="Query parameters to include in the request URL.")
@click.option("--content", "-c", type=str, help="Byte content to include in the request body.")
@_pairs_option("--data", "-d", help="Form data to include in the request body.")
@click.option(
    "--files",
    "-f",
    type=(str, click.File(mode="rb")),
    multiple=True,
    metavar="<NAME FILENAME>",
    help="Form files to include in the request body.",
)
@click.option(
    "--json",
    "-j",
    type=str,
    callback=_parse_json,
    help="JSON data to include in the request body.",
)
@_pairs_option("--headers", "-h", help="Include additional HTTP headers in the request.")
@_pairs_option("--cookies", help="Cookies to include in the request.")
@click.option(
    "--auth",
    type=(str, str),
    default=(None, None),
    callback=_parse_auth,
    metavar="<USER PASS>",
    help=(
        "Username and password to include in the request. Specify '-' for the password to use "
        "a password prompt. Note that using --verbose/-v will expose the Authorization header, "
        "including the password encoding in a trivially reversible format."
    ),
)
@click.option(
    "--proxy",
    type=str,
    default=None,
    metavar="URL",
    help="Send the request via a proxy. Should be the URL giving the proxy address.",
)
@click.option(
    "--timeout",
    type=float,
    default=5.0,
    help=(
        "Timeout value to use for network operations, such as establishing the connection, "
        "reading some data, etc... [Default: 5.0]"
    ),
)
@click.option(
    "--follow-redirects", is_flag=True, default=False, help="Automatically follow redirects."
)
@click.option(
    "--no-verify",
    "verify",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Disable SSL verification.",
)
@click.option(
    "--http2",
    is_flag=True,
    default=False,
    help="Send the request using HTTP/2, if the remote server supports it.",
)
@click.option(
    "--download",
    type=click.File("wb"),
    metavar="FILE",
    help="Save the response content as a file, rather than displaying it.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    default=False,
    help="Verbose output. Show request as well as response.",
)
@click.option(
    "--help",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_help_callback,
    help="Show this message and exit.",
)
def main(
    url: str,
    method: str | None,
    params: Pairs,
    content: str | None,
    data: Pairs,
    files: tuple[tuple[str, IO[bytes]], ...],
    json: Any,
    headers: Pairs,
    cookies: Pairs,
    auth: tuple[str, str] | None,
    proxy: str | None,
    timeout: float,
    follow_redirects: bool,
    verify: bool,
    http2: bool,
    download: IO[bytes] | None,
    verbose: bool,
) -> None:
    """An HTTP client on the command line: send one request and show the response."""
    console = _console()
    has_body = content is not None or data or files or json is not None
    reporter = Reporter(console, verbose)
    sent_files: list[tuple[str, Any]] | None = list(files) if files else None
    uploads: rich.progress.Progress | None = None
    if sent_files and console.is_terminal:
        # Bars for people watching; piped output keeps httpx's shape. Stopped when the first
        # response head arrives, so the heads print below the finished bars.
        uploads = transfer_progress(console)
        sent_files = [(name, _ProgressFile(file, uploads)) for name, file in sent_files]
        reporter.before_response.append(uploads.stop)
        uploads.start()
    client_options = {
        "proxy": proxy,
        "timeout": timeout,
        "verify": verify,
        "http2": http2,
        "event_hooks": reporter.hooks(),
    }
    request_options = {
        "method": (method or ("POST" if has_body else "GET")).upper(),
        "url": url,
        # Only given -p replaces the URL's own query string (an empty list would clear it).
        "params": _pairs(params),
        "content": content,
        "data": _form(data),
        "files": sent_files,
        "json": json,
        "headers": _pairs(headers),
        "cookies": dict(cookies) if cookies else None,
        "auth": auth,
        "follow_redirects": follow_redirects,
    }
    try:
        response = _send(console, client_options, request_options, download)
    except REPORTED_ERRORS as exc:
        _report_error(console, exc)
    finally:
        if uploads is not None:
            uploads.stop()
    sys.exit(0 if response.is_success else EXIT_FAILURE)
