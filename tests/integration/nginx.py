"""A throwaway nginx for the tests: a config in a temporary directory, one
worker, in the foreground, answering 200 on every path. The access log
names each request's client port, so a test can tell connections apart."""
import os
import shutil

import stlib

CONF = """
daemon off;
master_process off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    log_format st '$remote_addr $remote_port "$request" $status $request_length';
    access_log %(access)s;
    client_max_body_size 16m;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 100000;
    server {
        listen %(listen)s;
        location / { return 200 "ok\\n"; }
    }
}
"""


def require():
    if shutil.which("nginx") is None:
        stlib.skip("nginx is not installed (scripts/setup.sh installs it)")


def write_conf(wd, name, listen, access_log=True):
    d = os.path.join(wd, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(CONF % {"dir": d, "listen": listen,
                        "access": os.path.join(d, "access.log") + " st" if access_log else "off"})
    return path, os.path.join(d, "access.log")


def argv(conf):
    return ["nginx", "-c", conf, "-e", os.path.join(os.path.dirname(conf), "error.log")]


def read_log(path):
    """[(port, request line, status, request length)] in log order."""
    out = []
    for line in open(path):
        parts = line.split('"')
        if len(parts) < 3:
            continue
        addr_port = parts[0].split()
        rest = parts[2].split()
        out.append((int(addr_port[1]), parts[1], int(rest[0]), int(rest[1])))
    return out
