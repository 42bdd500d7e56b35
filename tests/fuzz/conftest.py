"""Hypothesis settings for the fuzz tests: a short bounded run in `make test`, a long one in
`make fuzz` (HTTPLIB_FUZZ=<examples per test>, random and without a deadline)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_LONG = os.environ.get("HTTPLIB_FUZZ")

# `fuzz` decorates each fuzz test. It inherits the loaded profile (derandomized under CI, so a
# red build reproduces) for the short run; the long run explores afresh every time.
fuzz = settings(
    max_examples=int(_LONG) if _LONG else 120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    **({"derandomize": False} if _LONG else {}),
)
