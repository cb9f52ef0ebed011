"""A UDP echo server for datagrams of any size (tests/tools/udp_echo.c
holds at most 1500 bytes): answers each datagram with the same bytes and
records it as "SRC_PORT LENGTH SHA256" in LOGFILE, a line per datagram,
written as it goes and complete when the server exits on SIGTERM. Creates
LOGFILE.ready once it is bound. Its socket lets the kernel fragment
(IP_PMTUDISC_DONT, IPV6_PMTUDISC_DONT), so an echo bigger than the link's
MTU leaves as IP fragments instead of failing with EMSGSIZE. ADDR's form
chooses the family (a colon: IPv6).

usage: udp_frames_server.py ADDR PORT LOGFILE"""
import hashlib
import signal
import socket
import sys

import udp_frames_sock

addr, port, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = False


def on_term(sig, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
s = udp_frames_sock.open_udp(udp_frames_sock.family_of(addr))
s.bind((addr, port))
s.settimeout(0.2)  # a bounded wait, so SIGTERM is seen promptly
log = open(logfile, "a", buffering=1)
open(logfile + ".ready", "w").close()
while not stop:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    except InterruptedError:
        continue
    try:
        s.sendto(data, peer)
    except OSError as e:
        print("udp_frames_server: echo to %s:%d: %s" % (peer[0], peer[1], e), file=sys.stderr)
    log.write("%d %d %s\n" % (peer[1], len(data), hashlib.sha256(data).hexdigest()))
log.close()
s.close()
