"""An independent Python implementation of shadowtap's flow key and flow
hash (common/flow.h documents the contract): tests use it to compute which
flows a shadow group must see without asking the code under test."""
import ipaddress
import struct

SEED = 0x53485450
_POLY = 0x82F63B78
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data, crc=0):
    """CRC32-C with zlib-style chaining (pre/post inversion inside)."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _addr16(a):
    ip = ipaddress.ip_address(a)
    raw = ip.packed
    return raw + b"\0" * (16 - len(raw)), 4 if ip.version == 4 else 6


def flow_hash(src, sport, dst, dport, proto, vlan=0):
    """Hash of the flow a packet src:sport -> dst:dport belongs to; ports 0
    for protocols without ports and for fragments."""
    a, fam = _addr16(src)
    b, _ = _addr16(dst)
    if (a, sport) <= (b, dport):
        lo, hi = (a, sport), (b, dport)
    else:
        lo, hi = (b, dport), (a, sport)
    key = lo[0] + hi[0] + struct.pack("<HHHBB", lo[1], hi[1], vlan & 0xFFF, proto, fam)
    return crc32c(key, SEED)


def threshold(share):
    """ceil(share * 2^32), clamped: the integer bound of a share."""
    import math
    if share != share or share <= 0:
        return 0
    if share >= 1:
        return 1 << 32
    return math.ceil(share * 4294967296.0)


def in_range(h, offset, share):
    return threshold(offset) <= h < threshold(offset + share)
