"""The shipped nginx config (deploy/nginx/livestream.conf) in front of test Daphne processes.

``start_nginx(directory, upstreams) -> Nginx`` renders the config with only its upstream
servers and its ``listen 80;`` line replaced, wraps it in a minimal nginx.conf whose pid, logs
and temporary files are all in ``directory``, and runs Debian's nginx as a foreground process
(``nginx -p <directory> -c … -g 'daemon off;'``) until ``/healthz`` answers through it.
Each ``Nginx`` has fresh limit zones: a new process starts with empty counters.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import require_program
from tests.live_site import BASE_DIR, free_port

SHIPPED_CONFIG = BASE_DIR / "deploy" / "nginx" / "livestream.conf"
STARTUP_TIMEOUT_S = 20

_MAIN_CONF = """\
{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{
    worker_connections 16384;
}}
http {{
    default_type application/octet-stream;
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/livestream.conf;
}}
"""


def render(config: str, upstreams: list[str], port: int) -> str:
    """The config with ``upstream livestream``'s servers and the ``listen 80;`` line replaced."""

    def servers(match: re.Match[str]) -> str:
        kept = [line for line in match.group(2).splitlines() if not re.match(r"\s*server\s", line)]
        added = [f"    server {address};" for address in upstreams]
        return match.group(1) + "\n".join([*kept, *added]) + "\n}"

    config, found = re.subn(r"(upstream livestream \{)(.*?)\n\}", servers, config, flags=re.S)
    assert found == 1, "the config has no `upstream livestream { … }` block"
    config, found = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{port};", config, flags=re.M)
    assert found == 1, "the config has no `listen 80;` line"
    return config


@dataclass
class Nginx:
    url: str
    port: int
    directory: Path
    process: subprocess.Popen = field(repr=False)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def start_nginx(directory: Path, upstreams: list[str]) -> Nginx:
    """nginx on a free port in front of ``upstreams`` ("127.0.0.1:8001", …)."""
    # Debian installs nginx in /usr/sbin, which is not on every user's PATH.
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/local/sbin") or require_program("nginx")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (directory / "livestream.conf").write_text(render(SHIPPED_CONFIG.read_text(), upstreams, port))
    # As root, nginx's workers would switch to `nobody`, who cannot use this directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = directory / "nginx.conf"
    main.write_text(_MAIN_CONF.format(directory=directory, user=user))
    command = [nginx, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(main)]
    checked = subprocess.run(
        [*command, "-t", "-q"], capture_output=True, text=True, timeout=30, check=False
    )
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the config:\n{checked.stderr}")
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    running = Nginx(f"http://127.0.0.1:{port}", port, directory, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if _healthy(running.url):
            return running
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"nginx did not pass /healthz through; its log:\n{running.error_log()}")
