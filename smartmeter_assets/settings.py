"""The one settings object.

Every tunable of the platform lives here, read from ``SMARTMETER_*`` environment variables with
embedded defaults, so that a fresh clone runs with no configuration at all (embedded broker, local
lake, ``local[2]`` Spark) and the production stack only sets environment variables. The Dagster
resources are built from it and the Spark job receives it as environment variables
(:meth:`Settings.to_env`), so the two sides can never disagree on a value.

S3 credentials are deliberately *not* settings: they come from the standard AWS variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION``, and
``AWS_CA_BUNDLE`` for a private CA) so that every AWS tool the user already has agrees with us; see
:mod:`smartmeter_assets.lake.storage`.

Secrets (the Kafka SASL password) are ``SecretStr``: they print as ``**********`` wherever a
Settings object is logged, and :meth:`Settings.to_env` leaves them out (a subprocess inherits the
variable from the environment, or reads the password file whose *path* it is given).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SMARTMETER_"
EMBEDDED = "embedded"

#: DuckDB's memory bound per connection (see lake/query_engine.py for why 3 GB).
DEFAULT_QUERY_MEMORY_LIMIT = "3GB"
#: A size as DuckDB's memory_limit reads it: a number and a unit.
_MEMORY_SIZE = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class SettingsError(ValueError):
    """A setting that cannot work, said in one sentence naming the variable."""


def read_secret_file(path: Path, variable: str) -> SecretStr:
    """A secret kept in a file (a Docker/Kubernetes secret mount): its content, trailing newline cut."""
    try:
        return SecretStr(path.read_text().rstrip("\r\n"))
    except OSError as error:
        raise SettingsError(f"{variable}={path} cannot be read: {error.strerror or error}") from None


class Settings(BaseSettings):
    """Everything configurable, with the embedded defaults."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    # --- where things live ---------------------------------------------------------------
    home: Path = Field(
        default=Path(".smartmeter"),
        description="State folder for the embedded setup: Dagster home, lake, checkpoints.",
    )
    data_dir: Path = Field(
        default=Path("data/sample"),
        description="Folder holding the Kaggle-format CSV files.",
    )
    lake_url: str = Field(
        default="",
        description="Lake root: a local folder, file:///abs/path or s3://bucket[/prefix]. Empty means <home>/lake.",
    )

    query_memory_limit: str = Field(
        default=DEFAULT_QUERY_MEMORY_LIMIT,
        description="Memory bound of each DuckDB query over the lake and the staged readings (e.g. 3GB, 512MB); "
        "past it DuckDB spills to a temporary folder instead of growing (its own default is 80% of RAM).",
    )

    # --- Kafka ----------------------------------------------------------------------------
    kafka_bootstrap: str = Field(
        default=EMBEDDED,
        description="host:port[,host:port] of a real cluster, or 'embedded': the project's own Apache Kafka node.",
    )
    kafka_topic: str = "smart-meter-topic"
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_compression: str = Field(default="lz4", description="Producer compression codec.")
    # --- Kafka security (a utility's cluster: SASL/SCRAM over TLS) -----------------------------
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT", description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(
        default="SCRAM-SHA-512", description="SASL mechanism (SASL_* protocols): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."
    )
    kafka_sasl_username: str = Field(default="", description="SASL user (SASL_* protocols).")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; never logged, never handed on in to_env. Or use the _FILE variant."
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="File holding the SASL password (a mounted secret), read at each connection."
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None, description="PEM CA certificate(s) the broker's certificate must chain to. Empty: the system's."
    )
    kafka_ssl_cert_file: Path | None = Field(default=None, description="PEM client certificate (mutual TLS).")
    kafka_ssl_key_file: Path | None = Field(default=None, description="PEM private key of the client certificate.")

    publish_speedup: float = Field(
        default=0.0,
        ge=0.0,
        description="Replay pacing: 0 publishes as fast as possible; N replays N times real time.",
    )

    # --- Spark stream ---------------------------------------------------------------------
    spark_master: str = "local[2]"
    spark_driver_memory: str = "2g"
    spark_trigger_seconds: float = Field(default=5.0, gt=0)
    spark_max_records_per_batch: int = Field(
        default=500_000,
        ge=1,
        description="Most Kafka records per micro-batch (a replay's batch size; live batches are smaller). "
        "It also caps a catching-up stream at this many records per trigger interval: 250k per 5 s held "
        "`smartmeter run` to 50k rows/s once publishing ended. Measured on local[2] (benchmarks/stream.py "
        "--readings 2000000 --max-records N, same machine load): 42k rows/s at 250k, 65k at 500k, 37k at "
        "1M (and 1.2 GB more peak RSS), as each batch's fixed costs spread until its memory grows.",
    )
    stream_query_name: str = "smart_meter_stream"
    stream_checkpoint_url: str = Field(
        default="",
        description="Spark checkpoint folder of the stream. Empty means <lake>/checkpoints/<query "
        "name>; set it to a local folder when the lake is on S3 and Spark has no s3a:// (embedded).",
    )
    window_minutes: int = Field(default=30, ge=1)
    window_slide_minutes: int = Field(default=30, ge=1)

    # --- anomaly thresholds (kWh per half hour; the rules themselves are in contracts) -----
    extreme_consumption_kwh: float = 2.0
    night_consumption_kwh: float = 0.5
    weekend_daytime_consumption_kwh: float = 1.5

    # --- S3 transport (endpoint, credentials and CA bundle: the standard AWS_* variables) -------
    s3_allow_http: bool = Field(
        default=False,
        description="Allow a plain http:// S3 endpoint that is not on loopback (credentials and data "
        "would cross the network unencrypted): only inside a private network, e.g. the bundled MinIO.",
    )

    # --- orchestration --------------------------------------------------------------------
    replay_enabled: bool = Field(
        default=False,
        description="Turn the replay clock on at start (make up's demo mode sets it).",
    )
    replay_interval_seconds: int = Field(default=60, ge=1, description="Seconds between published days.")
    replay_start_date: date | None = Field(
        default=None, description="First day the replay publishes; default: the first day with data."
    )
    stream_backoff_seconds: float = Field(default=10.0, gt=0, description="First relaunch delay; doubles.")
    stream_max_failures: int = Field(default=5, ge=1)
    stream_failure_window_minutes: int = Field(default=30, ge=1)
    stream_lag_threshold: int = Field(default=500_000, ge=0, description="Max unread records (check).")
    lake_maintenance_cron: str = Field(
        default="17 * * * *", description="When the lake is compacted, vacuumed and checkpointed (cron)."
    )
    lake_vacuum_retention_hours: int = Field(
        default=168, ge=0, description="Files no longer in the table are deleted once older than this."
    )
    anomaly_rate_max: float = Field(
        default=0.05, ge=0, le=1, description="Upper bound of the anomaly-rate check (anomalies / raw)."
    )
    reports_refresh_cron: str = Field(
        default="*/2 * * * *",
        description="When the report assets are refreshed if the lake changed since their last run (cron, UTC).",
    )
    lake_freshness_minutes: int = Field(
        default=60, ge=1, description="raw/ is stale (WARN check) when its newest file is older than this."
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _blank_means_embedded(cls, value: str) -> str:
        return value.strip() or EMBEDDED

    @field_validator("query_memory_limit")
    @classmethod
    def _a_memory_size(cls, value: str) -> str:
        if not _MEMORY_SIZE.match(value.strip()):
            raise SettingsError(f"{ENV_PREFIX}QUERY_MEMORY_LIMIT={value!r} is not a size such as 3GB or 512MB")
        return value.strip()

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        """Refuse, at start, a security setup that could only fail at the first connection."""
        if self.kafka_is_embedded and self.kafka_security_protocol != "PLAINTEXT":
            raise SettingsError(
                f"{ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                f"{ENV_PREFIX}KAFKA_BOOTSTRAP to name a cluster: the embedded broker is plaintext on 127.0.0.1"
            )
        if self.kafka_security_protocol.startswith("SASL_"):
            if not self.kafka_sasl_username:
                raise SettingsError(f"{self.kafka_security_protocol} needs {ENV_PREFIX}KAFKA_SASL_USERNAME")
            if (self.kafka_sasl_password is None) == (self.kafka_sasl_password_file is None):
                raise SettingsError(
                    f"{self.kafka_security_protocol} needs exactly one of {ENV_PREFIX}KAFKA_SASL_PASSWORD "
                    f"and {ENV_PREFIX}KAFKA_SASL_PASSWORD_FILE"
                )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise SettingsError(
                f"a client certificate needs both {ENV_PREFIX}KAFKA_SSL_CERT_FILE and {ENV_PREFIX}KAFKA_SSL_KEY_FILE"
            )
        for name in ("kafka_ssl_ca_file", "kafka_ssl_cert_file", "kafka_ssl_key_file", "kafka_sasl_password_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise SettingsError(f"{ENV_PREFIX}{name.upper()}={path} is not a file")
        return self

    def kafka_password(self) -> SecretStr | None:
        """The SASL password, from the setting or read now from its file (so a rotated secret applies)."""
        if self.kafka_sasl_password_file is not None:
            return read_secret_file(self.kafka_sasl_password_file, f"{ENV_PREFIX}KAFKA_SASL_PASSWORD_FILE")
        return self.kafka_sasl_password

    @property
    def kafka_is_embedded(self) -> bool:
        return self.kafka_bootstrap == EMBEDDED

    @property
    def lake_root(self) -> str:
        """The lake as a URL-ish root: ``s3://bucket/prefix`` or an absolute local path."""
        if not self.lake_url:
            return str((self.home / "lake").resolve())
        if self.lake_url.startswith("file://"):
            return str(Path(self.lake_url.removeprefix("file://")).resolve())
        if "://" in self.lake_url:
            return self.lake_url.rstrip("/")
        return str(Path(self.lake_url).resolve())

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_root.startswith(("s3://", "s3a://"))

    @property
    def dagster_home(self) -> Path:
        return (self.home / "dagster_home").resolve()

    def to_env(self) -> dict[str, str]:
        """The settings as ``SMARTMETER_*`` variables, to hand to a subprocess (the Spark job).

        Secrets are left out: these variables end up in resource config the Dagster UI shows. The
        subprocess inherits a password given in the environment, or reads the password file whose
        path is among these variables.
        """
        env: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                continue
            if isinstance(value, Path):
                value = value.resolve()  # the subprocess may run in another folder
            env[f"{ENV_PREFIX}{name.upper()}"] = "" if value is None else str(value)
        return env


def env_variable_names() -> list[str]:
    """Every ``SMARTMETER_*`` variable Settings reads (checked against docker-compose.yml)."""
    return sorted(f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields)
