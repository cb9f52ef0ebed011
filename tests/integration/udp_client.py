"""A UDP client for the tests: FLOWS flows (one socket, one source port
each), REQS requests per flow, CONCURRENCY flows in flight at once; counts
answers, timeouts and extra datagrams (a reply that should never have come,
such as a shadow's), and prints one JSON line.

usage: udp_client.py DST PORT FLOWS REQS CONCURRENCY TIMEOUT_MS"""
import json
import select
import socket
import sys
import time

dst, port, flows, reqs, conc, tmo = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]) / 1000.0
fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
answered = timeouts = extra = 0
sports = []
lat = []
todo = list(range(flows))
t_start = time.monotonic()
while todo:
    batch, todo = todo[:conc], todo[conc:]
    socks = {}
    for i in batch:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind(("", 0))
        s.setblocking(False)
        socks[s.fileno()] = [s, 0, None]  # socket, requests sent, send time
        sports.append(s.getsockname()[1])
    for fd, st in socks.items():
        st[2] = time.monotonic()
        st[0].sendto(b"req-%d-0" % fd, (dst, port))
        st[1] = 1
    pending = dict(socks)
    deadline = time.monotonic() + tmo
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select(list(pending), [], [], max(0, deadline - time.monotonic()))
        for fd in r:
            st = pending[fd]
            try:
                st[0].recv(65535)
            except BlockingIOError:
                continue
            lat.append(time.monotonic() - st[2])
            answered += 1
            if st[1] < reqs:
                st[2] = time.monotonic()
                st[0].sendto(b"req-%d-%d" % (fd, st[1]), (dst, port))
                st[1] += 1
                deadline = max(deadline, time.monotonic() + tmo)
            else:
                del pending[fd]
    for fd, st in pending.items():
        timeouts += reqs - (st[1] - 1)
    # Anything arriving now is a duplicate or a stray answer.
    time.sleep(0.05)
    for fd, st in socks.items():
        while True:
            try:
                st[0].recv(65535)
                extra += 1
            except BlockingIOError:
                break
        st[0].close()
lat.sort()
print(json.dumps({"requests": flows * reqs, "answered": answered, "timeouts": timeouts,
                  "extra": extra, "sports": sports,
                  "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
                  "seconds": time.monotonic() - t_start}))
