"""A UDP sender for the per-client accounting test: several clients, each
from its own source address at its own rate, open loop (paced by a schedule
of absolute times, so the counts sent are known exactly whatever the
answers do), SOCKS flows per client; drains answers as it goes and prints
one JSON line {addr: {"sent": N, "answered": M}}.

usage: clients_sender.py DST PORT SECONDS SOCKS ADDR:COUNT [ADDR:COUNT ...]"""
import json
import socket
import sys
import time

dst, port, secs, nsock = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
clients = []
for spec in sys.argv[5:]:
    addr, count = spec.rsplit(":", 1)
    socks = []
    for _ in range(nsock):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        s.setblocking(False)
        socks.append(s)
    clients.append({"addr": addr, "count": int(count), "socks": socks, "sent": 0, "answered": 0})

# every request's time: client c's i-th at (i + 0.5) * secs / count
events = sorted(((i + 0.5) * secs / c["count"], ci)
                for ci, c in enumerate(clients) for i in range(c["count"]))


def drain():
    for c in clients:
        for s in c["socks"]:
            while True:
                try:
                    s.recv(2048)
                    c["answered"] += 1
                except BlockingIOError:
                    break


t0 = time.monotonic()
for at, ci in events:
    wait = t0 + at - time.monotonic()
    if wait > 0.002:
        drain()
        time.sleep(max(0.0, t0 + at - time.monotonic()))
    c = clients[ci]
    s = c["socks"][c["sent"] % len(c["socks"])]
    while True:
        try:
            s.sendto(b"q%d" % c["sent"], (dst, port))
            break
        except BlockingIOError:
            time.sleep(0.0005)
    c["sent"] += 1
end = time.monotonic() + 1.0
while time.monotonic() < end:
    drain()
    time.sleep(0.01)
print(json.dumps({c["addr"]: {"sent": c["sent"], "answered": c["answered"]} for c in clients}))
