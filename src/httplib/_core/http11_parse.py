"""HTTP/1.1 response grammar for `Http11State`: the limits, whole-unit parsers (status line,
field block, chunk-size line) and the checks that reject a unit still arriving as soon as no
further byte could make it valid (so a broken peer fails at once, not at the read timeout).

Every function raises `RemoteProtocolError` naming what is wrong and where; none keeps state.
"""

from __future__ import annotations

import re

from .._exceptions import RemoteProtocolError
from .._utils import TCHAR

__all__ = [
    "MAX_CHUNK_LINE_SIZE",
    "MAX_CHUNK_OVERHEAD",
    "MAX_HEADER_COUNT",
    "MAX_HEADER_LINE_SIZE",
    "MAX_HEAD_SIZE",
    "MAX_INTERIM",
    "MAX_STATUS_LINE_SIZE",
    "BLANK_LINE",
    "FIELD_BYTES",
    "FRAMING_NAMES",
    "OWS",
    "TOKEN",
    "VERSIONS",
    "Head",
    "check_partial_chunk_line",
    "check_partial_head",
    "content_length",
    "framing_from_fields",
    "framing_values",
    "head_end",
    "list_tokens",
    "normalize_lines",
    "parse_chunk_line",
    "parse_fields",
    "parse_head",
    "parse_head_slowly",
    "parse_status_line",
]

# Limits sit at curl's (lib/http.h, set for CVE-2023-38039), so every head a real server sends
# is accepted (a 16 KiB Set-Cookie beside a hundred other fields is ordinary) while an endless
# or huge head fails at a known bound. Each error message names the limit it hit.
# One field line (curl's CURL_MAX_HTTP_HEADER); a status line is a head line like any other.
MAX_HEADER_LINE_SIZE = 100 * 1024
MAX_STATUS_LINE_SIZE = MAX_HEADER_LINE_SIZE
# A whole head, status line included (curl's MAX_HTTP_RESP_HEADER_SIZE); also bounds a trailer
# section and bytes a server sends after a complete response.
MAX_HEAD_SIZE = 300 * 1024
# Fields in one head or trailer section (curl's MAX_HTTP_RESP_HEADER_COUNT).
MAX_HEADER_COUNT = 5000
# Interim (1xx) heads and empty lines before one final response. Each is bounded on its own, but
# a server sending them forever keeps every read inside the read timeout (CPython gh-150743,
# CVE-2021-3737): 100 is CPython's and Ruby net-http's cap, room for periodic 102 Processing or
# repeated 103 Early Hints, and bounds the bytes read before a final head to 100 heads' worth.
MAX_INTERIM = 100
# A chunk-size line with its extensions (RFC 9112 section 7.1.1), bounded like a field line.
MAX_CHUNK_LINE_SIZE = MAX_HEADER_LINE_SIZE
# Chunk framing bytes beyond 16 + twice the chunk's data, summed over a body (less what later
# chunks leave unused): past it the peer spends our reads on extensions, not data (Go's rule for
# CVE-2023-39326, with room for one maximal line).
MAX_CHUNK_OVERHEAD = MAX_CHUNK_LINE_SIZE

OWS = b" \t"
VERSIONS = {b"HTTP/1.1": True, b"HTTP/1.0": False}  # version -> persistent by default

# Bytes allowed in a head besides field separators: HTAB, SP, VCHAR, obs-text (RFC 9110 5.5).
FIELD_BYTES = bytes([9, *range(0x20, 0x7F), *range(0x80, 0x100)])
_HEAD_BYTES = FIELD_BYTES + b"\r\n"
_HEX = b"0123456789abcdefABCDEF"
_WS = (b" ", b"\t")

# The fast path parses a head with two C-level regex scans that accept only valid input (field
# values: HTAB, SP, VCHAR, obs-text; RFC 9110 section 5.5); anything they do not match is
# re-parsed line by line, which names the offending line or accepts the rare valid shape
# (obs-fold, bare-LF line ends, a head beyond a size check) they leave out.
_VALUE = rb"[\t\x20-\x7e\x80-\xff]"
TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # TCHAR as a regex class
_STATUS_LINE = re.compile(rb"(HTTP/1\.[01]) ([1-9][0-9]{2})(?: (" + _VALUE + rb"*))?\r\n")
# A field line with its trailing CRLF; `^` anchors at line starts (re.M). The value excludes
# leading OWS; a line with trailing OWS does not match (the lookbehind) and goes to the line
# parser, which strips it: matching it here cost every head 0.45 us of backtracking (8 fields).
_FIELD_LINE = re.compile(
    rb"^(" + TOKEN + rb"):[ \t]*(" + _VALUE + rb"*)(?<![ \t])\r\n",
    re.M,
)
# The fields that decide framing and persistence, found in a head already validated.
_FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding|connection):([^\r\n]*)", re.I)
FRAMING_NAMES = frozenset({b"content-length", b"transfer-encoding", b"connection"})
# The end of a head or trailer section: an empty line. RFC 9112 section 2.2 lets a recipient
# take a bare LF as a line end; h11 (so httpx) does, and so do curl, Go and browsers.
BLANK_LINE = re.compile(rb"\n\r?\n")
# What a status line may start with (cut anywhere), for rejecting one before its end arrives;
# a lone CR may yet be an empty line.
_STATUS_START = re.compile(
    rb"\r|H(?:T(?:T(?:P(?:/(?:1(?:\.(?:[01](?: (?:[1-9]"
    rb"(?:[0-9](?:[0-9](?:[ \r].*)?)?)?)?)?)?)?)?)?)?)?)?",
    re.S,
)
# What a chunk-size line may start with (no CR before its end): at most 20 hex digits as h11
# allows (leading zeros), BWS, then extensions of field bytes (RFC 9112 section 7.1.1).
_CHUNK_START = re.compile(rb"(?:[0-9A-Fa-f]{1,20}[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?\r?)?")
_MAX_CHUNK_DIGITS = 20
_CHUNK_SIZE_LIMIT = 1 << 64  # curl test1416: a size that overflows 64 bits is an error

Head = tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]  # version, status, reason, fields


def list_tokens(value: bytes) -> set[bytes]:
    """Lower-cased members of a comma-separated list header (RFC 9110 section 5.6.1)."""
    return {item.strip(OWS).lower() for item in value.split(b",")}


def parse_fields(block: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """Split a validated-charset field block (lines joined by CRLF) into raw name/value pairs."""
    fields: list[tuple[bytes, bytes]] = []
    append = fields.append
    for line in block.split(b"\r\n"):
        if line[:1] in _WS:
            # obs-fold: RFC 9112 section 5.2 has a user agent replace it with SP (h11 does).
            if not fields:
                raise RemoteProtocolError(
                    f"Invalid {what} line (continuation first): {line[:200]!r}"
                )
            name, value = fields[-1]
            fields[-1] = (name, (value + b" " + line.lstrip(OWS)).strip(OWS))
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name.translate(None, TCHAR):
            raise RemoteProtocolError(f"Invalid {what} line: {line[:200]!r}")
        append((name, value.strip(OWS)))
    if len(fields) > MAX_HEADER_COUNT:
        raise RemoteProtocolError(f"Too many {what}s: more than {MAX_HEADER_COUNT}")
    if len(block) > MAX_HEADER_LINE_SIZE:
        for line in block.split(b"\r\n"):
            if len(line) > MAX_HEADER_LINE_SIZE:
                name = line.partition(b":")[0][:200]
                msg = f"{what.capitalize()} {name!r} exceeds {MAX_HEADER_LINE_SIZE} bytes"
                raise RemoteProtocolError(msg)
    return fields


def normalize_lines(head: bytes, what: str) -> bytes:
    """`head` with every line ended by CRLF (a bare LF ends a line too, RFC 9112 section 2.2);
    rejects control bytes and a CR that ends no line."""
    if head.count(b"\n") != head.count(b"\r\n"):
        *ended, last = head.split(b"\n")  # (the last line's end is not part of `head`)
        head = b"\r\n".join([*[line.removesuffix(b"\r") for line in ended], last])
    lines = head.count(b"\r\n")
    if head.translate(None, _HEAD_BYTES) or head.count(b"\r") != lines:
        for line in head.split(b"\r\n"):
            if line.translate(None, FIELD_BYTES):
                raise RemoteProtocolError(f"Invalid character in {what}: {line[:200]!r}")
    return head


def framing_values(head: bytes, start: int, stop: int) -> dict[bytes, list[bytes]]:
    """Values of the Content-Length, Transfer-Encoding and Connection fields (lower-cased
    names) of the validated head in `head[start:stop]` (which must start with a CRLF)."""
    values: dict[bytes, list[bytes]] = {}
    for name, value in _FRAMING.findall(head, start, stop):
        values.setdefault(name.lower(), []).append(value.strip(OWS))
    return values


def framing_from_fields(fields: list[tuple[bytes, bytes]]) -> dict[bytes, list[bytes]]:
    """As `framing_values`, from parsed fields (after obs-fold or bare-LF line ends)."""
    values: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        lowered = name.lower()
        if lowered in FRAMING_NAMES:
            values.setdefault(lowered, []).append(value)
    return values


def parse_head(data: bytes, pos: int, end: int) -> Head | None:
    """Version, status, reason and fields of the head in `data[pos:end]` (CRLF line ends, the
    empty line at `end`), by two regex scans; None if they do not match it all (the head is
    then invalid, or a rarer valid shape)."""
    match = _STATUS_LINE.match(data, pos, end + 2)
    if match is None:
        return None
    version, code, reason = match.groups()
    fields_at = match.end()
    if fields_at - pos > MAX_STATUS_LINE_SIZE:
        return None
    if fields_at > end:
        return version, int(code), reason or b"", []
    headers = _FIELD_LINE.findall(data, fields_at, end + 2)
    if (
        len(headers) != data.count(b"\n", fields_at, end + 2)
        or len(headers) > MAX_HEADER_COUNT
        or end - fields_at > MAX_HEADER_LINE_SIZE
    ):
        return None
    return version, int(code), reason or b"", headers


def parse_status_line(line: bytes) -> tuple[bytes, int, bytes]:
    """Version, status and reason of a status line (without its line end): `HTTP/1.x`, a
    three-digit status of 100-999 (RFC 9110 section 15; h11 rejects others too), an optional
    reason of field bytes."""
    if len(line) > MAX_STATUS_LINE_SIZE:
        raise RemoteProtocolError(f"Status line exceeds {MAX_STATUS_LINE_SIZE} bytes")
    version = line[:8]
    code = line[9:12]
    if (
        version not in VERSIONS
        or line[8:9] != b" "
        or not code.isdigit()
        or len(code) != 3
        or code[0] == 0x30  # "0": no status below 100 exists
        or line[12:13] not in (b" ", b"")
        or line.translate(None, FIELD_BYTES)
    ):
        raise RemoteProtocolError(f"Invalid status line: {line[:200]!r}")
    return version, int(code), line[13:]


def parse_head_slowly(head: bytes) -> Head:
    """Version, status, reason and fields of a head the fast path did not match (line ends
    CRLF or bare LF, without the empty line): validates it part by part so the error names
    what is wrong."""
    head = normalize_lines(head, "response head")
    status_line, _, block = head.partition(b"\r\n")
    version, status, reason = parse_status_line(status_line)
    headers = parse_fields(block, "header") if block else []
    return version, status, reason, headers


def head_end(data: bytes | bytearray, pos: int, stop: int = -1) -> tuple[int, int] | None:
    """Where the head or trailer section starting at `pos` ends (its last line's end, exclusive
    of that line's CR) and where what follows starts; None if its empty line has not arrived."""
    match = BLANK_LINE.search(data, pos) if stop < 0 else BLANK_LINE.search(data, pos, stop)
    if match is None:
        return None
    end = match.start()
    if end > pos and data[end - 1] == 0x0D:
        end -= 1
    return end, match.end()


def content_length(values: list[bytes]) -> int:
    """One length from possibly repeated or listed values (RFC 9110 section 8.6)."""
    lengths = {item.strip(OWS) for value in values for item in value.split(b",")}
    if len(lengths) != 1:
        raise RemoteProtocolError(f"Conflicting Content-Length headers: {values!r}")
    (length,) = lengths
    # At most 18 digits: checked before int() so a million-digit value costs nothing (h11 #181).
    if not length.isdigit() or len(length) > 18:
        raise RemoteProtocolError(f"Invalid Content-Length header: {length[:200]!r}")
    return int(length)


def parse_chunk_line(line: bytes) -> int:
    """The size of a chunk-size line (without its CRLF): 1 to 20 hex digits below 2**64,
    optional BWS and extensions of field bytes (RFC 9112 section 7.1.1)."""
    size, _, extensions = line.partition(b";")
    size = size.rstrip(OWS)  # RFC 9112 section 7.1.1 allows BWS before an extension
    if not size or size.translate(None, _HEX) or len(size) > _MAX_CHUNK_DIGITS:
        raise RemoteProtocolError(f"Invalid chunk size line: {line[:200]!r}")
    if extensions and extensions.translate(None, FIELD_BYTES):
        raise RemoteProtocolError(f"Invalid chunk extension: {line[:200]!r}")
    value = int(size, 16)
    if value >= _CHUNK_SIZE_LIMIT:
        raise RemoteProtocolError(f"Chunk size exceeds 2**64: {size[:200]!r}")
    return value


def check_partial_chunk_line(buf: bytearray, checked: int) -> None:
    """Reject a chunk-size line (no CRLF yet) that no further byte could make valid; bytes
    before `checked` passed this check already (so a trickled line costs linear time)."""
    size = len(buf)
    if size > MAX_CHUNK_LINE_SIZE:
        raise RemoteProtocolError(f"Chunk size line exceeds {MAX_CHUNK_LINE_SIZE} bytes")
    start = max(checked - 1, 0)  # a CR that ended the last check must now be followed by LF
    bad = buf[start : size - 1].translate(None, FIELD_BYTES) or bytes(buf[-1:]).translate(
        None, FIELD_BYTES + b"\r"
    )
    head = bytes(buf[:32])
    if bad or _CHUNK_START.fullmatch(head) is None:
        if b"\n" in buf:  # Go's CVE-2025-22871: a bare LF never ends a chunk-size line
            raise RemoteProtocolError(f"Chunk size line ends in a bare LF: {head!r}")
        digits_part, semicolon, _ = head.partition(b";")
        if semicolon and not digits_part.rstrip(OWS).translate(None, _HEX):
            raise RemoteProtocolError(f"Invalid chunk extension: {head!r}")
        raise RemoteProtocolError(f"Invalid chunk size line: {head!r}")
    digits = len(head) - len(head.lstrip(_HEX))
    if digits > 16 and int(head[:digits], 16) >= _CHUNK_SIZE_LIMIT:
        raise RemoteProtocolError(f"Chunk size exceeds 2**64: {head[:digits]!r}")


def check_partial_head(buf: bytearray, checked: int, line_start: int, what: str) -> int:
    """Reject a head or trailer section still arriving once it holds a byte no head may hold,
    a CR that ends no line, an invalid start of a status line (for a response head) or a line
    over its limit. Bytes before `checked` passed this check already and the last line started
    at `line_start`; returns where the last line starts now (so a trickled head costs linear
    time)."""
    size = len(buf)
    start = max(checked - 1, 0)
    # Every CR in the new bytes (and the one that ended the last check) must start a CRLF.
    if buf[checked:size].translate(None, _HEAD_BYTES) or buf.count(
        b"\r", start, size - 1
    ) != buf.count(b"\r\n", start, size):
        lines = bytes(buf).replace(b"\r\n", b"\n").split(b"\n")
        bad = next((line for line in lines[:-1] if line.translate(None, FIELD_BYTES)), lines[-1])
        raise RemoteProtocolError(f"Invalid character in {what}: {bad[:200]!r}")
    first_line = line_start == 0
    line_start = max(line_start, buf.rfind(b"\n", checked, size) + 1)
    if what == "response head":
        if line_start == 0:
            if _STATUS_START.fullmatch(buf, 0, min(size, 13)) is None:
                raise RemoteProtocolError(f"Invalid status line: {bytes(buf[:200])!r}")
            if size > MAX_STATUS_LINE_SIZE:
                raise RemoteProtocolError(f"Status line exceeds {MAX_STATUS_LINE_SIZE} bytes")
        elif first_line:  # the status line just ended: check it now
            first = bytes(buf[: buf.find(b"\n")]).removesuffix(b"\r")
            parse_status_line(first)
        if size > MAX_HEAD_SIZE:
            raise RemoteProtocolError(f"Response head exceeds {MAX_HEAD_SIZE} bytes")
    elif size > MAX_HEAD_SIZE:
        raise RemoteProtocolError(f"{what.capitalize()} exceeds {MAX_HEAD_SIZE} bytes")
    if size - line_start > MAX_HEADER_LINE_SIZE:
        name = bytes(buf[line_start : line_start + 200]).partition(b":")[0]
        kind = "Header" if what == "response head" else "Trailer"
        raise RemoteProtocolError(f"{kind} {name!r} exceeds {MAX_HEADER_LINE_SIZE} bytes")
    return line_start
