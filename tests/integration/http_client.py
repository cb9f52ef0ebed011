"""HTTP/1.1 clients for the TCP shadowing tests, run inside the client
namespace. Prints one JSON line.

  http_client.py pipeline HOST CONNS DEPTH   DEPTH pipelined GETs per connection
  http_client.py post HOST CONNS SIZE [BASE] one POST of SIZE bytes per connection,
                                             from source ports BASE, BASE+1, ... if given
  http_client.py close HOST CONNS            GET with 'Connection: close' (server closes)
  http_client.py get HOST CONNS REQS         keep-alive GETs, the client closes"""
import json
import socket
import sys

mode, host, conns = sys.argv[1], sys.argv[2], int(sys.argv[3])
arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0
base = int(sys.argv[5]) if len(sys.argv) > 5 else 0
ok = bad = 0
ports = []


def read_responses(s, n):
    """Reads n HTTP responses (Content-Length bodies); returns status codes."""
    buf = b""
    codes = []
    while len(codes) < n:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return codes
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        code = int(lines[0].split()[1])
        length = 0
        for ln in lines[1:]:
            if ln.lower().startswith(b"content-length:"):
                length = int(ln.split(b":")[1])
        while len(buf) < length:
            d = s.recv(65536)
            if not d:
                return codes
            buf += d
        buf = buf[length:]
        codes.append(code)
    return codes


for c in range(conns):
    s = socket.create_connection((host, 80), timeout=5, source_address=("", base + c) if base else None)
    ports.append(s.getsockname()[1])
    if mode == "pipeline":
        s.sendall(b"".join(b"GET /p/%d/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (c, i) for i in range(arg)))
        codes = read_responses(s, arg)
    elif mode == "post":
        body = b"x" * arg
        s.sendall(b"POST /post/%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (c, len(body)) + body)
        codes = read_responses(s, 1)
    elif mode == "close":
        s.sendall(b"GET /close/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % c)
        codes = read_responses(s, 1)
        s.settimeout(5)
        if s.recv(1) != b"":
            bad += 1  # the server should have closed
    else:
        codes = []
        for i in range(arg):
            s.sendall(b"GET /get/%d/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (c, i))
            codes += read_responses(s, 1)
    want = arg if mode in ("pipeline", "get") else 1
    ok += sum(1 for x in codes if x == 200)
    bad += want - sum(1 for x in codes if x == 200)
    s.close()
print(json.dumps({"ok": ok, "bad": bad, "ports": ports}))
