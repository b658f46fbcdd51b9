"""nginx for the end-to-end tests: a config written by the test, bound to
127.0.0.1 on a free port, every path it writes in the test's own directory,
stopped at the end (t_web.py, t_federation.py)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_WAIT = 60    # seconds for nginx to start or stop; generous, never a measure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ nginx


class Nginx:
    """nginx over `root`, on 127.0.0.1, with every path it writes in `work`."""

    def __init__(self, root: str, work: str):
        self.port = free_port()
        self.work = work
        self.access_log = os.path.join(work, "access.log")
        user = "user root;\n" if os.geteuid() == 0 else ""   # workers must read the temp dirs
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""{user}daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {self.access_log};
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    types {{ text/html html; text/css css; text/javascript js; application/json json; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        location ~ /checkpoint$ {{
            default_type "text/plain; charset=utf-8";
            add_header Cache-Control "no-store";
        }}
    }}
}}
""")
        self.proc = subprocess.Popen([NGINX, "-p", work, "-c", conf, "-e", f"{work}/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: " + self.proc.stderr.read().decode())
                time.sleep(0.05)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def requests(self) -> list[str]:
        with open(self.access_log) as f:
            return [line.split('"')[1].split()[1] for line in f if '"GET ' in line]

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=START_WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
