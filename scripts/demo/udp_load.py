"""Open-loop UDP clients for the demo: RATE requests per second spread over
FLOWS flows (one socket each), for SECONDS; counts answers. Open loop, so a
slow server does not slow the offered load, and Poisson arrivals (random,
exponential gaps), as many independent clients make. Prints one JSON line.

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
sent = answered = 0
start = time.monotonic()
next_send = start
poller = select.poll()
for s in socks:
    poller.register(s, select.POLLIN)
end = start + secs
while True:
    now = time.monotonic()
    if now >= end + 1.0:
        break
    while now < end and next_send <= now:
        try:
            # a random flow per request: each flow, and each server the
            # flows are spread over, sees a Poisson thinning (Poisson
            # again); round robin would send each flow every FLOWS-th
            # arrival, far more regular than independent clients
            socks[random.randrange(flows)].sendto(b"q%d" % sent, (dst, port))
            sent += 1
        except BlockingIOError:
            pass
        next_send += random.expovariate(rate)  # absolute deadlines: no drift
    timeout = max(0, min(next_send, end + 1.0) - time.monotonic())
    for fd, _ in poller.poll(timeout * 1000):
        try:
            while True:
                by_fd[fd].recv(2048)
                answered += 1
        except BlockingIOError:
            pass
print(json.dumps({"sent": sent, "answered": answered, "seconds": secs}))
