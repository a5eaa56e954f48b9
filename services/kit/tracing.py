"""OpenTelemetry traces: one request and the events it causes form one trace.

W3C trace context travels in `traceparent`: on HTTP calls between processes,
as the CloudEvents distributed-tracing attribute of each event (the context the
event was made in), with the outbox row, and in the NATS message's headers (the
context of the relay's publish span), where a consumer continues it.

Off by default: no provider is made, the middleware passes requests straight
through, and nothing is added to events or messages. `TRACES_EXPORTER=otlp` (or
setting `OTEL_EXPORTER_OTLP_ENDPOINT`) exports by OTLP over HTTP; `console`
prints one line per span on stdout; `memory` keeps spans in the process (tests).

The spans are made here rather than by the FastAPI and httpx instrumentations:
those record the full URL with its query string (`?identifier=nhs:...`), the
client's address and user agent, and exception messages, which can quote a
caller's input. Spans here carry route templates, methods, status codes, event
types, consumer names and ids only; an exception is recorded as its type.
"""

import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode, Tracer, get_current_span, use_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.asgi import HttpMiddleware
from services.kit.metrics import METHODS, route_template
from services.kit.settings import TracingSettings

TRACEPARENT = "traceparent"
# Probes and scrapes come every few seconds and tell nothing about a request's path through the system.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
TRACESTATE = "tracestate"
# W3C trace context only: baggage could carry anything a caller put in it.
_PROPAGATOR = TraceContextTextMapPropagator()


def one_line(span: ReadableSpan) -> str:
    """A span as one line: trace, span and parent ids, process, kind, name, status and duration."""
    context = span.context
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else "-" * 16
    took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    attributes = span.attributes or {}
    failed = span.status.status_code == StatusCode.ERROR
    status = attributes.get("http.response.status_code", "error" if failed else "ok")
    service = span.resource.attributes.get("service.name", "?")
    assert context is not None
    return (
        f"trace {context.trace_id:032x} span {context.span_id:016x} parent {parent} "
        f"{service:<13} {span.kind.name.lower():<8} {span.name} [{status}] {took:.1f} ms\n"
    )


class Tracing:
    """The tracer of one app, made at start-up when an exporter is chosen; None otherwise."""

    def __init__(self, settings: TracingSettings, service_name: str) -> None:
        self.settings = settings
        self.service_name = service_name
        self.tracer: Tracer | None = None
        self.memory: InMemorySpanExporter | None = None
        self._provider: TracerProvider | None = None

    def start(self) -> None:
        chosen = self.settings.chosen
        if chosen == "none":
            return
        provider = TracerProvider(resource=Resource.create({"service.name": self.service_name}))
        if chosen == "otlp":
            # Imported here: it pulls in protobuf, which a process that exports nothing need not load.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif chosen == "console":
            # stdout: the JSON logs are on stderr, so `2>/dev/null` leaves the spans alone.
            exporter: SpanExporter = ConsoleSpanExporter(out=sys.stdout, formatter=one_line)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            self.memory = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self._provider = provider
        self.tracer = provider.get_tracer("graduated-pathway")

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()
        self.tracer = None

    def finished_spans(self) -> Sequence[ReadableSpan]:
        """The spans kept in memory (exporter `memory`)."""
        return self.memory.get_finished_spans() if self.memory is not None else ()

    @contextmanager
    def span(
        self,
        name: str,
        kind: SpanKind,
        *,
        parent: str | None = None,
        attributes: Mapping[str, str | int] | None = None,
    ) -> Iterator[Span]:
        """A span made current for the block (a no-op span when tracing is off), parented on `parent`
        when given, a traceparent; an exception ends it as an error named by its type alone."""
        if self.tracer is None:
            yield INVALID_SPAN
            return
        context = context_of(parent) if parent else None
        with self.tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as failure:
                span.set_status(Status(StatusCode.ERROR, type(failure).__name__))
                raise


def context_of(traceparent: str) -> Context:
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


def traceparent_of(span: Span) -> str | None:
    """The W3C `traceparent` of a span, or None for the no-op span."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def current_traceparent() -> str | None:
    """The `traceparent` of the span now current, if tracing is on and one is."""
    return traceparent_of(get_current_span())


async def propagate_trace_context(request: httpx.Request) -> None:
    """httpx request hook: the next service continues the current trace."""
    traceparent = current_traceparent()
    if traceparent is not None:
        request.headers[TRACEPARENT] = traceparent
        request.headers.pop(TRACESTATE, None)


class TracingMiddleware(HttpMiddleware):
    """One server span per request, named by method and route template.

    `trust_incoming` continues a caller's trace context; the gateway, where
    callers from outside arrive, starts each request's trace afresh instead.
    """

    def __init__(self, app: ASGIApp, tracing: Tracing, trust_incoming: bool = True) -> None:
        super().__init__(app)
        self.tracing = tracing
        self.trust_incoming = trust_incoming

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = self.tracing.tracer
        if tracer is None or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        parent = None
        if self.trust_incoming:
            for name, value in scope["headers"]:
                if name == b"traceparent":
                    parent = context_of(value.decode("latin-1"))
                    break
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = 500
        span = tracer.start_span(method, context=parent, kind=SpanKind.SERVER, start_time=time.time_ns())

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            with use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                await self.app(scope, receive, recording_send)
        except BaseException as failure:
            span.set_status(Status(StatusCode.ERROR, type(failure).__name__))
            raise
        finally:
            route = route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attributes(
                {"http.request.method": method, "http.route": route, "http.response.status_code": status}
            )
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
