"""What the soak serves and asks for: the files, the request mix and how a response is checked.

Shared by the orchestrator (writes the files), the scripted HTTP/2 peer (serves them) and the
worker (asks for them and verifies every body by length and SHA-256). Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

SMALL = "small.bin"
BIG = "big.bin"
TEXT = "gz/text.txt"  # served gzip-encoded: every server compresses text/plain

# One request in 11 is a 1 MiB body (the mix); the rest are small bodies, gzip and 404s.
MIX = ("big", "small", "gzip", "small", "404", "small", "gzip", "small", "404", "small", "gzip")
# Where the server has an endpoint that reads a request body and answers with its length, one
# request in UPLOAD_EVERY is an 8 MiB POST: a server acknowledging it with a WINDOW_UPDATE per
# 16 KiB (lighttpd) sends more than 500 of them before it answers. Another one in UPLOAD_EVERY
# is the same POST with an Idempotency-Key header ("keyed"): one a reload cuts before its answer
# may be sent again, so none may fail (a plain upload may: its server may have acted on it).
# A third ("expect") sends `Expect: 100-continue`: one cut before the server's 100 carried none
# of its body and is sent again; one cut after may still fail.
UPLOAD_EVERY = 100
UPLOAD_KINDS = ("upload", "keyed", "expect")
UPLOAD_SIZE = 8 << 20
UPLOAD_BODY = bytes(range(256)) * (UPLOAD_SIZE // 256)


def write_files(www: Path) -> dict[str, dict[str, object]]:
    """Writes the files from fixed seeds; returns path -> size and sha256 of the decoded body."""
    rng = random.Random("httplib-soak")
    words = [rng.randbytes(rng.randint(2, 9)).hex() for _ in range(400)]
    text = " ".join(rng.choice(words) for _ in range(12_000)).encode()
    blobs = {SMALL: rng.randbytes(2048), BIG: rng.randbytes(1 << 20), TEXT: text}
    meta: dict[str, dict[str, object]] = {}
    for name, data in blobs.items():
        path = www / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        meta[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (www.parent / "meta.json").write_text(json.dumps(meta))
    return meta


def plan(index: int, upload: str | None = None) -> tuple[str, str, dict[str, str]]:
    """The index-th request: (kind, path, headers); `upload` is the server's upload path."""
    if upload is not None and index % UPLOAD_EVERY == UPLOAD_EVERY // 2:
        return "upload", upload, {}
    if upload is not None and index % UPLOAD_EVERY == UPLOAD_EVERY - 1:
        return "keyed", upload, {"idempotency-key": f"soak-{index}"}
    if upload is not None and index % UPLOAD_EVERY == UPLOAD_EVERY // 4:
        return "expect", upload, {"expect": "100-continue"}
    kind = MIX[index % len(MIX)]
    if kind == "big":
        return kind, "/" + BIG, {}
    if kind == "gzip":
        # Only gzip, so a server able to do br or zstd still has to use the gzip path.
        return kind, "/" + TEXT, {"accept-encoding": "gzip"}
    if kind == "404":
        return kind, f"/missing/{index}", {}
    return kind, "/" + SMALL, {}


def check(
    kind: str, status: int, headers: dict[str, str], body: bytes, meta: dict[str, dict[str, object]]
) -> str | None:
    """None when the response is right, else what is wrong with it (a failure of the run)."""
    if kind in UPLOAD_KINDS:
        if status != 200 or body.strip() != str(UPLOAD_SIZE).encode():
            return f"upload answered {status} {body[:40]!r}, expected 200 {UPLOAD_SIZE}"
        return None
    if kind == "404":
        return None if status == 404 else f"status {status} for a missing file, expected 404"
    if status != 200:
        return f"status {status} for {kind}, expected 200"
    name = {"big": BIG, "small": SMALL, "gzip": TEXT}[kind]
    want = meta[name]
    if len(body) != want["size"]:
        return f"{kind} body of {len(body)} bytes, expected {want['size']}"
    if hashlib.sha256(body).hexdigest() != want["sha256"]:
        return f"{kind} body checksum mismatch"
    if kind == "gzip" and headers.get("content-encoding", "").lower() != "gzip":
        return f"gzip file arrived with content-encoding {headers.get('content-encoding')!r}"
    return None
