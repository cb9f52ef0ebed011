"""An independent reader of clients.<service> messages (docs/wire.md): the
sparse latency histogram decoded with the bucket layout written out here
again, not taken from the C code."""

BUCKETS = 104


def bucket_lower(b):
    """Lowest latency (ns) of bucket b: four linear 1024 ns buckets, then
    quarter octaves."""
    if b < 4:
        return b << 10
    b = min(b, BUCKETS)
    e = (b - 4) // 4 + 2
    return ((4 + (b - 4) % 4) << (e - 2)) << 10


def hist(entry):
    """{bucket: count} of an entry's `lat` (bucket, count, bucket, count...)."""
    lat = entry["lat"]
    if len(lat) % 2:
        raise ValueError("lat has an odd length")
    out = {}
    for i in range(0, len(lat), 2):
        b, c = lat[i], lat[i + 1]
        if not 0 <= b < BUCKETS or b in out or c <= 0:
            raise ValueError("bad lat bucket %r" % b)
        out[b] = c
    return out


def quantile(h, q):
    """The q-quantile of a decoded histogram: the middle of its bucket, ns."""
    total = sum(h.values())
    if total == 0:
        return 0
    rank = max(1, int(q * total + 0.5))
    seen = 0
    for b in sorted(h):
        seen += h[b]
        if seen >= rank:
            return (bucket_lower(b) + bucket_lower(b + 1)) // 2
    return bucket_lower(BUCKETS)


def merge(entries):
    out = {}
    for e in entries:
        for b, c in hist(e).items():
            out[b] = out.get(b, 0) + c
    return out


def check(m):
    """Raises ValueError when a decoded message breaks the contract."""
    for k in ("v", "seq", "src", "service", "target", "key", "top", "t0", "t1", "floor", "n",
              "clients", "other"):
        if k not in m:
            raise ValueError("no %s" % k)
    if m["v"] != 1 or m["t0"] > m["t1"] or m["n"] != len(m["clients"]) or m["n"] > m["top"]:
        raise ValueError("header")
    for e in m["clients"] + [m["other"]]:
        if sum(hist(e).values()) != e["responses"]:
            raise ValueError("histogram count != responses")
    counts = [c["requests"] + c["err"] for c in m["clients"]]
    if counts != sorted(counts, reverse=True):
        raise ValueError("clients not largest first")


def totals_mismatch(cms, kms):
    """Windows where a clients message's listed clients plus other do not
    add up to the prod KPI snapshot of the same window (kms: {(t0, t1):
    snapshot}), as strings; [] when every one does."""
    mism = []
    for c in cms:
        k = kms.get((c["t0"], c["t1"]))
        if k is None:
            mism.append("no prod KPI for window %d" % c["t0"])
            continue
        for f in ("requests", "responses", "timeouts", "resets"):
            got = sum(e[f] for e in c["clients"]) + c["other"][f]
            if got != k[f]:
                mism.append("%s %d != %d" % (f, got, k[f]))
    return mism


def bracket(cms, key):
    """(lo, hi) of client key's requests over the messages: the counts
    listed, and those plus their error bounds, plus the message's floor
    where it is not listed. Its true count is within."""
    lo = hi = 0
    for c in cms:
        e = [x for x in c["clients"] if x["k"] == key]
        if e:
            lo += e[0]["requests"]
            hi += e[0]["requests"] + e[0]["err"]
        else:
            hi += c["floor"]
    return lo, hi
