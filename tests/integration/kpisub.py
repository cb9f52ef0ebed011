"""A KPI subscriber for the tests, built only on independent parts: pyzmq
(libzmq's Python binding), python3-msgpack and hdrv2.py. It collects the
snapshots a dataplane publishes in a background thread."""
import threading
import time

import hdrv2
import stlib

try:
    import msgpack
    import zmq
except ImportError:
    stlib.skip("python3-zmq and python3-msgpack are needed (scripts/setup.sh installs them)")


class Collector:
    def __init__(self, endpoint, topic=b"kpi."):
        """topic: a prefix, or a list of them."""
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        for t in (topic if isinstance(topic, list) else [topic]):
            self.sock.setsockopt(zmq.SUBSCRIBE, t)
        self.sock.setsockopt(zmq.RCVTIMEO, 200)
        self.sock.connect(endpoint)
        self.msgs = []
        self.bad = 0
        self.lock = threading.Lock()
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                frames = self.sock.recv_multipart()
            except zmq.Again:
                continue
            if len(frames) != 2:
                self.bad += 1
                continue
            m = msgpack.unpackb(frames[1], raw=False)
            m["_topic"] = frames[0].decode()
            m["_t"] = time.monotonic()
            if m.get("lat") and isinstance(m["lat"], bytes):
                m["_hist"] = hdrv2.decode(m["lat"])
            with self.lock:
                self.msgs.append(m)

    def since(self, t0, target=None):
        with self.lock:
            return [m for m in self.msgs if m["_t"] >= t0 and (target is None or m["target"] == target)
                    and m["_topic"].startswith("kpi.")]

    def topic(self, prefix):
        """Every message whose topic starts with prefix."""
        with self.lock:
            return [m for m in self.msgs if m["_topic"].startswith(prefix)]

    def close(self):
        self.stop = True
        self.t.join(timeout=2)
        self.sock.close(0)
        self.ctx.term()


def merged_p50(msgs):
    """p50 over several windows: merges the decoded histograms' counts."""
    hs = [m["_hist"] for m in msgs if m.get("_hist") and m["_hist"].total]
    if not hs:
        return None
    n = max(len(h.counts) for h in hs)
    counts = [0] * n
    for h in hs:
        for i, c in enumerate(h.counts):
            counts[i] += c
    base = hs[0]
    m = hdrv2.Hist.__new__(hdrv2.Hist)
    m.__dict__.update(base.__dict__)
    m.counts = counts
    m.total = sum(counts)
    return m.percentile(50)


def request(endpoint, msg, timeout_ms=3000):
    """One control request (REQ/REP, msgpack map); returns the reply map."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.connect(endpoint)
    s.send(msgpack.packb(msg) if not isinstance(msg, bytes) else msg)
    try:
        rep = msgpack.unpackb(s.recv(), raw=False)
    finally:
        s.close(0)
        ctx.term()
    return rep
