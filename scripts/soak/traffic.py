"""Traffic the soak sends from the clients' namespace, each bounded in count
and time (the UDP clients are scripts/demo/udp_load.py):

  traffic.py tcp DST PORT RATE SECONDS SEED   a bounded HTTP/1.1 client: RATE
      requests/s, sequential, keep-alive connections of 1..40 requests each
      (new flows all the time); 5 s timeout per request. Prints one JSON line:
      sent, answered (a 200 read whole), failed, connections.
  traffic.py hostile IFACE DSTMAC COUNT SEED  COUNT malformed frames on IFACE
      (raw socket): truncated Ethernet/IPv4/IPv6/UDP/TCP headers, IHL < 5,
      total and UDP lengths beyond the frame or below the header, IP version
      7, stacked VLAN tags with nothing after, zero-length frames' worth of
      garbage, fragment offsets past 64 KB. Prints the count sent per kind.
  traffic.py flows DST PORT COUNT SECONDS     COUNT UDP datagrams, each from a
      new socket (a new source port: a new flow), over SECONDS.
  traffic.py burst DST PORT PPS SECONDS FLOWS  a UDP burst at PPS over FLOWS
      sockets.
"""
import json
import os
import random
import socket
import struct
import sys
import time


def tcp(dst, port, rate, secs, seed):
    rnd = random.Random(seed)
    sent = answered = failed = conns = 0
    failed_at = []
    end = time.monotonic() + secs
    nxt = time.monotonic()
    req = ("GET /soak HTTP/1.1\r\nHost: %s\r\n\r\n" % dst).encode()
    s = None
    left = 0
    while time.monotonic() < end:
        now = time.monotonic()
        if now < nxt:
            time.sleep(nxt - now)
        nxt += 1.0 / rate
        if s is None:
            left = rnd.randint(1, 40)
            try:
                s = socket.create_connection((dst, port), timeout=5)
                conns += 1
            except OSError as e:
                sent += 1
                failed += 1
                failed_at.append((time.monotonic(), "connect: %s" % e))
                s = None
                continue
        sent += 1
        try:
            s.sendall(req)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    raise OSError("closed")
                buf += d
            head, _, body = buf.partition(b"\r\n\r\n")
            n = int([h.split(b":")[1] for h in head.split(b"\r\n")
                     if h.lower().startswith(b"content-length:")][0])
            while len(body) < n:
                d = s.recv(4096)
                if not d:
                    raise OSError("closed")
                body += d
            if head.startswith(b"HTTP/1.1 200"):
                answered += 1
            else:
                failed += 1
                failed_at.append((time.monotonic(), head.split(b"\r\n")[0].decode(errors="replace")))
        except (OSError, IndexError, ValueError) as e:
            failed += 1
            failed_at.append((time.monotonic(), "request %d of the connection: %r" % (sent, e)))
            s.close()
            s = None
            continue
        left -= 1
        if left <= 0:
            s.close()
            s = None
    if s is not None:
        s.close()
    print(json.dumps({"sent": sent, "answered": answered, "failed": failed, "connections": conns,
                      "failed_at": failed_at[:500]}))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ip4(src, dst, proto, payload, ihl=5, tot=None, ver=4, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", (ver << 4) | ihl, 0, tot if tot is not None else 20 + len(payload),
                    0x1234, frag, 64, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def hostile(iface, dstmac, count, seed):
    rnd = random.Random(seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src = bytes.fromhex(open("/sys/class/net/%s/address" % iface).read().strip().replace(":", ""))
    dst = bytes.fromhex(dstmac.replace(":", ""))
    cli, srv = "198.18.0.1", "198.18.0.53"

    def eth(t, p):
        return dst + src + struct.pack("!H", t) + p

    def udp(sport, ln=None, payload=b"x" * 8):
        return struct.pack("!HHHH", sport, 7, ln if ln is not None else 8 + len(payload), 0) + payload

    kinds = {
        "eth_short": lambda: dst + src[:3],
        "ip_truncated": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40000))[:rnd.randint(1, 19)]),
        "ihl_below_5": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40001), ihl=rnd.randint(0, 4))),
        "ihl_past_frame": lambda: eth(0x0800, ip4(cli, srv, 17, b"", ihl=15)),
        "tot_len_past_frame": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40002), tot=1400)),
        "tot_len_below_header": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40003), tot=rnd.randint(0, 19))),
        "version_7": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40004), ver=7)),
        "udp_len_past_ip": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40005, ln=900))),
        "udp_len_below_8": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40006, ln=rnd.randint(0, 7)))),
        "udp_truncated": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40007)[:rnd.randint(0, 7)])),
        "tcp_truncated": lambda: eth(0x0800, ip4(cli, srv, 6, b"\x9c\x40\x00\x50" + os.urandom(rnd.randint(0, 12)))),
        "tcp_doff_past_frame": lambda: eth(0x0800, ip4(cli, srv, 6, struct.pack(
            "!HHIIBBHHH", 40008, 80, 1, 0, 0xf0, 0x02, 1024, 0, 0))),
        "frag_offset_past_64k": lambda: eth(0x0800, ip4(cli, srv, 17, udp(40009), frag=0x1fff)),
        "ip6_truncated": lambda: eth(0x86dd, b"\x60" + os.urandom(rnd.randint(0, 38))),
        "ip6_plen_past_frame": lambda: eth(0x86dd, struct.pack("!IHBB", 0x60000000, 1400, 17, 64) +
                                           os.urandom(32) + udp(40010)),
        "vlan_stack_empty": lambda: eth(0x8100, b"\x00\x01\x81\x00\x00\x02\x88\xa8"),
        "arp_truncated": lambda: eth(0x0806, os.urandom(rnd.randint(0, 27))),
        "garbage": lambda: os.urandom(rnd.randint(14, 200)),
    }
    names = sorted(kinds)
    sent = {k: 0 for k in names}
    end = time.monotonic() + 30
    for i in range(count):
        if time.monotonic() > end:
            break
        k = names[i % len(names)]
        f = kinds[k]()
        if len(f) < 14:  # the kernel refuses frames shorter than a header
            f = f + b"\0" * (14 - len(f))
        try:
            s.send(f)
            sent[k] += 1
        except OSError:
            pass
        if i % 200 == 199:
            time.sleep(0.02)  # about 10,000 frames/s at most
    print(json.dumps({"sent": sum(sent.values()), "kinds": sent}))


def flows(dst, port, count, secs):
    start = time.monotonic()
    n = 0
    for i in range(count):
        due = start + secs * i / count
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(b"flow%d" % i, (dst, port))
            n += 1
        except OSError:
            pass
        s.close()
    print(json.dumps({"sent": n}))


def burst(dst, port, pps, secs, nflows):
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(nflows)]
    start = time.monotonic()
    total = int(pps * secs)
    n = 0
    payload = b"b" * 512
    for i in range(total):
        due = start + i / pps
        now = time.monotonic()
        if due > now + 0.001:
            time.sleep(due - now)
        try:
            socks[i % nflows].sendto(payload, (dst, port))
            n += 1
        except OSError:
            pass
    print(json.dumps({"sent": n}))


def main():
    a = sys.argv[1:]
    if not a or a[0] in ("-h", "--help"):
        print(__doc__)
        return
    if a[0] == "tcp":
        tcp(a[1], int(a[2]), float(a[3]), float(a[4]), int(a[5]))
    elif a[0] == "hostile":
        hostile(a[1], a[2], int(a[3]), int(a[4]))
    elif a[0] == "flows":
        flows(a[1], int(a[2]), int(a[3]), float(a[4]))
    elif a[0] == "burst":
        burst(a[1], int(a[2]), float(a[3]), float(a[4]), int(a[5]))
    else:
        sys.exit("traffic.py: unknown command %s" % a[0])


main()
