"""A UDP client for datagrams of any size, run inside the client namespace:
for each size, FLOWS flows (source ports BASE, BASE+1, ... across all
sizes in order, so every flow of a run is known in advance), REQS
datagrams per flow of random bytes, CONC flows in flight at once. Each
datagram waits for its echo up to TIMEOUT_MS; the echo must equal what
was sent, byte for byte. An echo that arrives after its wait is counted
as late; a second copy of an echo as extra (a shadow's answer would be
one); a datagram that matches nothing sent on its socket as bad.
Sockets let the kernel fragment (IP_PMTUDISC_DONT, IPV6_PMTUDISC_DONT);
DST's form chooses the family (a colon: IPv6). Prints one JSON line:
per size the counts, and every datagram sent as [sport, length, sha256].

usage: udp_frames_client.py DST PORT SIZES FLOWS REQS BASE CONC TIMEOUT_MS
  SIZES: payload bytes, comma separated (at most 65507)"""
import hashlib
import json
import os
import select
import socket
import sys
import time

import udp_frames_sock

dst, port = sys.argv[1], int(sys.argv[2])
sizes = [int(x) for x in sys.argv[3].split(",")]
flows, reqs, base, conc = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
tmo = float(sys.argv[8]) / 1000.0
FAMILY = udp_frames_sock.family_of(dst)
DRAIN = 0.1  # seconds a batch listens for strays after its last echo


def run_batch(size, sports, res, sent):
    socks = {}
    for sp in sports:
        s = udp_frames_sock.open_udp(FAMILY)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("", sp))
        s.setblocking(False)
        socks[s.fileno()] = {"sock": s, "sport": sp, "past": set(), "late": set(),
                              "want": None}

    def classify(st, data):
        if st["want"] is not None and data == st["want"]:
            res["answered"] += 1
            st["past"].add(st["want"])
            st["want"] = None
            return True
        if data in st["late"]:
            res["late"] += 1
            st["late"].discard(data)
        elif data in st["past"]:
            res["extra"] += 1
        else:
            res["bad"] += 1
        return False

    for _ in range(reqs):
        pending = set()
        for fd, st in socks.items():
            data = os.urandom(size)
            st["want"] = data
            try:
                st["sock"].sendto(data, (dst, port))
            except OSError as e:
                res["send_errors"] += 1
                res.setdefault("send_error", str(e))
                st["want"] = None
                continue
            res["requests"] += 1
            sent.append([st["sport"], size, hashlib.sha256(data).hexdigest()])
            pending.add(fd)
        deadline = time.monotonic() + tmo
        while pending and time.monotonic() < deadline:
            r, _, _ = select.select(list(pending), [], [], max(0.0, deadline - time.monotonic()))
            for fd in r:
                st = socks[fd]
                while True:
                    try:
                        data = st["sock"].recv(65535)
                    except BlockingIOError:
                        break
                    if classify(st, data):
                        pending.discard(fd)
        for fd in pending:
            res["timeouts"] += 1
            socks[fd]["late"].add(socks[fd]["want"])
            socks[fd]["want"] = None
    # Anything that arrives now was never asked for this time.
    time.sleep(DRAIN)
    for st in socks.values():
        while True:
            try:
                classify(st, st["sock"].recv(65535))
            except BlockingIOError:
                break
        st["sock"].close()


out = {"sizes": {}, "sent": []}
t0 = time.monotonic()
sp = base
for size in sizes:
    res = {"requests": 0, "answered": 0, "timeouts": 0, "extra": 0, "late": 0, "bad": 0, "send_errors": 0}
    todo = list(range(sp, sp + flows))
    sp += flows
    while todo:
        batch, todo = todo[:conc], todo[conc:]
        run_batch(size, batch, res, out["sent"])
    out["sizes"][str(size)] = res
out["seconds"] = time.monotonic() - t0
print(json.dumps(out))
