"""All configuration in one validated class, read from VORONKA_* environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aggregates import policy as defaults
from aggregates.policy import Policy
from read_api.kpi_figures import KpiRules

INSECURE_DEV_SECRET = "voronka-dev-secret-change-me-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VORONKA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the SQLite files live")
    store: Literal["sqlite", "postgres"] = "sqlite"
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_db: str = "voronka"
    postgres_user: str = "voronka"
    postgres_password: SecretStr = SecretStr("voronka")
    read_model_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the read-model database (default: read.sqlite in the data directory)"
    )
    aggregate_cache_size: int = Field(default=1000, ge=0)

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    kafka_events_topic: str = Field(default="voronka.events", description="Topic the relay publishes every stored event to")
    kafka_dlq_topic: str = Field(default="voronka.events.dlq", description="Dead letters: events a worker could not decode or apply")
    kafka_partitions: int = Field(default=3, ge=1, description="Partitions of the events topic when the relay creates it")
    kafka_group: str = Field(default="voronka-projections", description="Consumer group of the projection workers")
    kafka_inbound_interests_topic: str = Field(default="voronka.inbound.interests", description="Interests from web forms and the mail gateway")
    kafka_inbound_calls_topic: str = Field(default="voronka.inbound.calls", description="Calls from the PBX")
    kafka_inbound_dlq_topic: str = Field(default="voronka.inbound.dlq", description="Inbound messages refused as invalid, with the reason")
    consumers: Literal["embedded", "kafka"] = Field(
        default="embedded",
        description="embedded: `serve` projects the store's log in-process; kafka: `serve` runs the API only and reads "
        "what the Kafka projection workers (`voronka worker`) applied",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr = SecretStr(INSECURE_DEV_SECRET)
    token_ttl_hours: int = Field(default=12, ge=1, le=24 * 366)
    production: bool = Field(default=False, description="Refuse unsafe defaults (the development secret)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = False

    smtp_host: str | None = Field(default=None, description="SMTP server for surveys and notifications")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    mail_from: str = "crm@voronka.local"
    chat_webhook_url: str | None = Field(default=None, description="Team-chat webhook receiving notifications")

    channels: list[str] = Field(default_factory=lambda: list(defaults.DEFAULT_CHANNELS))
    disqualification_reasons: list[str] = Field(default_factory=lambda: list(defaults.DEFAULT_DISQUALIFICATION_REASONS))
    need_cancel_reasons: list[str] = Field(default_factory=lambda: list(defaults.DEFAULT_NEED_CANCEL_REASONS))
    deal_loss_reasons: list[str] = Field(default_factory=lambda: list(defaults.DEFAULT_DEAL_LOSS_REASONS))
    response_sla_minutes: int = Field(default=120, ge=1)
    follow_up_grace_hours: int = Field(default=24, ge=1, description="An open deal may lack a next follow-up this long")
    similarity_threshold: float = Field(default=0.8, gt=0, le=1)
    business_timezone: str = "Europe/Moscow"
    consistency_timeout_seconds: float = Field(default=2.0, gt=0, le=30, description="How long a query waits for its token")
    kpi_short_call_seconds: int = Field(default=20, ge=1, description="An answered call shorter than this is an anomaly")
    kpi_long_call_minutes: int = Field(default=30, ge=1, description="A call longer than this is an anomaly")
    kpi_long_cycle_days: int = Field(default=90, ge=1, description="A deal open (or closed) after longer is an anomaly")
    kpi_low_check_ratio: float = Field(default=0.5, gt=0, le=1, description="Average check below this share of the department's")
    pdf_font_dir: Path = Field(
        default=Path("/usr/share/fonts/truetype/dejavu"),
        description="Directory with DejaVuSans.ttf and DejaVuSans-Bold.ttf, embedded in printed PDFs (Debian: fonts-dejavu-core)",
    )

    @field_validator("business_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @field_validator("channels", "disqualification_reasons", "need_cancel_reasons", "deal_loss_reasons")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        if not values:
            raise ValueError("the list may not be empty")
        bad = [v for v in values if not v.replace("_", "").isalnum() or not v.islower()]
        if bad:
            raise ValueError(f"codes are lower-case letters, digits and '_': {bad}")
        return values

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        if self.production and self.secret_key.get_secret_value() == INSECURE_DEV_SECRET:
            raise ValueError("set VORONKA_SECRET_KEY: the development secret is refused in production")
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("VORONKA_SECRET_KEY needs at least 32 characters")
        return self

    def read_models_url(self) -> str:
        """Read models live in their own database, apart from the event store."""
        if self.read_model_url:
            return self.read_model_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'read.sqlite'}"

    @property
    def event_store_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def event_store_env(self) -> dict[str, str]:
        """The `eventsourcing` environment for the chosen store, passed explicitly (never os.environ)."""
        common = {"AGGREGATE_CACHE_MAXSIZE": str(self.aggregate_cache_size)}
        if self.store == "sqlite":
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {**common, "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                    "SQLITE_DBNAME": str(self.event_store_path), "SQLITE_LOCK_TIMEOUT": "10"}  # fmt: skip
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_DBNAME": self.postgres_db,
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password.get_secret_value(),
        }

    def kpi_rules(self) -> KpiRules:
        return KpiRules(short_call_seconds=self.kpi_short_call_seconds, long_call_seconds=self.kpi_long_call_minutes * 60,
                        long_cycle_days=self.kpi_long_cycle_days, low_check_ratio=self.kpi_low_check_ratio)  # fmt: skip

    def policy(self) -> Policy:
        return Policy(
            channels=tuple(self.channels),
            disqualification_reasons=tuple(self.disqualification_reasons),
            need_cancel_reasons=tuple(self.need_cancel_reasons),
            deal_loss_reasons=tuple(self.deal_loss_reasons),
            response_sla=timedelta(minutes=self.response_sla_minutes),
            similarity_threshold=self.similarity_threshold,
            business_timezone=self.business_timezone,
        )
