"""Configurable reference lists and thresholds the rules depend on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aggregates.errors import InvalidValueError

DEFAULT_CHANNELS = (
    "email", "site_form", "online_chat", "chatbot", "mailing", "inbound_call",
    "callback_request", "exhibition", "conference", "b2b_portal", "partner",
    "referral", "cold_call", "existing_client", "other",
)  # fmt: skip
DEFAULT_DISQUALIFICATION_REASONS = (
    "no_budget", "no_real_need", "not_our_product", "wrong_contact", "competitor",
    "private_person", "unreachable", "other",
)  # fmt: skip
DEFAULT_NEED_CANCEL_REASONS = (
    "client_changed_plans", "no_stock_no_alternative", "price_too_high", "lost_to_competitor",
    "tender_cancelled", "other",
)  # fmt: skip
DEFAULT_DEAL_LOSS_REASONS = (
    "price", "lost_to_competitor", "delivery_terms", "no_budget", "client_unresponsive",
    "tender_lost", "out_of_stock", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Policy:
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    disqualification_reasons: tuple[str, ...] = DEFAULT_DISQUALIFICATION_REASONS
    need_cancel_reasons: tuple[str, ...] = DEFAULT_NEED_CANCEL_REASONS
    deal_loss_reasons: tuple[str, ...] = DEFAULT_DEAL_LOSS_REASONS
    response_sla: timedelta = timedelta(hours=2)
    similarity_threshold: float = 0.8
    business_timezone: str = "Europe/Moscow"


def require_code(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidValueError(field, f"unknown value '{value}'; allowed: {', '.join(allowed)}")
    return value
