"""Every Python block in docs/*.md runs here, against the suite's loopback servers.

The pages write `https://example.org` for a plain server and `https://secure.example.org` for
one with a certificate from `ca.pem`; each block runs in a fresh directory holding `ca.pem`
(the test CA) and a client certificate in the three shapes the TLS page shows, with those
two origins replaced by the uvicorn test app's URLs (`tests/servers/app.py` lists its
endpoints); `http://user:secret@proxy.example.org:3128` becomes the suite's pproxy forward
proxy with its own credentials. A block that needs the outside world (a token server, say)
is fenced as ```python {test="skip" reason="..."}``` and reported as skipped with that reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from pytest_examples import CodeExample, find_examples

from servers.asgi_servers import RunningServer
from servers.proxies import RunningProxy

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = [example for example in find_examples(DOCS) if example.path.suffix == ".md"]

# Where each placeholder origin goes: longest first, so one is never a prefix of the other.
PLAIN = "https://example.org"
SECURE = "https://secure.example.org"
# A forward proxy wanting Basic credentials: pproxy, started only for the blocks that name it.
PROXY = "http://user:secret@proxy.example.org:3128"


def _example_id(example: CodeExample) -> str:
    return f"{example.path.relative_to(DOCS)}:{example.start_line}"


def test_the_docs_have_examples() -> None:
    # A path or glob that found nothing would make every other test here vanish silently.
    pages = {example.path.name for example in EXAMPLES}
    assert {"quickstart.md", "streaming.md", "testing.md"} <= pages


@pytest.fixture
def docs_dir(tmp_path: Path, tls_ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the files the examples name: a CA and a client certificate."""
    tls_ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client = tls_ca.issue_cert("client.example.org")
    client.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    client.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    client.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "client.pem"))
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login user password secret\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.network
# The TLS page shows the `verify=<str>` and `cert=` forms httpx 0.28 deprecates (and warns about).
@pytest.mark.filterwarnings("ignore:`(verify=<str>|cert=...)` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("example", EXAMPLES, ids=_example_id)
def test_docs_example(
    example: CodeExample,
    request: pytest.FixtureRequest,
    uvicorn_server: RunningServer,
    uvicorn_tls_server: RunningServer,
    docs_dir: Path,
) -> None:
    settings = example.prefix_settings()
    if settings.get("test") == "skip":
        pytest.skip(settings.get("reason", "marked skip in the page"))
    source = example.source
    if PROXY in source:
        proxy: RunningProxy = request.getfixturevalue("http_proxy_auth")
        source = source.replace(PROXY, proxy.url)
    source = source.replace(SECURE, uvicorn_tls_server.url).replace(PLAIN, uvicorn_server.url)
    # Run as the page's own lines (padded to the fence's line number), so a failure's traceback
    # points into the Markdown file and shows its text; pytest-examples' own runner rebuilds
    # frames in a way CPython 3.11's traceback printer cannot format.
    code = compile("\n" * example.start_line + source, str(example.path), "exec")
    exec(code, {"__name__": f"docs_example_{example.path.stem}"})
