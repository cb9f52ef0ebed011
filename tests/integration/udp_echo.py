"""A UDP echo server for the tests: answers every datagram (after an
optional fixed delay, the known latency the timing tests measure) and, on
SIGTERM, writes the flows it saw ("ip port" per request) to a log file.

usage: udp_echo.py ADDR PORT DELAY_MS LOGFILE"""
import signal
import socket
import sys
import time

addr, port, delay_ms, logfile = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((addr, port))
seen = []


def done(sig, frame):
    with open(logfile, "w") as f:
        for a, p in seen:
            f.write("%s %d\n" % (a, p))
    sys.exit(0)


signal.signal(signal.SIGTERM, done)
with open(logfile + ".ready", "w") as f:
    f.write("ready\n")
while True:
    data, peer = s.recvfrom(65535)
    seen.append((peer[0], peer[1]))
    if delay_ms > 0:
        time.sleep(delay_ms / 1000.0)
    s.sendto(data, peer)
