#!/usr/bin/env python3
"""An OTLP/HTTP sink for the load test's tracing variant (standard library only).

Usage: otlp_sink.py PORT

Listens on 127.0.0.1:PORT, answers every POST to /v1/traces and /v1/metrics
with 200 and an empty protobuf body, as a collector does, and counts what it
was sent: the spans in each ExportTraceServiceRequest are counted by walking
the protobuf wire format (resource_spans = 1, scope_spans = 2, spans = 2), so
the load test can tell exported spans from spans the exporter dropped. GET /stats answers
`traces_posts=N spans=N metrics_posts=N bytes=N`.
"""

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {"traces_posts": 0, "spans": 0, "metrics_posts": 0, "bytes": 0}
lock = threading.Lock()


def fields(buf):
    """Yields (field number, value) for the length-delimited fields of a message."""
    i, end = 0, len(buf)

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7

    while i < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            length = varint()
            yield number, buf[i:i + length]
            i += length
        else:
            raise ValueError(f"unsupported wire type {wire}")


def span_count(body):
    """The number of spans in an ExportTraceServiceRequest."""
    n = 0
    for number, resource_spans in fields(memoryview(body)):
        if number != 1:
            continue
        for number, scope_spans in fields(resource_spans):
            if number != 2:
                continue
            n += sum(1 for number, _ in fields(scope_spans) if number == 2)
    return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path not in ("/v1/traces", "/v1/metrics"):
            self.answer(404, b"", "text/plain")
            return
        spans = span_count(body) if self.path == "/v1/traces" else 0
        with lock:
            counts["bytes"] += len(body)
            counts["spans"] += spans
            counts["traces_posts" if self.path == "/v1/traces" else "metrics_posts"] += 1
        self.answer(200, b"", "application/x-protobuf")

    def do_GET(self):
        if self.path != "/stats":
            self.answer(404, b"", "text/plain")
            return
        with lock:
            line = " ".join(f"{k}={v}" for k, v in counts.items())
        self.answer(200, line.encode() + b"\n", "text/plain")

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
