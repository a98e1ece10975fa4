"""The stream's trust in an https S3 endpoint signed by a private CA, from ``AWS_CA_BUNDLE`` alone.

Why a Java truststore of our own: Spark's S3A connector (hadoop-aws 3.5.0 on the AWS SDK v2),
which keeps the stream's checkpoint on ``s3a://``, has no CA option of its own. Its only TLS
setting is ``fs.s3a.ssl.channel.mode``; its socket factory (Hadoop's ``DelegatingSSLSocketFactory``)
initialises TLS with the JVM's default trust managers, i.e. ``javax.net.ssl.trustStore``. That
store must keep the JVM's public CAs (AWS itself, any public endpoint) and add the bundle's, so it
is built with the JDK's ``keytool`` from the JVM's own ``cacerts`` plus the certificates of
``AWS_CA_BUNDLE`` it lacks, under ``<home>/tls/`` (none lacking: no store, the JVM's own
serves). The file name carries a hash of both, so a changed bundle (or a JDK update) gives a new
store, and an unchanged one is reused without starting keytool. The store is PKCS12 with
neither password nor MAC, like the JDK's own ``cacerts`` since Java 18. A truststore holds only
public certificates, so no password is passed, shown or logged.

:func:`check_endpoint_trust` gives the failure in one line before anything touches S3: one TLS
handshake of Python's with the same bundle. Without it, an endpoint the bundle does not trust
would surface as a pyarrow/curl error with a traceback, or as S3A retrying inside Spark.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from smartmeter_assets.kafka.broker import java_binary

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
#: Where under the home the stores are kept (one per bundle content).
TRUSTSTORE_FOLDER = "tls"
#: The JDK's documented password of ``cacerts``: it only checks the integrity of the source store.
_JDK_CACERTS_PASSWORD = "changeit"
#: keytool writes the PKCS12 store without certificate encryption or MAC: no password to load it.
_UNPROTECTED_PKCS12 = ("-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE", "-J-Dkeystore.pkcs12.macAlgorithm=NONE")
_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


class S3TrustError(RuntimeError):
    """The S3 endpoint's certificate is not trusted, or the trust cannot be set up: one line."""


def check_endpoint_trust(endpoint: str | None, ca_bundle: str | None, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise :class:`S3TrustError` when an https endpoint's certificate is not signed by the bundle.

    With no bundle the system's CAs are what Python, pyarrow and boto3 trust, so those are checked.
    An endpoint that cannot be reached at all is left to the S3 clients' own errors and retries.
    """
    if not endpoint or urlsplit(endpoint).scheme != "https":
        return
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "", parts.port or 443
    trusted = f"AWS_CA_BUNDLE ({ca_bundle})" if ca_bundle else "the system's CAs (AWS_CA_BUNDLE is not set)"
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as error:
        raise S3TrustError(f"AWS_CA_BUNDLE ({ca_bundle}) cannot be loaded as PEM certificates: {error}") from None
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return
    except ssl.SSLCertVerificationError as error:
        raise S3TrustError(
            f"the certificate of the S3 endpoint {endpoint} fails verification against {trusted}: "
            f"{error.verify_message}; set AWS_CA_BUNDLE to the PEM of the CA that signed it"
        ) from None
    except ssl.SSLError as error:
        raise S3TrustError(f"TLS to the S3 endpoint {endpoint} failed: {error.reason or error}") from None
    except OSError:
        return


def bundle_certificates(ca_bundle: Path) -> list[bytes]:
    """The bundle's certificates (DER), in file order, each once."""
    try:
        text = ca_bundle.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise S3TrustError(f"AWS_CA_BUNDLE ({ca_bundle}) cannot be read: {error}") from None
    certificates = list(dict.fromkeys(ssl.PEM_cert_to_DER_cert(pem) for pem in _PEM_CERTIFICATE.findall(text)))
    if not certificates:
        raise S3TrustError(f"AWS_CA_BUNDLE ({ca_bundle}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return certificates


def jvm_home() -> Path:
    """The JDK Spark starts (``JAVA_HOME``, else ``java`` on PATH, as ``spark-class`` picks it)."""
    return Path(java_binary()).resolve().parent.parent


def jvm_default_truststore(java_home: Path) -> Path:
    """What that JVM trusts when no store is named: ``jssecacerts`` when present, else ``cacerts``."""
    security = java_home / "lib" / "security"
    jssecacerts = security / "jssecacerts"
    return jssecacerts if jssecacerts.is_file() else security / "cacerts"


def java_truststore(home: Path, ca_bundle: Path) -> Path | None:
    """``<home>/tls/s3a-truststore-<hash>.p12``: the JVM's CAs plus the bundle's, built when missing.

    None when the JVM already trusts every certificate of the bundle: then its default store is
    the right one. That is the common case of ``AWS_CA_BUNDLE`` naming the system's bundle (set
    machine-wide behind many proxies; Debian's JDK ``cacerts`` is built from that same bundle),
    which would otherwise cost one keytool start per certificate (~50 s for 144) in every new home.
    The verdict is kept beside the stores, under the same hash.
    """
    certificates = bundle_certificates(ca_bundle)
    java_home = jvm_home()
    default_store = jvm_default_truststore(java_home)
    digest = hashlib.sha256(default_store.read_bytes() + b"".join(certificates)).hexdigest()[:16]
    folder = home.resolve() / TRUSTSTORE_FOLDER
    store = folder / f"s3a-truststore-{digest}.p12"
    adds_nothing = folder / f"s3a-truststore-{digest}.adds-nothing"
    if store.is_file():
        return store
    if adds_nothing.is_file():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    trusted = jvm_trusted_certificates(java_home, default_store)
    certificates = [certificate for certificate in certificates if certificate not in trusted]
    if not certificates:
        adds_nothing.touch()
        log.info(
            "AWS_CA_BUNDLE (%s) holds no CA the JVM does not trust already (%s): S3A keeps the JVM's store",
            ca_bundle, default_store,
        )  # fmt: skip
        return None
    with tempfile.TemporaryDirectory(dir=folder, prefix=".building-") as work:
        partial = Path(work) / store.name
        _keytool(
            java_home,
            "-importkeystore", "-srckeystore", str(default_store), "-srcstorepass", _JDK_CACERTS_PASSWORD,
            "-destkeystore", str(partial), "-deststoretype", "PKCS12", "-deststorepass", _JDK_CACERTS_PASSWORD,
        )  # fmt: skip
        for certificate in certificates:
            der = Path(work) / "ca.der"
            der.write_bytes(certificate)
            alias = f"smartmeter-s3-ca-{hashlib.sha256(certificate).hexdigest()[:16]}"
            _keytool(
                java_home,
                "-importcert", "-alias", alias, "-file", str(der),
                "-keystore", str(partial), "-storetype", "PKCS12", "-storepass", _JDK_CACERTS_PASSWORD,
            )  # fmt: skip
        partial.replace(store)  # whole or absent: two streams starting at once both end with it
    log.info(
        "S3A truststore %s: the JVM's CAs (%s) plus %d certificate(s) of AWS_CA_BUNDLE (%s)",
        store, default_store, len(certificates), ca_bundle,
    )  # fmt: skip
    return store


def jvm_trusted_certificates(java_home: Path, default_store: Path) -> set[bytes]:
    """The certificates (DER) of the JVM's default store, read with one keytool start."""
    listed = _keytool(java_home, "-list", "-rfc", "-keystore", str(default_store), "-storepass", _JDK_CACERTS_PASSWORD)
    return {ssl.PEM_cert_to_DER_cert(pem) for pem in _PEM_CERTIFICATE.findall(listed)}


def _keytool(java_home: Path, *arguments: str) -> str:
    """Run keytool; its standard output, or :class:`S3TrustError` with its last line."""
    keytool = java_home / "bin" / "keytool"
    if not keytool.is_file():
        raise S3TrustError(f"no keytool beside the JVM in {java_home}: the S3A truststore cannot be built")
    command = [str(keytool), *_UNPROTECTED_PKCS12, *arguments, "-noprompt"]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, check=False)
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        raise S3TrustError(f"keytool {arguments[0]} failed building the S3A truststore: {said[-1] if said else ''}")
    return done.stdout


def java_trust_options(store: Path) -> str:
    """The JVM options naming the store (for ``spark.{driver,executor}.extraJavaOptions``)."""
    return f"-Djavax.net.ssl.trustStore={shlex.quote(str(store))} -Djavax.net.ssl.trustStoreType=PKCS12"
