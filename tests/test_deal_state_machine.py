"""The deal state machine, checked step by step against a simple model of the stage rules.

Stages: proposal -> negotiation -> documents -> paid -> fulfilment -> shipped -> closing_documents -> won;
lost from any open stage; the head of sales reopens a lost deal at the stage it was lost from.

The model's `allowed()` is the list of actions the rules permit right now; every refused attempt must
say exactly that list in `InvalidTransitionError.allowed`. Besides the stage rules from the brief the
model knows that an open deal may always be lost, handed off or given a follow-up, and that only the
owner or the head of sales acts on a deal (a wrong state is reported before a wrong actor; reopening
asks for the head of sales first).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from aggregates.base import Context, Event
from aggregates.deal import Deal
from aggregates.errors import ConflictError, DomainError, ForbiddenError, InvalidTransitionError, InvalidValueError
from schemas.deals import DealOpened, FulfilmentMode, ProposalLine, ShipmentItem
from schemas.employees import Role
from schemas.needs import PaymentTerms
from tests.conftest import NOW, product

HEAD = "boss"
ACTORS = ("anna", "boris", HEAD)
TODAY = date(2026, 11, 23)
STAGES = ("proposal", "negotiation", "documents", "paid", "fulfilment", "shipped", "closing_documents")
OPEN = set(STAGES)
FROM_DOCUMENTS = {"documents", "paid", "fulfilment", "shipped", "closing_documents"}
PRODUCTS = [product(i) for i in range(4)]
NOT_IN_ANY_PROPOSAL = product(7)


def context(actor: str) -> Context:
    return Context(actor, Role.HEAD_OF_SALES if actor == HEAD else Role.MANAGER, NOW)


@dataclass
class DealModel:
    owner: str
    terms: PaymentTerms
    stage: str = "proposal"
    lines: dict[UUID, Decimal] = field(default_factory=dict)  # product -> quantity
    total: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    signed: bool = False
    shipped: dict[UUID, Decimal] = field(default_factory=dict)
    lost_from: str | None = None

    @property
    def outstanding(self) -> Decimal:
        return self.total - self.paid

    @property
    def paid_in_full(self) -> bool:
        return bool(self.lines) and self.paid >= self.total

    def left_to_ship(self, product_id: UUID) -> Decimal:
        return self.lines[product_id] - self.shipped.get(product_id, Decimal(0))

    def allowed(self) -> set[str]:
        s, proposed = self.stage, bool(self.lines)
        rules = {
            "issue proposal": s in ("proposal", "negotiation"),
            "start negotiation": s == "proposal" and proposed,
            "send documents": s in ("proposal", "negotiation") and proposed,
            "sign contract": s in FROM_DOCUMENTS and not self.signed,
            "record payment": s in FROM_DOCUMENTS and self.outstanding > 0,
            "start fulfilment": (
                s == "paid" if self.terms is PaymentTerms.PREPAID else s in ("documents", "paid") and self.signed
            ),
            "record shipment": s == "fulfilment",
            "receive closing documents": s == "shipped",
            "win": s == "closing_documents" and self.signed and self.paid_in_full,
            "lose": s in OPEN,
            "hand off": s in OPEN,
            "schedule follow-up": s in OPEN,
            "reopen": s == "lost",
        }
        return {action for action, ok in rules.items() if ok}

    def check(self, action: str, actor: str) -> type[DomainError] | None:
        if action not in self.allowed():
            return InvalidTransitionError
        if actor not in (self.owner, HEAD):
            return ForbiddenError
        return None


def opened(owner: str, terms: PaymentTerms) -> DealOpened:
    return DealOpened(
        number="П-2026-00007",
        need_id=uuid.uuid4(),
        lead_id=None,
        meeting_id=None,
        meeting_held_by=None,
        channel="existing_client",
        counterparty_id=uuid.uuid4(),
        owner=owner,
        payment_terms=terms,
        items=[ShipmentItem(product_id=PRODUCTS[0], quantity=Decimal(2))],
    )


proposal_lines = st.dictionaries(
    st.sampled_from(PRODUCTS), st.tuples(st.integers(1, 4), st.integers(1, 30)), min_size=1, max_size=3
).map(lambda chosen: [ProposalLine(product_id=p, quantity=Decimal(q), unit_price=Decimal(price)) for p, (q, price) in chosen.items()])


class DealMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.deal: Deal
        self.model: DealModel
        self.events: list[Event] = []
        self.reached: set[str] = set()

    def attempt(self, expected: type[DomainError] | None, operation) -> bool:
        """Run `operation`; it must succeed exactly when `expected` is None. True when it succeeded."""
        version, allowed_before = self.deal.version, self.model.allowed()
        if expected is None:
            operation()
            new = self.deal.collect_events()
            assert new and self.deal.version == version + len(new)
            self.events.extend(new)
            return True
        with pytest.raises(DomainError) as info:
            operation()
        assert type(info.value) is expected, f"expected {expected.__name__}, got {info.value!r}"
        if isinstance(info.value, InvalidTransitionError):
            assert set(info.value.allowed) == allowed_before, "the error must list what is allowed now"
            assert info.value.state == self.model.stage
        assert self.deal.collect_events() == [], "a refused operation records nothing"
        assert self.deal.version == version
        return False

    @initialize(terms=st.sampled_from(PaymentTerms))
    def open_deal(self, terms: PaymentTerms) -> None:
        self.deal = Deal.open(context("anna"), opened("anna", terms))
        self.events = self.deal.collect_events()
        self.model = DealModel(owner="anna", terms=terms)

    # --- stages ---

    @rule(actor=st.sampled_from(ACTORS), lines=proposal_lines)
    def issue_proposal(self, actor: str, lines: list[ProposalLine]) -> None:
        if self.attempt(self.model.check("issue proposal", actor), lambda: self.deal.issue_proposal(context(actor), lines)):
            self.model.lines = {line.product_id: line.quantity for line in lines}
            self.model.total = sum((line.quantity * line.unit_price for line in lines), Decimal(0))

    @rule(actor=st.sampled_from(ACTORS))
    def start_negotiation(self, actor: str) -> None:
        if self.attempt(self.model.check("start negotiation", actor), lambda: self.deal.start_negotiation(context(actor))):
            self.model.stage = "negotiation"

    @rule(actor=st.sampled_from(ACTORS))
    def send_documents(self, actor: str) -> None:
        if self.attempt(self.model.check("send documents", actor), lambda: self.deal.send_documents(context(actor), "СЧ-1", "Д-1")):
            self.model.stage = "documents"

    @rule(actor=st.sampled_from(ACTORS))
    def sign_contract(self, actor: str) -> None:
        if self.attempt(self.model.check("sign contract", actor), lambda: self.deal.sign_contract(context(actor), TODAY)):
            self.model.signed = True

    @rule(actor=st.sampled_from(ACTORS), data=st.data())
    def record_payment(self, actor: str, data: st.DataObject) -> None:
        outstanding = max(int(self.model.outstanding), 1)
        amount = data.draw(
            st.sampled_from([outstanding, outstanding + 1, int(self.model.total) + 1]) | st.integers(1, outstanding),
            label="amount",
        )
        self.pay(actor, Decimal(amount))

    @precondition(lambda self: self.model.stage in FROM_DOCUMENTS and 0 < self.model.paid < self.model.total)
    @rule(actor=st.sampled_from(("owner", "owner", HEAD, "boris")), over=st.booleans())
    def pay_the_rest_or_a_little_more(self, actor: str, over: bool) -> None:
        """After a part payment: exactly the outstanding amount is fine, one more is over the limit."""
        self.pay(self.model.owner if actor == "owner" else actor, self.model.outstanding + (1 if over else 0))

    def pay(self, actor: str, amount: Decimal) -> None:
        expected = self.model.check("record payment", actor)
        if expected is None and amount > self.model.outstanding:
            expected = InvalidValueError
        if self.attempt(expected, lambda: self.deal.record_payment(context(actor), amount, TODAY, None)):
            self.model.paid += amount
            if self.model.stage == "documents" and self.model.paid_in_full:
                self.model.stage = "paid"

    @rule(actor=st.sampled_from(ACTORS), mode=st.sampled_from(FulfilmentMode))
    def start_fulfilment(self, actor: str, mode: FulfilmentMode) -> None:
        if self.attempt(self.model.check("start fulfilment", actor), lambda: self.deal.start_fulfilment(context(actor), mode, None)):
            self.model.stage = "fulfilment"

    @rule(actor=st.sampled_from(ACTORS), data=st.data())
    def record_shipment(self, actor: str, data: st.DataObject) -> None:
        candidates = sorted(self.model.lines, key=str) + [NOT_IN_ANY_PROPOSAL]
        chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True), label="products")
        items = []
        for p in chosen:
            left = int(self.model.left_to_ship(p)) if p in self.model.lines else 1
            quantity = data.draw(st.sampled_from([max(left, 1), left + 1]) | st.integers(1, max(left, 1)), label="quantity")
            items.append(ShipmentItem(product_id=p, quantity=Decimal(quantity)))
        self.ship(actor, items)

    @precondition(lambda self: self.model.stage == "fulfilment")
    @rule(actor=st.sampled_from(("owner", "owner", HEAD, "boris")), data=st.data())
    def ship_the_rest_or_a_little_more(self, actor: str, data: st.DataObject) -> None:
        """Shipping exactly what is left of a product is fine, one more is over the limit."""
        p = data.draw(st.sampled_from(sorted(self.model.lines, key=str)), label="product")
        extra = data.draw(st.sampled_from([0, 1]), label="extra")
        quantity = self.model.left_to_ship(p) + extra
        if quantity > 0:
            self.ship(self.model.owner if actor == "owner" else actor, [ShipmentItem(product_id=p, quantity=quantity)])

    def ship(self, actor: str, items: list[ShipmentItem]) -> None:
        expected = self.model.check("record shipment", actor)
        if expected is None and any(
            i.product_id not in self.model.lines or i.quantity > self.model.left_to_ship(i.product_id) for i in items
        ):
            expected = InvalidValueError
        if self.attempt(expected, lambda: self.deal.record_shipment(context(actor), items, TODAY, None)):
            for i in items:
                self.model.shipped[i.product_id] = self.model.shipped.get(i.product_id, Decimal(0)) + i.quantity
            if all(self.model.left_to_ship(p) == 0 for p in self.model.lines):
                self.model.stage = "shipped"

    @rule(actor=st.sampled_from(ACTORS))
    def receive_closing_documents(self, actor: str) -> None:
        if self.attempt(
            self.model.check("receive closing documents", actor), lambda: self.deal.receive_closing_documents(context(actor))
        ):
            self.model.stage = "closing_documents"

    @rule(actor=st.sampled_from(ACTORS))
    def win(self, actor: str) -> None:
        if self.attempt(self.model.check("win", actor), lambda: self.deal.win(context(actor))):
            self.model.stage = "won"

    @rule(actor=st.sampled_from(ACTORS))
    def lose(self, actor: str) -> None:
        if self.attempt(self.model.check("lose", actor), lambda: self.deal.lose(context(actor), "price", None)):
            self.model.lost_from, self.model.stage = self.model.stage, "lost"

    @rule(actor=st.sampled_from(ACTORS))
    def reopen(self, actor: str) -> None:
        expected = ForbiddenError if actor != HEAD else self.model.check("reopen", actor)
        if self.attempt(expected, lambda: self.deal.reopen(context(actor), "клиент вернулся")):
            self.model.stage, self.model.lost_from = self.model.lost_from, None

    @rule(actor=st.sampled_from(ACTORS), to=st.sampled_from(ACTORS))
    def hand_off(self, actor: str, to: str) -> None:
        expected = self.model.check("hand off", actor)
        if expected is None and to == self.model.owner:
            expected = ConflictError
        if self.attempt(expected, lambda: self.deal.hand_off(context(actor), to, "отпуск")):
            self.model.owner = to

    @rule(actor=st.sampled_from(ACTORS), data=st.data())
    def move_forward(self, actor: str, data: st.DataObject) -> None:
        """The next step on the happy path (by the owner or the head), so long walks reach the late stages."""
        m = self.model
        actor = m.owner if actor != HEAD else HEAD
        if m.stage in ("proposal", "negotiation") and not m.lines:
            self.issue_proposal(actor, data.draw(proposal_lines, label="lines"))
        elif m.stage in ("proposal", "negotiation"):
            self.send_documents(actor)
        elif m.stage == "lost":
            self.reopen(HEAD)
        elif m.stage == "closing_documents":
            # sign, pay or try to win, in any order: winning too early must be refused
            step = data.draw(st.sampled_from(["win"] + ["sign"] * (not m.signed) + ["pay"] * (m.outstanding > 0)), label="step")
            if step == "sign":
                self.sign_contract(actor)
            elif step == "pay":
                self.pay(actor, m.outstanding)
            else:
                self.win(actor)
        elif m.stage in FROM_DOCUMENTS and not m.signed and (m.terms is PaymentTerms.POSTPAID or m.stage == "closing_documents"):
            self.sign_contract(actor)
        elif m.stage in ("documents", "closing_documents") and m.outstanding > 0:
            in_full = data.draw(st.sampled_from([True, False, False]), label="pay in full")
            self.pay(actor, m.outstanding if in_full else max(Decimal(1), (m.outstanding / 2).to_integral_value()))
        elif m.stage in ("documents", "paid"):
            self.start_fulfilment(actor, FulfilmentMode.SUPPLIER_ORDER)
        elif m.stage == "fulfilment":
            # a batch of part (or all) of what is left, a product or two at a time
            left = sorted((p for p in m.lines if m.left_to_ship(p) > 0), key=str)
            batch = data.draw(st.lists(st.sampled_from(left), min_size=1, unique=True), label="batch")
            self.ship(actor, [
                ShipmentItem(product_id=p, quantity=Decimal(data.draw(st.integers(1, int(m.left_to_ship(p))), label="quantity")))
                for p in batch
            ])  # fmt: skip
        elif m.stage == "shipped":
            self.receive_closing_documents(actor)

    def teardown(self) -> None:
        if hasattr(self, "deal"):
            event(f"{self.model.terms} deal ended {self.deal.stage}")
            for stage in self.reached:
                event(f"reached {stage}")

    # --- invariants ---

    @invariant()
    def deal_matches_the_model(self) -> None:
        m, d = self.model, self.deal
        self.reached.add(m.stage)
        assert (d.stage, d.owner, d.paid, d.total, d.contract_signed, d.lost_from) == (
            m.stage, m.owner, m.paid, m.total, m.signed, m.lost_from
        )  # fmt: skip
        assert {line.product_id: line.quantity for line in d.lines} == m.lines
        assert {p: q for p, q in d.shipped.items() if q} == {p: q for p, q in m.shipped.items() if q}

    @invariant()
    def allowed_actions_are_what_the_rules_allow(self) -> None:
        assert set(self.deal.allowed_actions()) == self.model.allowed()

    @invariant()
    def never_paid_or_shipped_more_than_agreed(self) -> None:
        assert Decimal(0) <= self.model.paid <= self.model.total or not self.model.lines
        assert all(self.model.left_to_ship(p) >= 0 for p in self.model.lines)

    @invariant()
    def replay_of_all_events_rebuilds_the_same_deal(self) -> None:
        rebuilt = Deal.replay(None, self.events)
        fields = ("id", "version", "stage", "owner", "payment_terms", "lines", "total", "paid", "contract_signed",
                  "shipped", "batches", "lost_from")  # fmt: skip
        assert {f: getattr(rebuilt, f) for f in fields} == {f: getattr(self.deal, f) for f in fields}
        assert self.deal.version == len(self.events)


TestDealStateMachine = DealMachine.TestCase
# Walks are cheap (a few ms) and rare paths need many of them: three times the active profile's examples.
TestDealStateMachine.settings = settings(max_examples=3 * settings.default.max_examples)


# --- named walks through the same rules ---


def deal_with_proposal(terms: PaymentTerms) -> Deal:
    deal = Deal.open(context("anna"), opened("anna", terms))
    deal.issue_proposal(context("anna"), [ProposalLine(product_id=PRODUCTS[0], quantity=Decimal(2), unit_price=Decimal(50))])
    return deal


def test_a_prepaid_deal_waits_for_full_payment_before_fulfilment() -> None:
    deal = deal_with_proposal(PaymentTerms.PREPAID)
    deal.send_documents(context("anna"), "СЧ-1", "Д-1")
    deal.sign_contract(context("anna"), TODAY)
    deal.record_payment(context("anna"), Decimal(60), TODAY, None)
    with pytest.raises(InvalidTransitionError) as err:
        deal.start_fulfilment(context("anna"), FulfilmentMode.OWN_STOCK, None)
    assert err.value.allowed == sorted(["record payment", "lose", "hand off", "schedule follow-up"])
    with pytest.raises(InvalidValueError):
        deal.record_payment(context("anna"), Decimal(41), TODAY, None)
    deal.record_payment(context("anna"), Decimal(40), TODAY, None)
    assert deal.stage == "paid"


def test_a_postpaid_deal_ships_after_signing_and_is_won_once_paid() -> None:
    deal = deal_with_proposal(PaymentTerms.POSTPAID)
    deal.send_documents(context("anna"), "СЧ-1", "Д-1")
    with pytest.raises(InvalidTransitionError):
        deal.start_fulfilment(context("anna"), FulfilmentMode.OWN_STOCK, None)
    deal.sign_contract(context("anna"), TODAY)
    deal.start_fulfilment(context("anna"), FulfilmentMode.OWN_STOCK, None)
    deal.record_shipment(context("anna"), [ShipmentItem(product_id=PRODUCTS[0], quantity=Decimal(2))], TODAY, None)
    deal.receive_closing_documents(context("anna"))
    with pytest.raises(InvalidTransitionError) as err:
        deal.win(context("anna"))
    assert "win" not in err.value.allowed
    deal.record_payment(context("anna"), Decimal(100), TODAY, None)
    deal.win(context("anna"))
    assert (deal.stage, deal.paid) == ("won", Decimal(100))


def test_a_lost_deal_reopens_where_it_was_lost() -> None:
    deal = deal_with_proposal(PaymentTerms.PREPAID)
    deal.start_negotiation(context("anna"))
    deal.lose(context("anna"), "price", None)
    with pytest.raises(ForbiddenError):
        deal.reopen(context("anna"), "вернулись")
    deal.reopen(context("boss"), "вернулись")
    assert deal.stage == "negotiation"


def test_a_deal_is_won_only_with_a_signed_contract() -> None:
    deal = deal_with_proposal(PaymentTerms.PREPAID)
    deal.send_documents(context("anna"), "СЧ-1", "Д-1")
    deal.record_payment(context("anna"), Decimal(100), TODAY, None)
    deal.start_fulfilment(context("anna"), FulfilmentMode.OWN_STOCK, None)
    deal.record_shipment(context("anna"), [ShipmentItem(product_id=PRODUCTS[0], quantity=Decimal(2))], TODAY, None)
    deal.receive_closing_documents(context("anna"))
    deal.collect_events()
    with pytest.raises(InvalidTransitionError) as err:
        deal.win(context("anna"))
    assert err.value.allowed == sorted(["sign contract", "lose", "hand off", "schedule follow-up"])
    assert deal.collect_events() == []
    deal.sign_contract(context("anna"), TODAY)
    deal.win(context("boss"))
    assert deal.stage == "won"
