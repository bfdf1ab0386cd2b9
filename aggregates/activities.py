"""Calls, meetings and client surveys."""

from __future__ import annotations

from uuid import UUID

from aggregates.base import Aggregate, Context, on, stable_id
from aggregates.errors import ConflictError, ForbiddenError, InvalidTransitionError
from schemas.activities import (
    CallLogged,
    CallScored,
    MeetingCancelled,
    MeetingHeld,
    MeetingNoShow,
    MeetingScheduled,
    MeetingStatus,
    NoShowParty,
)
from schemas.employees import Role
from schemas.notifications import SurveyAnswered, SurveyKind, SurveyRequested


class Call(Aggregate):
    logged: CallLogged
    score: int | None

    @staticmethod
    def id_for_pbx(pbx_call_id: str) -> UUID:
        return stable_id("call", pbx_call_id)

    @classmethod
    def log(cls, ctx: Context, id: UUID, details: CallLogged) -> Call:
        call = cls.blank(id)
        call._record(ctx, details)
        return call

    def score_quality(self, ctx: Context, score: int, comment: str | None) -> None:
        if not ctx.is_head_of_sales:
            raise ForbiddenError("only the head of sales scores call quality")
        self._record(ctx, CallScored(score=score, scored_by=ctx.actor, comment=comment))

    @on(CallLogged)
    def _logged(self, e: CallLogged) -> None:
        self.logged, self.score = e, None

    @on(CallScored)
    def _scored(self, e: CallScored) -> None:
        self.score = e.score


class Meeting(Aggregate):
    """Set by a generator for a converter; credit follows from how it ends."""

    scheduled: MeetingScheduled
    status: MeetingStatus

    @classmethod
    def schedule(cls, ctx: Context, id: UUID, details: MeetingScheduled) -> Meeting:
        meeting = cls.blank(id)
        meeting._record(ctx, details)
        return meeting

    @property
    def held_by(self) -> str | None:
        return self.scheduled.converter if self.status is MeetingStatus.HELD else None

    def record_held(self, ctx: Context) -> None:
        self._require_scheduled(ctx, "record as held")
        self._record(ctx, MeetingHeld(converter=self.scheduled.converter))

    def record_no_show(self, ctx: Context, party: NoShowParty) -> None:
        self._require_scheduled(ctx, "record a no-show")
        self._record(ctx, MeetingNoShow(party=party))

    def cancel(self, ctx: Context, reason: str) -> None:
        self._require_scheduled(ctx, "cancel")
        self._record(ctx, MeetingCancelled(reason=reason))

    def _require_scheduled(self, ctx: Context, action: str) -> None:
        if self.status is not MeetingStatus.SCHEDULED:
            raise InvalidTransitionError(action, self.status, [], why="the meeting has already ended")
        involved = (self.scheduled.generator, self.scheduled.converter)
        if ctx.actor not in involved and not ctx.is_head_of_sales:
            raise ForbiddenError("only the meeting's generator, converter or the head of sales may change it")

    @on(MeetingScheduled)
    def _scheduled(self, e: MeetingScheduled) -> None:
        self.scheduled, self.status = e, MeetingStatus.SCHEDULED

    @on(MeetingHeld)
    def _held(self, e: MeetingHeld) -> None:
        self.status = MeetingStatus.HELD

    @on(MeetingNoShow)
    def _no_show(self, e: MeetingNoShow) -> None:
        self.status = MeetingStatus.NO_SHOW

    @on(MeetingCancelled)
    def _cancelled(self, e: MeetingCancelled) -> None:
        self.status = MeetingStatus.CANCELLED


class Survey(Aggregate):
    """A survey e-mail to a client (farewell or service quality) and, once it replies, its answer."""

    requested: SurveyRequested
    answered: bool

    @staticmethod
    def id_for(subject_id: UUID, subject_version: int) -> UUID:
        return stable_id("survey", f"{subject_id}:{subject_version}")

    @classmethod
    def request(cls, ctx: Context, subject: Aggregate, kind: SurveyKind, recipient: str) -> Survey:
        survey_id = cls.id_for(subject.id, subject.version)
        survey = cls.blank(survey_id)
        subject_type = type(subject).__name__.lower()
        survey._record(
            ctx,
            SurveyRequested(
                survey_id=survey_id, kind=kind, recipient=recipient, subject_type=subject_type, subject_id=subject.id
            ),
        )
        return survey

    def answer(self, ctx: Context, score: int, comment: str | None) -> None:
        if ctx.role not in (Role.INTEGRATION, Role.HEAD_OF_SALES):
            raise ForbiddenError("survey answers come from the survey integration or the head of sales")
        if self.answered:
            raise ConflictError(f"survey {self.id} is already answered")
        self._record(ctx, SurveyAnswered(survey_id=self.id, kind=self.requested.kind, score=score, comment=comment))

    @on(SurveyRequested)
    def _requested(self, e: SurveyRequested) -> None:
        self.requested, self.answered = e, False

    @on(SurveyAnswered)
    def _answered(self, e: SurveyAnswered) -> None:
        self.answered = True
