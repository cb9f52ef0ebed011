"""A UDP sender for the client profiles test: clients from their own
source addresses, each with a behaviour: steady (a constant rate, small
requests), bursty (on/off, small requests), ramp (a rate that grows over
the run, large requests). Open loop on a schedule of absolute times;
drains answers as it goes; prints one JSON line {addr: {"sent": N}}.

usage: profile_sender.py DST PORT SECONDS KIND:ADDR [KIND:ADDR ...]"""
import json
import socket
import sys
import time

dst, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
STEADY_RPS, BURST_ON_RPS, BURST_PERIOD = 16.0, 32.0, 4.0
RAMP_FROM, RAMP_TO = 2.0, 16.0
SIZE = {"steady": 80, "bursty": 80, "ramp": 900}


def times(kind, phase):
    """The send times of one client in [0, secs)."""
    out, t = [], phase
    while t < secs:
        if kind == "steady":
            out.append(t)
            t += 1.0 / STEADY_RPS
        elif kind == "bursty":
            if (t % BURST_PERIOD) < BURST_PERIOD / 2:
                out.append(t)
                t += 1.0 / BURST_ON_RPS
            else:
                t = (t // BURST_PERIOD + 1) * BURST_PERIOD
        else:
            out.append(t)
            t += 1.0 / (RAMP_FROM + (RAMP_TO - RAMP_FROM) * t / secs)
    return out


clients = []
events = []
for i, spec in enumerate(sys.argv[4:]):
    kind, addr = spec.split(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    s.setblocking(False)
    clients.append({"addr": addr, "kind": kind, "sock": s, "sent": 0})
    for at in times(kind, (i * 0.0137) % 0.05):
        events.append((at, i))
events.sort()


def drain():
    for c in clients:
        while True:
            try:
                c["sock"].recv(4096)
            except BlockingIOError:
                break


t0 = time.monotonic()
for at, ci in events:
    wait = t0 + at - time.monotonic()
    if wait > 0.002:
        drain()
        time.sleep(max(0.0, t0 + at - time.monotonic()))
    c = clients[ci]
    payload = (b"q%d " % c["sent"]).ljust(SIZE[c["kind"]], b"x")
    while True:
        try:
            c["sock"].sendto(payload, (dst, port))
            break
        except BlockingIOError:
            time.sleep(0.0005)
    c["sent"] += 1
drain()
print(json.dumps({c["addr"]: {"sent": c["sent"], "kind": c["kind"]} for c in clients}))
