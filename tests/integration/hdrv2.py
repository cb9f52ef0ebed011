"""An independent decoder of the HdrHistogram V2 compressed encoding (the
`lat` field of KPI snapshots), written from the format's description, for
tests that must not trust the code under test: cookie, zlib, header, ZigZag
LEB128 counts with negative runs of zeros; bucket layout as in
HdrHistogram_c."""
import math
import struct
import zlib


def _varints(buf):
    i = 0
    while i < len(buf):
        v = 0
        shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80 or shift >= 63:
                if shift >= 63 and b & 0x80:
                    v |= buf[i] << 63
                    i += 1
                break
        yield (v >> 1) ^ -(v & 1)


def decode(blob):
    cookie, length = struct.unpack(">ii", blob[:8])
    if cookie & ~0xF0 != 0x1C849304 & ~0xF0 and cookie & ~0xF0 != 0x1c849304:
        raise ValueError("not a compressed V2 histogram: cookie %#x" % cookie)
    inner = zlib.decompress(blob[8:8 + length])
    cookie, plen, _norm, digits, lowest, highest, _ratio = struct.unpack(">iiiiqqd", inner[:40])
    counts = []
    for v in _varints(inner[40:40 + plen]):
        if v < 0:
            counts.extend([0] * (-v))
        else:
            counts.append(v)
    return Hist(digits, lowest, highest, counts)


class Hist:
    def __init__(self, digits, lowest, highest, counts):
        largest = 2 * 10 ** digits
        self.unit_mag = int(math.floor(math.log2(lowest)))
        sub_bucket_count_mag = int(math.ceil(math.log2(largest)))
        self.sub_half_mag = (sub_bucket_count_mag or 1) - 1
        self.sub_bucket_count = 1 << (self.sub_half_mag + 1)
        self.sub_half = self.sub_bucket_count // 2
        self.counts = counts
        self.total = sum(counts)

    def _value(self, idx):
        bucket = (idx >> self.sub_half_mag) - 1
        sub = (idx & (self.sub_half - 1)) + self.sub_half
        if bucket < 0:
            sub -= self.sub_half
            bucket = 0
        return sub << (bucket + self.unit_mag)

    def _highest_equiv(self, idx):
        bucket = (idx >> self.sub_half_mag) - 1
        bucket = max(bucket, 0)
        v = self._value(idx)
        return v + (1 << (bucket + self.unit_mag)) - 1

    def percentile(self, p):
        if self.total == 0:
            return 0
        want = max(1, math.ceil(p / 100.0 * self.total))
        cum = 0
        for i, c in enumerate(self.counts):
            cum += c
            if cum >= want:
                return self._highest_equiv(i)
        return self._highest_equiv(len(self.counts) - 1)
