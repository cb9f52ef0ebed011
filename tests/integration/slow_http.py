"""An HTTP server that answers every request after a fixed delay, threaded
so the delay is per request, not a queue; logs like nginx.py's format, with
the body length it read for a POST.

usage: slow_http.py ADDR PORT DELAY_MS LOGFILE"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

addr, port, delay, logfile = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) / 1000, sys.argv[4]
log = open(logfile, "a", buffering=1)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(delay)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        log.write('%s %d "%s" 200 0\n' % (self.client_address[0], self.client_address[1], self.requestline))

    def do_POST(self):
        """Reads the whole body: its length in the log proves it arrived."""
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            chunk = self.rfile.read(min(65536, n - got))
            if not chunk:
                break
            got += len(chunk)
        time.sleep(delay)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        log.write('%s %d "%s" 200 %d\n' % (self.client_address[0], self.client_address[1],
                                             self.requestline, got))

    def log_message(self, *a):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer((addr, port), H).serve_forever()
