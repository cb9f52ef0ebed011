"""The capture of the client profiles test (test_e2e_profiles.py), built
by hand (struct, no scapy: tens of thousands of frames in well under a
second): UDP requests from clients in their own source addresses, each with
a behaviour over SECONDS of capture time:

  steady  a constant rate, small requests;
  bursty  on/off every BURST_PERIOD / 2, small requests;
  ramp    a rate growing slowly over the run, large requests.

Each client is one flow (its own source port) to DST:PORT. Ethernet with
the MACs given (the client namespace's and the server's, so a replay of it
on the client's veth reaches the server through the dataplane), IPv4 with
its header checksum, UDP checksum 0 (none, as IPv4 allows)."""
import socket
import struct

STEADY_RPS, BURST_ON_RPS, BURST_PERIOD = 16.0, 32.0, 4.0
RAMP_FROM, RAMP_TO = 2.0, 16.0
SIZE = {"steady": 80, "bursty": 80, "ramp": 900}


def times(kind, phase, secs):
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


def _csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def _mac(m):
    return bytes(int(x, 16) for x in m.split(":"))


def write(path, clients, secs, src_mac, dst_mac, dst, port):
    """clients: [(kind, addr)]. Writes the pcap (microsecond stamps from
    t = 1e9 s) and returns {addr: requests}."""
    events = []
    for i, (kind, addr) in enumerate(clients):
        for at in times(kind, (i * 0.0137) % 0.05, secs):
            events.append((at, i))
    events.sort()
    l2 = _mac(dst_mac) + _mac(src_mac) + b"\x08\x00"
    daddr = socket.inet_aton(dst)
    sent = {addr: 0 for _, addr in clients}
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for at, i in events:
            kind, addr = clients[i]
            payload = (b"q%d " % sent[addr]).ljust(SIZE[kind], b"x")
            udp = struct.pack("!HHHH", 40000 + i, port, 8 + len(payload), 0) + payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), sent[addr] & 0xffff, 0x4000,
                             64, 17, 0, socket.inet_aton(addr), daddr)
            ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
            frame = l2 + ip + udp
            us = int(round(at * 1e6))
            f.write(struct.pack("<IIII", 1000000000 + us // 1000000, us % 1000000, len(frame), len(frame)))
            f.write(frame)
            sent[addr] += 1
    return sent
