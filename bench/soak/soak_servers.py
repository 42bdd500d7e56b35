"""The servers under soak: each run from its own config in a temp dir, on free loopback ports.

Never the system service: the config templates next to this file (`@NAME@` placeholders) put
pids, logs and runtime files in the work dir. Every server runs in the foreground in its own
process group, so `stop()` ends it and every child it forked, and `reload()` is the server's
own graceful reload (signal or command), sent while requests are in flight.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/, for the benchmark's own server helpers

from server import free_ports  # noqa: E402

ROOT_USER = os.geteuid() == 0


def which(*candidates: str) -> str | None:
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    return None


# A CGI program for the servers that run one: reads the whole body, answers with its length.
UPLOAD_CGI = """#!/bin/sh
n=$(wc -c)
printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n%s' "$n"
"""


def write_upload_cgi(workdir: Path) -> None:
    (workdir / "cgi").mkdir(mode=0o755, exist_ok=True)
    script = workdir / "cgi" / "upload.sh"
    script.write_text(UPLOAD_CGI)
    script.chmod(0o755)


class ServerError(RuntimeError):
    """A server that is installed did not start or reload: the soak fails, with its log."""


class Server:
    name = ""
    protocols: tuple[str, ...] = ("h1", "h2", "h2c")
    template = ""
    port_names: tuple[str, ...] = ("H1", "TLS")
    # A path that reads a POST body and answers with its length (None: no such endpoint).
    upload_path: str | None = None

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir / self.name
        self.workdir.mkdir(mode=0o755)
        for name in ("server.pem", "server.key"):
            shutil.copy(workdir / name, self.workdir / name)
        (self.workdir / "www").symlink_to(workdir / "www")
        self.ports = dict(zip(self.port_names, free_ports(len(self.port_names)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None
        self.reloads = 0

    # --- what a subclass says ---
    def binary(self) -> str | None:
        raise NotImplementedError

    def command(self, binary: str, config: Path) -> list[str]:
        raise NotImplementedError

    def send_reload(self) -> None:
        raise NotImplementedError

    def substitutions(self) -> dict[str, str]:
        return {}

    def urls(self) -> dict[str, str]:
        plain, tls = self.ports["H1"], self.ports["TLS"]
        return {
            "h1": f"http://127.0.0.1:{plain}",
            "h2": f"https://127.0.0.1:{tls}",
            "h2c": f"http://127.0.0.1:{self.ports.get('H2C', plain)}",
        }

    def version(self) -> str:
        return ""

    def summary(self) -> str:
        """After stop(): what the server saw, where it can say (the scripted peer does)."""
        return ""

    # --- shared ---
    def _version_text(self, *args: str) -> str:
        """What the server binary prints (stdout and stderr) when run with `args`."""
        out = subprocess.run([self.binary() or self.name, *args], capture_output=True, text=True)
        return out.stdout + out.stderr

    def _version_match(self, pattern: str, *args: str) -> str:
        """The first group of `pattern` in the binary's output for `args`, or ""."""
        match = re.search(pattern, self._version_text(*args))
        return match.group(1) if match else ""

    def missing(self) -> str | None:
        """Why this server cannot run here, or None."""
        if self.binary() is None:
            return f"{self.name} is not installed (bench/soak/setup.sh installs it)"
        return None

    def render(self) -> Path:
        if self.upload_path and self.upload_path.startswith("/cgi/"):
            write_upload_cgi(self.workdir)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        text = (HERE / self.template).read_text()
        subs = {"DIR": str(self.workdir), **self.substitutions()}
        subs.update({f"PORT_{k}": str(v) for k, v in self.ports.items()})
        for key, value in subs.items():
            text = text.replace(f"@{key}@", value)
        leftover = re.findall(r"@[A-Z0-9_]+@", text)
        if leftover:
            raise ServerError(f"{self.template}: unfilled placeholders {leftover}")
        config = self.workdir / Path(self.template).name
        config.write_text(text)
        return config

    def start(self) -> None:
        binary = self.binary()
        assert binary is not None
        config = self.render()
        log = open(self.workdir / "stdout.log", "wb")  # noqa: SIM115 - lives as long as the server
        env = {
            **os.environ,
            "HOME": str(self.workdir),
            "XDG_DATA_HOME": str(self.workdir),
            "XDG_CONFIG_HOME": str(self.workdir),
        }
        self.proc = subprocess.Popen(
            self.command(binary, config),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        for port in self.ports.values():
            self.wait_port(port, 20.0)

    def wait_port(self, port: int, timeout: float) -> None:
        """Polls until the port accepts, bounded; waiting on the process between tries ends the
        wait early (with its log) when the server exits instead."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
                return
            except OSError:
                pass
            try:
                code = self.proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise ServerError(f"{self.name} exited with {code} on start:\n{self.log_tail()}")
        raise ServerError(f"{self.name}: port {port} not open after {timeout} s\n{self.log_tail()}")

    def reload(self) -> None:
        self.reloads += 1
        self.send_reload()

    def log_tail(self) -> str:
        out = []
        for log in (self.workdir / "stdout.log", self.workdir / "error.log"):
            if log.exists():
                out.append(
                    f"--- {log.name}\n"
                    + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                )
        return "\n".join(out)

    def stop(self) -> None:
        """Ends the server's whole process group: SIGTERM, then SIGKILL for what is left."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        group = proc.pid
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            try:
                os.killpg(group, 0)  # anything of the group still alive gets SIGKILL next
            except ProcessLookupError:
                return


class Nginx(Server):
    name = "nginx"
    template = "nginx.conf"
    upload_path = "/upload"  # `return` after nginx read and dropped the body
    port_names = ("H1", "TLS", "H2C")  # nginx 1.22 cannot mix h2c and HTTP/1.1 on one port

    def binary(self) -> str | None:
        return which("nginx", "/usr/sbin/nginx")

    def version_tuple(self) -> tuple[int, ...]:
        version = self._version_match(r"nginx/(\d+\.\d+\.\d+)", "-v")
        return tuple(int(p) for p in version.split(".")) if version else (0,)

    def version(self) -> str:
        return ".".join(map(str, self.version_tuple()))

    def substitutions(self) -> dict[str, str]:
        new = self.version_tuple() >= (1, 25, 1)  # `http2 on;` replaced `listen ... http2`
        return {
            "USER": "user root;" if ROOT_USER else "",
            "HTTP2_FLAG": "" if new else " http2",
            "HTTP2_ON": "http2 on;" if new else "",
        }

    def command(self, binary: str, config: Path) -> list[str]:
        return [binary, "-c", str(config), "-p", str(self.workdir)]

    def send_reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)  # new workers; old ones drain (GOAWAY, close)


class H2O(Server):
    name = "h2o"
    template = "h2o.conf"

    def binary(self) -> str | None:
        return which("h2o", "/usr/sbin/h2o")

    def version(self) -> str:
        return self._version_match(r"h2o version (\S+)", "--version")

    def substitutions(self) -> dict[str, str]:
        return {"USER": "user: nobody" if ROOT_USER else ""}

    def command(self, binary: str, config: Path) -> list[str]:
        # Master mode runs h2o under start_server: SIGHUP starts a new h2o on the same sockets
        # and asks the old one to finish its requests and exit (h2o's graceful restart).
        return [binary, "-m", "master", "-c", str(config)]

    def send_reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)


class Apache(Server):
    name = "apache2"
    template = "apache2.conf"
    # No upload endpoint: mod_cgid restarts its daemon on a graceful restart and answers 503
    # meanwhile, a loss on the server's side that no client can avoid.

    def binary(self) -> str | None:
        return which("apache2", "/usr/sbin/apache2", "httpd")

    def missing(self) -> str | None:
        why = super().missing()
        if why is None and not (Path(self.modules()) / "mod_http2.so").exists():
            why = "apache2 has no mod_http2 here"
        return why

    def modules(self) -> str:
        return "/usr/lib/apache2/modules"

    def version(self) -> str:
        return self._version_match(r"Apache/([\d.]+)", "-v")

    def substitutions(self) -> dict[str, str]:
        return {
            "MODULES": self.modules(),
            "USER": "User www-data\nGroup www-data" if ROOT_USER else "",
        }

    def command(self, binary: str, config: Path) -> list[str]:
        return [binary, "-f", str(config), "-DFOREGROUND"]

    def send_reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGUSR1)  # `apachectl graceful`


class Caddy(Server):
    name = "caddy"
    template = "Caddyfile"
    port_names = ("H1", "TLS", "ADMIN")

    def binary(self) -> str | None:
        return which("caddy")

    def version(self) -> str:
        return self._version_match(r"^(\S+)", "version")

    def command(self, binary: str, config: Path) -> list[str]:
        return [binary, "run", "--config", str(config), "--adapter", "caddyfile"]

    def send_reload(self) -> None:
        # --force: caddy skips a reload whose config is unchanged, and this one always is.
        binary = self.binary()
        assert binary is not None
        result = subprocess.run(
            [
                binary,
                "reload",
                "--force",
                "--config",
                str(self.workdir / "Caddyfile"),
                "--adapter",
                "caddyfile",
                "--address",
                f"127.0.0.1:{self.ports['ADMIN']}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=self.workdir,
            env={**os.environ, "HOME": str(self.workdir)},
        )
        if result.returncode != 0:
            raise ServerError(f"caddy reload failed: {result.stderr[-2000:]}")


class Lighttpd(Server):
    name = "lighttpd"
    template = "lighttpd.conf"
    upload_path = "/cgi/upload.sh"

    def binary(self) -> str | None:
        return which("lighttpd", "/usr/sbin/lighttpd")

    def missing(self) -> str | None:
        why = super().missing()
        for module in ("openssl", "deflate"):
            if why is None and not Path(f"/usr/lib/lighttpd/mod_{module}.so").exists():
                why = f"lighttpd has no mod_{module} here (package lighttpd-mod-{module})"
        return why

    def version(self) -> str:
        return self._version_match(r"lighttpd/([\d.]+)", "-v")

    def command(self, binary: str, config: Path) -> list[str]:
        return [binary, "-D", "-f", str(config)]

    def send_reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGUSR1)  # graceful restart


class GoawayPeer(Server):
    """The scripted h2 peer (soak_peer.py): GOAWAY with streams in flight on every connection."""

    name = "goaway-peer"
    protocols = ("h2", "h2c")
    upload_path = "/upload"
    port_names = ("H1", "TLS")

    def binary(self) -> str | None:
        return sys.executable

    def version(self) -> str:
        import h2

        return f"h2 {h2.__version__}"

    def summary(self) -> str:
        stats = self.workdir / "peer-stats.json"
        if not stats.exists():
            return ""
        got = json.loads(stats.read_text())
        return (
            f"{got['connections']} connections, {got['goaways']} GOAWAYs with streams in "
            f"flight, {got['unanswered']} requests above the last stream id left unanswered "
            "(each one had to be sent again)"
        )

    def render(self) -> Path:
        return HERE / "soak_peer.py"

    def command(self, binary: str, config: Path) -> list[str]:
        return [
            binary,
            str(config),
            str(self.workdir),
            str(self.ports["H1"]),
            str(self.ports["TLS"]),
        ]

    def send_reload(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)


SERVERS: dict[str, type[Server]] = {
    cls.name: cls for cls in (Nginx, GoawayPeer, H2O, Apache, Caddy, Lighttpd)
}
