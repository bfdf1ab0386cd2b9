"""Inbound integration topics: interests from web forms and the mail gateway, calls from the PBX.

At least once: a partition's offset is committed only after its messages' commands were stored (or the
messages were dead-lettered), so a crash redelivers and never loses. A redelivery is harmless because
every message carries its idempotency key: the interest's `external_ref` (unique per channel) and the
PBX call id. A message that can never succeed (not JSON, invalid, refused by the domain) goes to the
dead-letter topic with the reason, and the consumer goes on; anything else (the store busy or down,
Kafka unavailable) is retried with back-off from the same offset and never dead-lettered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import CommitFailedError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition
from pydantic import Field, StringConstraints, ValidationError

from aggregates.errors import ConflictError, DomainError
from consumers.kafka_topics import CONNECT_TIMEOUT_MS, consumer, kafka_errors, producer
from schemas.activities import LogCall
from schemas.auth import Caller
from schemas.base import Command, CommandAccepted, ShortText
from schemas.employees import Role
from schemas.leads import RegisterInterest

log = structlog.get_logger("voronka.inbound")

GROUP = "voronka-inbound"
PBX = Caller(employee="system:pbx", role=Role.INTEGRATION)
INBOUND_RETENTION_MS = 30 * 24 * 3600 * 1000  # outlives a long outage of this consumer; the store keeps what it took
MAX_ERROR_LENGTH = 2_000

Handle = Callable[[Command, Caller], CommandAccepted]
Parse = Callable[[object], tuple[Command, Caller]]

IntegrationSource = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$"),
    Field(description="Short code of the sending integration (site, mail_gateway…); the caller is system:<source>"),
]


class InterestMessage(RegisterInterest):
    """A `register-interest` body plus the integration that sends it."""

    source: IntegrationSource
    external_ref: ShortText = Field(description="Required: without it a redelivery would register a second lead")

    def command(self) -> RegisterInterest:
        return RegisterInterest.model_validate(self.model_dump(exclude={"source"}))


class CallMessage(LogCall):
    """A `log-call` body from the PBX."""

    pbx_call_id: ShortText = Field(description="Required: without it a redelivery would log the call twice")

    def command(self) -> LogCall:
        return LogCall.model_validate(self.model_dump())


def parse_interest(data: object) -> tuple[Command, Caller]:
    message = InterestMessage.model_validate(data)
    return message.command(), Caller(employee=f"system:{message.source}", role=Role.INTEGRATION)


def parse_call(data: object) -> tuple[Command, Caller]:
    return CallMessage.model_validate(data).command(), PBX


class Refused(Exception):
    """A message that can never be stored as it is: it goes to the dead-letter topic with this reason."""


def validation_text(exc: ValidationError) -> str:
    """One line per problem, each naming the field, e.g. `contact.email: not a valid e-mail address`."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())


def decode(value: bytes | None) -> object:
    if value is None:
        raise Refused("message: empty (no value)")
    try:
        return json.loads(value)
    except ValueError as exc:  # also undecodable bytes
        raise Refused(f"message: not JSON ({exc})") from None


@dataclass(frozen=True)
class InboundTopics:
    interests: str
    calls: str
    dlq: str
    partitions: int = 3

    def parsers(self) -> dict[str, Parse]:
        return {self.interests: parse_interest, self.calls: parse_call}

    def specs(self) -> dict[str, dict]:
        """Delete policy everywhere (never compacted); dead letters are kept until someone deals with them."""
        inbound = {"num_partitions": self.partitions,
                   "configs": {"cleanup.policy": "delete", "retention.ms": str(INBOUND_RETENTION_MS)}}  # fmt: skip
        dead = {"num_partitions": 1, "configs": {"cleanup.policy": "delete", "retention.ms": "-1"}}
        return {self.interests: inbound, self.calls: inbound, self.dlq: dead}


class Backoff:
    """Exponential waits between retries of a transient failure; a success starts over."""

    def __init__(self, first: float = 0.5, longest: float = 30.0) -> None:
        self.first, self.longest, self.attempt = first, longest, 0

    def next_delay(self) -> float:
        self.attempt += 1
        return min(self.first * 2 ** (self.attempt - 1), self.longest)

    def reset(self) -> None:
        self.attempt = 0


class InboundConsumer:
    def __init__(self, consumer: KafkaConsumer, producer: KafkaProducer, handle: Handle, topics: InboundTopics,
                 backoff: Backoff | None = None, stop: threading.Event | None = None) -> None:  # fmt: skip
        self.consumer, self.producer, self.handle, self.topics = consumer, producer, handle, topics
        self.parsers = topics.parsers()
        self.backoff = backoff or Backoff()
        self.stop = threading.Event() if stop is None else stop

    def run(self) -> None:
        """Consume until `stop` is set; a failure of Kafka itself is logged and retried."""
        log.info("inbound_started", topics=[self.topics.interests, self.topics.calls], dead_letters=self.topics.dlq)
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:
                self._wait(exc, {})
        log.info("inbound_stopped")

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Take one batch; answers how many messages were settled (stored or dead-lettered)."""
        settled = 0
        for partition, messages in self.consumer.poll(timeout_ms=timeout_ms).items():
            settled += self._take_partition(partition, messages)
        return settled

    def _take_partition(self, partition: TopicPartition, messages: list) -> int:
        settled = 0
        for message in messages:
            try:
                self._take(message)
            except Exception as exc:  # transient: the same message again after a pause, never dead-lettered
                self.consumer.seek(partition, message.offset)
                self._wait(exc, where(message))
                break
            settled += 1
            self.backoff.reset()
        if settled:
            self._commit(partition, messages[settled - 1].offset + 1)
        return settled

    def _take(self, message) -> None:
        try:
            command, caller = self.parsers[message.topic](decode(message.value))
            accepted = self.handle(with_business_time(command, message), caller)
        except Refused as exc:
            self._dead_letter(message, str(exc))
        except ValidationError as exc:
            self._dead_letter(message, validation_text(exc))
        except ConflictError:  # these two commands are idempotent: only racing writers raise it, so retry
            raise
        except DomainError as exc:
            self._dead_letter(message, exc.message)
        else:
            log.info("inbound_stored", **where(message), command=type(command).__name__, id=accepted.id,
                     position=accepted.position, replayed=bool(accepted.warnings))  # fmt: skip

    def _dead_letter(self, message, error: str) -> None:
        headers = [("error", error[:MAX_ERROR_LENGTH].encode()), ("source_topic", message.topic.encode()),
                   ("source_partition", str(message.partition).encode()), ("source_offset", str(message.offset).encode())]  # fmt: skip
        self.producer.send(self.topics.dlq, key=message.key, value=message.value, headers=headers).get(timeout=30)
        log.warning("inbound_dead_lettered", **where(message), error=error)

    def _commit(self, partition: TopicPartition, next_offset: int) -> None:
        try:
            self.consumer.commit({partition: OffsetAndMetadata(next_offset, "", -1)})
        except CommitFailedError as exc:  # the partition moved to another member, which will redeliver: harmless
            log.warning("inbound_commit_failed", topic=partition.topic, partition=partition.partition, error=str(exc))

    def _wait(self, exc: Exception, context: dict) -> None:
        delay = self.backoff.next_delay()
        log.warning("inbound_retry", **context, error=f"{type(exc).__name__}: {exc}", attempt=self.backoff.attempt,
                    delay_seconds=delay)  # fmt: skip
        self.stop.wait(delay)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
        self.producer.close()


def with_business_time(command: Command, message) -> Command:
    """Without an explicit `occurred_at`, it happened when the integration sent it, not when we caught up."""
    if command.occurred_at is not None or message.timestamp is None or message.timestamp < 0:
        return command
    return command.model_copy(update={"occurred_at": datetime.fromtimestamp(message.timestamp / 1000, UTC)})


def where(message) -> dict:
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}


def ensure_topics(bootstrap: str, specs: dict[str, dict]) -> None:
    """Create the topics that are missing (the broker does not create them on first use)."""
    with kafka_errors(f"creating the inbound topics at {bootstrap}"):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=CONNECT_TIMEOUT_MS)
        try:
            missing = {name: spec for name, spec in specs.items() if name not in set(admin.list_topics())}
            if missing:
                admin.create_topics(missing, wait_for_metadata=True)
                log.info("inbound_topics_created", topics=sorted(missing))
        except TopicAlreadyExistsError:  # another instance created it meanwhile
            pass
        finally:
            admin.close()


def connect(bootstrap: str, topics: InboundTopics, handle: Handle, group: str = GROUP,
            stop: threading.Event | None = None, backoff: Backoff | None = None) -> InboundConsumer:  # fmt: skip
    """Create the topics if missing and join the group; a broker that cannot be reached raises KafkaUnavailable."""
    ensure_topics(bootstrap, topics.specs())
    dead_letters = producer(bootstrap, client_id="voronka-inbound")
    inbound = consumer(bootstrap, group_id=group, client_id="voronka-inbound", auto_offset_reset="earliest",
                       max_poll_records=100)  # fmt: skip
    with kafka_errors(f"subscribing to {topics.interests} and {topics.calls}"):
        inbound.subscribe([topics.interests, topics.calls])
    return InboundConsumer(inbound, dead_letters, handle, topics, backoff, stop)
