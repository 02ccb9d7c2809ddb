"""A gunicorn worker that reads each request whole before a thread runs the app: slow clients cannot starve scoring.

gunicorn's `gthread` worker hands a connection to a thread as soon as its first byte arrives, and the thread then
blocks reading the rest: a client that sends half a header (or a Content-Length larger than its body) holds a
thread, and a few such clients hold them all. This worker keeps such connections in its event loop instead:
it buffers headers and body (Content-Length or chunked) without blocking, and only a complete request goes to
a thread, where the app reads it from memory. A request not complete within REQUEST_READ_TIMEOUT seconds of
its first byte (or of the connection) is answered 408 and closed; one whose body is over the size limit, 413.

Use: `moderation serve` (the default), or `gunicorn -k service.worker.BufferedThreadWorker`. Settings come from
the app's configuration: REQUEST_READ_TIMEOUT (seconds, default 10) and MAX_CONTENT_LENGTH.
TLS is left to gunicorn's own thread (a buffering proxy in front is the place for TLS).
"""
import re
import selectors
import time
from functools import partial

from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_BODY = 256 * 1024
MAX_HEADER_BYTES = 64 * 1024      # more than any real request's headers (gunicorn's own limits apply later)
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:.*\bchunked\b", re.I | re.M)
_EXPECT = re.compile(rb"^expect[ \t]*:[ \t]*100-continue", re.I | re.M)

COMPLETE, INCOMPLETE, TOO_LARGE = "complete", "incomplete", "too large"


def _setting(name: str, default: float) -> float:
    from service.config import load_config
    try:
        return float(load_config().get(name) or default)
    except (TypeError, ValueError):
        return default


def _chunked_state(body: bytes, limit: int) -> str:
    """Whether a chunked body is all there: chunk sizes are followed, not searched for."""
    pos, total = 0, 0
    while True:
        end = body.find(b"\r\n", pos)
        if end < 0:
            return TOO_LARGE if len(body) - pos > 1024 else INCOMPLETE
        try:
            size = int(body[pos:end].split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            return COMPLETE   # malformed: gunicorn's parser answers it
        if size == 0:   # the last chunk: (trailers and) an empty line
            return COMPLETE if body.find(b"\r\n\r\n", end) >= 0 else INCOMPLETE
        total += size
        if total > limit:
            return TOO_LARGE
        pos = end + 2 + size + 2
        if pos > len(body):
            return INCOMPLETE


def request_state(buf: bytes, limit: int) -> tuple[str, bool]:
    """(COMPLETE | INCOMPLETE | TOO_LARGE, whether the client waits for `100 Continue`)."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return (TOO_LARGE if len(buf) > MAX_HEADER_BYTES else INCOMPLETE), False
    head, body = buf[:head_end], buf[head_end + 4:]
    expects = bool(_EXPECT.search(head))
    if _CHUNKED.search(head):
        return _chunked_state(body, limit), expects
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        return COMPLETE, False
    length = int(match.group(1))
    if length > limit:
        return TOO_LARGE, False
    return (COMPLETE if len(body) >= length else INCOMPLETE), expects and not body


def _response(status: str, message: str) -> bytes:
    body = ('{"error": {"status": %s, "code": "%s", "message": "%s", "field": null}}'
            % (status.split()[0], status.split(" ", 1)[1].lower().replace(" ", "_"), message)).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


class BufferedThreadWorker(ThreadWorker):
    """gthread, but a thread only ever gets a connection whose request is already in memory."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_timeout = _setting("REQUEST_READ_TIMEOUT", DEFAULT_READ_TIMEOUT)
        self.max_body = int(_setting("MAX_CONTENT_LENGTH", DEFAULT_MAX_BODY))
        self.reading: dict = {}   # conn -> deadline (monotonic)

    def enqueue_req(self, conn):
        """Called for new connections and for kept-alive ones that became readable: read before dispatching."""
        if self.cfg.is_ssl:
            return super().enqueue_req(conn)
        conn.buffer = bytearray()
        conn.continued = False
        if conn.parser is not None:   # bytes of the next request already read with the previous one
            conn.buffer += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        conn.registered = False
        self.reading[conn] = time.monotonic() + self.read_timeout
        if not self._advance(conn):
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
            conn.registered = True

    def _on_readable(self, conn, _sock):
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.buffer += data
        self._advance(conn)

    def _advance(self, conn) -> bool:
        """Dispatch, refuse or keep waiting; True when the connection left the reading state."""
        if not conn.buffer:
            return False
        state, expects = request_state(bytes(conn.buffer), self.max_body)
        if state == INCOMPLETE:
            if expects and not conn.continued:
                conn.continued = True
                self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
            return False
        del self.reading[conn]
        self._unregister(conn)
        if state == TOO_LARGE:
            self._send(conn, _response("413 Payload Too Large",
                                       f"request larger than {self.max_body} bytes of body (or its headers are)"))
            self._close(conn)
            return True
        conn.init()                       # parser over the socket (blocking again, for the thread)
        conn.parser.unreader.unread(bytes(conn.buffer))
        conn.buffer = None
        conn.data_ready = True
        super().enqueue_req(conn)
        return True

    @staticmethod
    def _send(conn, data: bytes):
        try:
            conn.sock.send(data)   # small, into an empty socket buffer: whatever does not fit is dropped
        except OSError:
            pass

    def _close(self, conn):
        self.nr_conns -= 1
        conn.close()

    def _unregister(self, conn):
        if conn.registered:
            conn.registered = False
            self.poller.unregister(conn.sock)

    def _drop(self, conn):
        self.reading.pop(conn, None)
        self._unregister(conn)
        self._close(conn)

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        for conn, deadline in list(self.reading.items()):
            if deadline <= now:
                if conn.buffer:
                    self._send(conn, _response("408 Request Timeout",
                                               f"request not received in full within {self.read_timeout:g} s"))
                self._drop(conn)

    def murder_keepalived(self, force=False):
        super().murder_keepalived(force)
        if force:
            for conn in list(self.reading):
                self._drop(conn)



_SECRET_PARAM = re.compile(r"(?i)([?&;](?:key|api_key|apikey|access_token|token)=)[^&;\s]*")
SECRET_HEADERS = ("{authorization}i", "{x-api-key}i", "{x-goog-api-key}i", "{cookie}i", "{x-coral-signature}i")


def mask_secrets(text):
    """`?key=mod_abc...` -> `?key=***` (Perspective clients send their API key in the query string)."""
    return _SECRET_PARAM.sub(r"\1***", text) if isinstance(text, str) else text


class SecretMaskingLogger(Logger):
    """gunicorn's logger, with API keys masked in the access log's request line, query string and referer."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("r", "q", "f"):
            value = atoms.get(name)
            atoms[name] = mask_secrets(("?" + value) if name == "q" and value else value)
            if name == "q" and value:
                atoms[name] = atoms[name][1:]
        for name in SECRET_HEADERS:
            if name in atoms:
                atoms[name] = "***"
        return atoms
