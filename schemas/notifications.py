"""Side effects requested by events: surveys to clients, notifications to employees."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from schemas.base import Command, Comment, EventPayload, PersonalEmail, ShortText


class SurveyKind(StrEnum):
    FAREWELL = "farewell"
    QUALITY = "quality"


class NotificationKind(StrEnum):
    DUPLICATE_NEED = "duplicate_need"
    DEAL_LOST = "deal_lost"
    FOLLOW_UP_OVERDUE = "follow_up_overdue"
    DEAL_WITHOUT_FOLLOW_UP = "deal_without_follow_up"
    RESPONSE_SLA = "response_sla"
    DAILY_REPORT = "daily_report"


class RecordSurveyAnswer(Command):
    survey_id: UUID
    score: int = Field(ge=0, le=10, description="NPS score 0-10")
    comment: Comment | None = None


class SurveyRequested(EventPayload):
    """A survey e-mail to the client is due; the id is the delivery's stable key."""

    survey_id: UUID
    kind: SurveyKind
    recipient: PersonalEmail
    subject_type: str = Field(pattern="^(lead|deal)$")
    subject_id: UUID


class SurveyAnswered(EventPayload):
    survey_id: UUID
    kind: SurveyKind
    score: int = Field(ge=0, le=10)
    comment: Comment | None


class NotificationRequested(EventPayload):
    """A notification to employees is due; its id is the delivery's stable key.

    Recipients are employee ids or 'role:<role>' (e.g. 'role:head_of_sales').
    """

    notification_id: UUID
    kind: NotificationKind
    recipients: list[str]
    summary: ShortText


class MarkNotificationRead(Command):
    notification_id: UUID


class DismissNotification(Command):
    notification_id: UUID


class NotificationRead(EventPayload):
    notification_id: UUID


class NotificationDismissed(EventPayload):
    notification_id: UUID
