"""Building blocks of the event contract: base models, personal-data marker, common types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)


class Model(BaseModel):
    """Frozen, strict-about-extras base for every schema."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- personal data (152-FZ) -------------------------------------------------------------

PERSONAL_DATA_KEY = "x-personal-data"


class PersonalData:
    """Marks a field as personal data of a data subject (a later step encrypts these)."""

    def __repr__(self) -> str:
        return "PersonalData()"


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,63}$")


# Validation context for events read back (from the store or the topic): their values were checked and
# normalised when the event was recorded, so the costly normalisers pass them through.
AS_RECORDED = {"recorded": True}


def _recorded(info: ValidationInfo) -> bool:
    return bool(info.context) and info.context.get("recorded", False)


def _check_email(value: str, info: ValidationInfo) -> str:
    if _recorded(info):
        return value
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value) or ".." in value:
        raise ValueError("not a valid e-mail address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def _normalise_phone(value: str, info: ValidationInfo) -> str:
    if _recorded(info):
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits[0] in "78":
        digits = "7" + digits[1:]
    elif len(digits) == 10:
        digits = "7" + digits
    if not 10 <= len(digits) <= 15:
        raise ValueError("a phone number needs 10 to 15 digits")
    return "+" + digits


_personal = Field(json_schema_extra={PERSONAL_DATA_KEY: True})
PersonalName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), PersonalData(), _personal
]
PersonalEmail = Annotated[str, AfterValidator(_check_email), PersonalData(), _personal]
PersonalPhone = Annotated[str, AfterValidator(_normalise_phone), PersonalData(), _personal]


# --- identifiers and common values ---------------------------------------------------------

EmployeeId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9._-]{1,63}$"),
    Field(description="Employee login, e.g. 'ivanova'", examples=["ivanova"]),
]
Actor = Annotated[
    str,
    StringConstraints(pattern=r"^([a-z][a-z0-9._-]{1,63}|system:[a-z0-9._-]{1,64})$"),
    Field(description="An employee id, or 'system:<integration>' for forms, mail gateways, PBX"),
]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
Money = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=3)]
Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$"), Field(examples=["2026-11"])]


class Period(Model):
    """The time span in which a need arises (inclusive dates)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError("period end is before its start")
        return self


# --- events --------------------------------------------------------------------------------

EVENT_TYPES: dict[str, type[EventPayload]] = {}


class EventPayload(Model):
    """The payload of one event type: its class name is the event's `type` on the wire.

    `schema_version` grows when the payload changes; `upcast_vN_vN1(data)` static methods
    turn stored older payloads into the current shape.
    """

    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ in EVENT_TYPES:
            raise TypeError(f"event type {cls.__name__} is defined twice")
        EVENT_TYPES[cls.__name__] = cls

    @classmethod
    def upcast(cls, data: dict[str, Any], version: int) -> dict[str, Any]:
        """Bring a payload of an older (or the current) schema version up to the current one, one step at a time."""
        while version < cls.schema_version:
            data = getattr(cls, f"upcast_v{version}_v{version + 1}")(data)
            version += 1
        return data


@dataclass(frozen=True)
class Event:
    """One stored fact. `recorded_at` is set by the store when it accepts the event."""

    originator_id: UUID
    originator_version: int
    occurred_at: datetime
    actor: str
    payload: EventPayload
    aggregate_type: str = ""  # lead, deal, need, ... (the class of the aggregate, lower-case)
    recorded_at: datetime | None = None
    position: int | None = None  # place in the store's global order, once read from the log

    @property
    def type(self) -> str:
        return type(self.payload).__name__


class Command(Model):
    """Base for command inputs. `occurred_at` is business time; it defaults to now."""

    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened in business time (defaults to now)"
    )


class CommandAccepted(Model):
    """What every command answers."""

    id: str = Field(description="Id of the aggregate the command created or changed")
    position: int = Field(description="Place of the command's last event in the store's global order")
    token: str = Field(description="Opaque consistency token for X-Consistency-Token")
    warnings: list[str] = Field(default_factory=list)
    report: dict[str, Any] | None = Field(default=None, description="Details some commands give, e.g. an import report")
