"""The UDP socket udp_frames_client.py and udp_frames_server.py both use:
one that lets the kernel fragment a datagram above the link's MTU instead
of refusing it, with buffers for several 64 KB datagrams at once."""
import socket

BUF = 8 << 20
# linux/in.h and linux/in6.h; Python names them from 3.12 on
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DONT = getattr(socket, "IP_PMTUDISC_DONT", 0)
IPV6_MTU_DISCOVER = getattr(socket, "IPV6_MTU_DISCOVER", 23)
IPV6_PMTUDISC_DONT = getattr(socket, "IPV6_PMTUDISC_DONT", 0)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def open_udp(family):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    # as root past rmem_max/wmem_max (SO_RCVBUFFORCE, SO_SNDBUFFORCE)
    for force, opt in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
        try:
            s.setsockopt(socket.SOL_SOCKET, force, BUF)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, opt, BUF)
    return s
