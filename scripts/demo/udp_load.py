"""Open-loop UDP clients for the demo, the soak and the tests: RATE requests
per second spread over FLOWS flows (one socket each), for SECONDS. Open
loop, so a slow server does not slow the offered load, and Poisson arrivals
(random, exponential gaps), as many independent clients make. Every request
is numbered ("q<N>", which the echo servers send back) and matched to its
answer, so a lost one is known by its send time (CLOCK_MONOTONIC, the same
in every network namespace). Waits up to 2 s after the last request for
answers. Prints one JSON line: sent, answered, duplicates, lost, lost_at
(the first 500 send times), seconds.

usage: udp_load.py DST PORT RATE FLOWS SECONDS [SEED]"""
import json
import random
import select
import socket
import sys
import time

dst, port, rate, flows, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5])
if len(sys.argv) > 6:
    random.seed(int(sys.argv[6]))
socks = []
for i in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 0))
    s.setblocking(False)
    socks.append(s)
by_fd = {s.fileno(): s for s in socks}
pending = {}
sent = answered = duplicates = 0
start = time.monotonic()
next_send = start
poller = select.poll()
for s in socks:
    poller.register(s, select.POLLIN)
end = start + secs
while True:
    now = time.monotonic()
    if now >= end + 2.0 or (now >= end and not pending):
        break
    while now < end and next_send <= now:
        try:
            # a random flow per request: each flow, and each server the
            # flows are spread over, sees a Poisson thinning (Poisson
            # again); round robin would send each flow every FLOWS-th
            # arrival, far more regular than independent clients
            socks[random.randrange(flows)].sendto(b"q%d" % sent, (dst, port))
            pending[sent] = now
            sent += 1
        except BlockingIOError:
            pass
        next_send += random.expovariate(rate)  # absolute deadlines: no drift
    timeout = max(0, min(next_send, end + 2.0) - time.monotonic())
    for fd, _ in poller.poll(timeout * 1000):
        try:
            while True:
                d = by_fd[fd].recv(2048)
                try:
                    n = int(d[1:])
                except ValueError:
                    duplicates += 1
                    continue
                if pending.pop(n, None) is not None:
                    answered += 1
                else:
                    duplicates += 1
        except BlockingIOError:
            pass
lost = sorted(pending.values())
print(json.dumps({"sent": sent, "answered": answered, "duplicates": duplicates, "lost": len(lost),
                  "lost_at": lost[:500], "seconds": secs}))
