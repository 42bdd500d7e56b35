"""The one table that maps foreign I/O errors to httplib's tree, per phase of an exchange.

Every backend raises through `map_exceptions(PHASE_ERRORS[phase])`, so the mapping is written
once; trio adds its own exception types through `extend_with`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Literal, NoReturn

from .._exceptions import (
    ConnectError,
    ConnectTimeout,
    NetworkError,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    mapped_exception,
)

__all__ = [
    "CONNECT",
    "HANDSHAKE_TIMED_OUT",
    "INNER_HANDSHAKE",
    "PHASE_ERRORS",
    "READ",
    "WRITE",
    "ErrorMap",
    "Phase",
    "extend_with",
    "mapped_error",
    "raise_mapped",
]

Phase = Literal["connect", "read", "write"]
ErrorMap = Mapping[type[BaseException], type[Exception]]

CONNECT: ErrorMap = {
    OSError: ConnectError,
    # A failed handshake or certificate check is a failure to connect, as httpx reports it.
    ssl.SSLError: ConnectError,
    ssl.CertificateError: ConnectError,
    TimeoutError: ConnectTimeout,
}
READ: ErrorMap = {OSError: ReadError, TimeoutError: ReadTimeout}
# TLS inside a TLS tunnel (tls_bio.py) moves its handshake through the outer stream, whose
# read and write errors are httplib's already: they are then the handshake's failure to connect.
INNER_HANDSHAKE: ErrorMap = {**CONNECT, NetworkError: ConnectError}
WRITE: ErrorMap = {OSError: WriteError, TimeoutError: WriteTimeout}

# The message of a TLS handshake cut off by the connect timeout, whichever runtime timed it
# (the sync backend's comes from the ssl module and says the same).
HANDSHAKE_TIMED_OUT = "The TLS handshake operation timed out"

PHASE_ERRORS: Mapping[Phase, ErrorMap] = {"connect": CONNECT, "read": READ, "write": WRITE}


def extend_with(
    extra: Mapping[Phase, Mapping[type[BaseException], type[Exception]]],
) -> dict[Phase, ErrorMap]:
    """The phase table with a runtime's own exception types added (e.g. trio's)."""
    return {phase: {**PHASE_ERRORS[phase], **extra.get(phase, {})} for phase in PHASE_ERRORS}


def raise_mapped(exc: BaseException, table: ErrorMap) -> NoReturn:
    """Raise `exc` as its httplib equivalent (chained), or unchanged when the table has none."""
    raise mapped_error(exc, table)


def mapped_error(exc: BaseException, table: ErrorMap) -> BaseException:
    """`exc` as its httplib equivalent with `exc` as its cause (what `raise ... from exc` sets),
    for raising or for a future to fail with; `exc` itself when the table has none."""
    mapped = mapped_exception(exc, table)
    if mapped is None:
        return exc
    mapped.__cause__ = exc
    mapped.__suppress_context__ = True
    return mapped
