"""Before anything is sent: does the cluster accept our TLS and our SASL login? One sentence if not.

Why by hand: kafka-python retries a failed TLS handshake or a rejected password with backoff until
its timeout (30 s) and then says only ``Unable to bootstrap``; Spark's Java client retries for as
long. A utility's operator with a mistyped password or the wrong CA file deserves the reason in a
second. So one connection is opened to the first bootstrap server: the TLS handshake is Python's,
with the context kafka-python would build from the same settings, and the SASL exchange
(SaslHandshake v1, then SaslAuthenticate v0 rounds driven by kafka-python's own mechanism: SCRAM
or PLAIN) reads the broker's error message itself. Nothing is produced on this connection, so a
publish that fails here has published nothing.
"""

from __future__ import annotations

import socket
import ssl
import struct
from contextlib import closing

from smartmeter_assets.kafka.security import PLAINTEXT, KafkaSecurity
from smartmeter_assets.settings import ENV_PREFIX

CONNECT_TIMEOUT_SECONDS = 5.0
_SASL_HANDSHAKE, _SASL_AUTHENTICATE = 17, 36
_CLIENT_ID = b"smartmeter-access-check"


class KafkaAccessError(ConnectionError):
    """The cluster refused our TLS or SASL: a one-line reason naming the setting to check."""


def check_access(bootstrap: str, security: KafkaSecurity, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise :class:`KafkaAccessError` unless the first bootstrap server accepts our TLS and login.

    PLAINTEXT has nothing to check beyond TCP (the caller's reachability probe).
    """
    if security.protocol == PLAINTEXT:
        return
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    with closing(_connect(host, int(port), security, timeout)) as connection:
        if security.uses_sasl:
            _authenticate(connection, host, int(port), security)


def _connect(host: str, port: int, security: KafkaSecurity, timeout: float) -> socket.socket:
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        raise KafkaAccessError(f"Kafka at {host}:{port} cannot be reached: {error}") from None
    if not security.uses_tls:
        return raw
    try:
        context = security.tls_context()
    except (OSError, ssl.SSLError) as error:
        raw.close()
        raise KafkaAccessError(
            f"the Kafka TLS files ({ENV_PREFIX}KAFKA_SSL_CA_FILE, _CERT_FILE, _KEY_FILE) cannot be loaded: {error}"
        ) from None
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        raw.close()
        trust = security.ca_file or "the system's CA certificates"
        raise KafkaAccessError(
            f"TLS to Kafka at {host}:{port} failed: its certificate is not trusted by {trust} "
            f"({error.verify_message}); set {ENV_PREFIX}KAFKA_SSL_CA_FILE to the CA that signed it"
        ) from None
    except (ssl.SSLError, OSError) as error:
        raw.close()
        raise KafkaAccessError(
            f"TLS to Kafka at {host}:{port} failed ({getattr(error, 'reason', None) or error}): "
            f"does this listener speak {security.protocol} ({ENV_PREFIX}KAFKA_SECURITY_PROTOCOL)?"
        ) from None


def _authenticate(connection: socket.socket, host: str, port: int, security: KafkaSecurity) -> None:
    refused = f"Kafka at {host}:{port} refused the {security.mechanism} login of user {security.username!r}"
    try:
        reader = _Exchange(connection)
        error, mechanisms = reader.handshake(security.mechanism)
        if error or security.mechanism not in mechanisms:
            raise KafkaAccessError(
                f"{refused}: the listener offers {', '.join(mechanisms) or 'no SASL mechanism'} "
                f"({ENV_PREFIX}KAFKA_SASL_MECHANISM)"
            )
        mechanism = security.sasl_mechanism(host)
        while not mechanism.is_done():  # type: ignore[attr-defined]
            error, message, answer = reader.authenticate(mechanism.auth_bytes())  # type: ignore[attr-defined]
            if error:
                raise KafkaAccessError(f"{refused}: {message or f'error code {error}'}")
            mechanism.receive(answer)  # type: ignore[attr-defined]
        if not mechanism.is_authenticated():  # type: ignore[attr-defined]
            raise KafkaAccessError(f"{refused}: the broker's proof did not verify")
    except KafkaAccessError:
        raise
    except (OSError, struct.error, ValueError) as error:
        raise KafkaAccessError(
            f"{refused}: the connection broke during login ({error or type(error).__name__}); "
            f"does this listener speak {security.protocol} ({ENV_PREFIX}KAFKA_SECURITY_PROTOCOL)?"
        ) from None


class _Exchange:
    """Kafka's wire framing for the two SASL requests (request header v1, response header v0)."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.correlation = 0

    def handshake(self, mechanism: str) -> tuple[int, list[str]]:
        body = self._call(_SASL_HANDSHAKE, 1, _string(mechanism.encode()))
        (error,) = struct.unpack_from(">h", body, 0)
        (count,) = struct.unpack_from(">i", body, 2)
        offset, names = 6, []
        for _ in range(max(count, 0)):
            name, offset = _read_string(body, offset)
            names.append(name or "")
        return error, names

    def authenticate(self, token: bytes) -> tuple[int, str | None, bytes]:
        body = self._call(_SASL_AUTHENTICATE, 0, struct.pack(">i", len(token)) + token)
        (error,) = struct.unpack_from(">h", body, 0)
        message, offset = _read_string(body, 2)
        (size,) = struct.unpack_from(">i", body, offset)
        return error, message, body[offset + 4 : offset + 4 + max(size, 0)]

    def _call(self, api_key: int, version: int, payload: bytes) -> bytes:
        self.correlation += 1
        request = struct.pack(">hhi", api_key, version, self.correlation) + _string(_CLIENT_ID) + payload
        self.connection.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", self._read(4))
        response = self._read(size)
        (correlation,) = struct.unpack_from(">i", response, 0)
        if correlation != self.correlation:
            raise ValueError(f"answer to request {correlation}, expected {self.correlation}")
        return response[4:]

    def _read(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            chunk = self.connection.recv(remaining)
            if not chunk:
                raise ConnectionResetError("the broker closed the connection")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


def _string(value: bytes) -> bytes:
    return struct.pack(">h", len(value)) + value


def _read_string(body: bytes, offset: int) -> tuple[str | None, int]:
    (size,) = struct.unpack_from(">h", body, offset)
    if size < 0:
        return None, offset + 2
    return body[offset + 2 : offset + 2 + size].decode(), offset + 2 + size
