"""A small OTLP/HTTP receiver for tests: the real SDK exporters post spans here.

No collector binary can be installed on the test machines, so this decodes
`ExportTraceServiceRequest` protobufs with `opentelemetry-proto` and keeps the spans in memory.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class ReceivedSpan:
    """The parts of a received span that tests look at (ids as hex strings)."""

    def __init__(
        self,
        service: str,
        name: str,
        trace_id: str,
        span_id: str,
        parent_span_id: str,
        kind: int,
        start_ns: int = 0,
        end_ns: int = 0,
    ):
        self.service = service
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = end_ns

    def __repr__(self) -> str:
        return f"<span {self.service}/{self.name} trace={self.trace_id[:8]} parent={self.parent_span_id[:8]}>"


class OtlpReceiver:
    """Collects spans posted to `http://127.0.0.1:<port>/v1/traces`."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    receiver._ingest(body)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _ingest(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received = ReceivedSpan(
                        service,
                        span.name,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                        span.kind,
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                    )
                    with self._lock:
                        self.spans.append(received)

    def snapshot(self) -> list[ReceivedSpan]:
        """A copy of what arrived so far."""
        with self._lock:
            return list(self.spans)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
