"""The compose front (docker/nginx/) run by Debian's nginx on a free loopback port, rendered the
way the nginx image's entrypoint renders it: source the .envsh, then substitute the defined
variables into the template."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
FRONT = ROOT / "docker" / "nginx"
NGINX = "/usr/sbin/nginx"


def front_env(env: dict[str, str]) -> dict[str, str]:
    """The environment after the image's entrypoint sourced 15-ddd-limits.envsh."""
    script = f'. "{FRONT / "15-ddd-limits.envsh"}" && env -0'
    out = subprocess.run(["sh", "-c", script], env=env, check=True, capture_output=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def render(template: str, env: dict[str, str]) -> str:
    """envsubst of the defined variables only: nginx's own $host and friends stay."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m[1], m[0]), template)


@dataclass
class Front:
    url: str
    folder: Path
    process: subprocess.Popen
    verify: str | bool = True  # HTTPS: the front's own certificate, which the tests trust

    def error_log(self) -> str:
        return (self.folder / "error.log").read_text(errors="replace")


@contextlib.contextmanager
def running_front(upstream: str, folder: Path, **settings: str) -> Iterator[Front]:
    """nginx in front of `upstream` (host:port) with the project's template."""
    port = free_port()
    env = front_env({"PATH": os.environ["PATH"], "API_UPSTREAM": upstream,
                     "NGINX_PORT": f"127.0.0.1:{port}", "FRONT_TOKEN": "", **settings})
    (folder / "conf.d").mkdir(parents=True)
    for name in ("body", "proxy"):
        (folder / name).mkdir()
        (folder / name).chmod(0o777)  # nginx's workers drop root
    (folder / "conf.d" / "default.conf").write_text(
        render((FRONT / "templates" / "default.conf.template").read_text(), env))
    (folder / "nginx.conf").write_text(f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/proxy;
    uwsgi_temp_path {folder}/proxy;
    scgi_temp_path {folder}/proxy;
    include {folder}/conf.d/*.conf;
}}
""")
    tls = env.get("NGINX_LISTEN_OPTIONS") == "ssl"
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    verify = f"{env['NGINX_TLS_DIR']}/tls.crt" if tls else True
    with (folder / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                    "-g", "daemon off;"], stderr=stderr)
    front = Front(url, folder, process, verify)
    try:
        wait_listening(front)
        yield front
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful: in-flight requests finish
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_listening(front: Front, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if front.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {(front.folder / 'stderr.log').read_text()}")
        with contextlib.suppress(requests.ConnectionError):
            requests.get(front.url + "/health", timeout=5, verify=front.verify)
            return
        time.sleep(0.1)
    raise TimeoutError("nginx did not listen")
