"""Months of a B2B medical-supplies sales department, written through the domain's own commands.

`generate(container, rng, scale=, days=)` plays a department day by day on a bootstrapped container: a
head of sales (`rop`), generators who cold-call and set meetings, converters who hold them and run needs
and deals, farmers who grow existing clients, and a universal manager. Every change is a command through
`CommandService.handle` with the caller's real role and a back-dated `occurred_at` in working hours of
the business time zone, never after `end`. Actions wait on one agenda in business-time order; at every
working hour the duplicate-work check and the scheduler catch up with the log and the scheduler ticks at
that hour (the outbox catches up once, at the end), so alerts and flags land on the right business dates,
and people react to them as they would (a dismissal, a decision of the head of sales, an override).

Rates echo the seeds in ../shared/seeds/ (named where used). `scale` multiplies the headcount and the
inbound flow; a person's own pace (calls a day, meetings per converter) stays what the seeds say.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

from aggregates.catalog import product_id
from aggregates.counterparty import Counterparty
from aggregates.deal import Deal
from aggregates.errors import ConflictError
from aggregates.lead import Lead
from aggregates.need import Need
from commands.onec_formats import parse_catalog, parse_counterparties
from consumers.outbox import OutboxCollector
from schemas import activities as a, counterparties as c, deals as d, employees as e, leads as l, needs as n  # noqa: E741
from schemas.auth import Caller
from schemas.base import Command, Period
from schemas.catalog import ImportCatalog
from schemas.employees import Role
from schemas.needs import DuplicateWorkFlagged
from schemas.notifications import (
    DismissNotification,
    MarkNotificationRead,
    NotificationRequested,
    RecordSurveyAnswer,
    SurveyRequested,
)

DATA = Path(__file__).parent / "data"
SAMPLE_CATALOG, SAMPLE_COUNTERPARTIES = DATA / "sample_catalog.xml", DATA / "sample_counterparties.xml"
HEAD = Caller(employee="rop", role=Role.HEAD_OF_SALES)
ONE_C = Caller(employee="system:1c", role=Role.INTEGRATION)
PBX = Caller(employee="system:pbx", role=Role.INTEGRATION)
SURVEYS = Caller(employee="system:survey", role=Role.INTEGRATION)

# --- rates ----------------------------------------------------------------------------------------

HEADCOUNT = {"generator": 2, "converter": 2, "farmer": 2, "universal": 1}
# Seed 002: generators went from 20-50 to 100-150 calls a day; farmers keep clients "by calls, rarely meetings".
CALLS_PER_DAY = {"generator": (100, 150), "universal": (30, 50), "farmer": (15, 30)}
MEETINGS_PER_CONVERTER_DAY = 8  # seed 002: "4-8 встреч в день"
# Seed 000: of the contacted base 37% booked a visit and 48% asked to be called back later; a few of those
# come through later, so about a third of qualified interests end up at a meeting or a need.
ADVANCE, CALL_BACK_LATER = 0.30, 0.48
COLD_ANSWERED, COLD_BUSY, COLD_INTEREST = 0.45, 0.15, 0.07
PREPAID = 0.85  # seed 001, item 14: "практически всегда работает по 100% предоплате"
SCORED_CALLS_PER_WEEK = (3, 5)  # seed 003: "оценка 3-5 звонков на менеджера в неделю"
# Interests per working day at scale 1 (cold_call ones come from the generators' dials instead).
INBOUND_PER_DAY = {
    "email": 3.0, "site_form": 2.5, "online_chat": 1.5, "chatbot": 1.0, "mailing": 0.8, "inbound_call": 2.2,
    "callback_request": 1.0, "exhibition": 0.2, "conference": 0.1, "b2b_portal": 1.2, "partner": 0.4,
    "referral": 0.4, "existing_client": 0.8, "other": 0.3,
}  # fmt: skip
RECEIVER = {  # who registers an interest of each channel: an integration, or a person who got it
    "email": "system:mail-gateway", "site_form": "system:site", "online_chat": "system:chat",
    "chatbot": "system:chatbot", "mailing": "system:mail-gateway", "inbound_call": "system:pbx",
    "callback_request": "system:site", "b2b_portal": "system:medbuy", "other": "system:mail-gateway",
    "exhibition": "booth", "conference": "booth", "partner": "head", "referral": "farmer", "existing_client": "farmer",
}  # fmt: skip
SOURCE = {"mailing": "Рассылка «Новинки месяца»", "b2b_portal": "Medbuy.ru", "partner": "Партнёр: ООО «МедЛогистик»",
          "site_form": "Форма на странице товара", "online_chat": "Онлайн-консультант", "referral": "Рекомендация клиента"}  # fmt: skip
SPAM = {"chatbot": 0.15, "site_form": 0.05, "email": 0.05, "online_chat": 0.04}
KNOWN_CLIENT = {"email": 0.12, "mailing": 0.3, "inbound_call": 0.12, "site_form": 0.08, "b2b_portal": 0.25}
FAIRS = [("exhibition", "Выставка «Здравоохранение-2026», Экспоцентр", 0.3, 3, 8.0),
         ("conference", "Региональная конференция главных медсестёр, Казань", 0.7, 1, 5.0)]  # fmt: skip
DISQUALIFY = {"no_real_need": 30, "no_budget": 18, "not_our_product": 14, "competitor": 12, "private_person": 8,
              "wrong_contact": 6, "other": 4}  # fmt: skip
LOSS = {  # the chance a deal is lost instead of taking a step, and the reasons heard at that point
    "negotiate": (0.15, ["price", "lost_to_competitor", "no_budget", "client_unresponsive"]),
    "documents": (0.17, ["price", "lost_to_competitor", "delivery_terms", "tender_lost"]),
    "sign": (0.08, ["no_budget", "tender_lost", "client_unresponsive"]),
    "pay": (0.03, ["no_budget", "client_unresponsive"]),
    "fulfil": (0.01, ["out_of_stock", "delivery_terms"]),
}
# Working days to each next step at an ordinary pace; seed 001: a sale lasts from two weeks to a year or more.
STEP_DAYS = {"propose": (0, 1), "ship": (3, 12), "sign": (1, 6), "pay": (1, 6), "close": (3, 10), "win": (0, 2)}  # else (2, 8)
NEED_CANCEL = {"client_changed_plans": "Клиент перенёс закупку на следующий год",
               "price_too_high": "Бюджет клиента ниже нашей цены", "lost_to_competitor": "Клиент выбрал другого поставщика",
               "tender_cancelled": "Аукцион отменён заказчиком", "no_stock_no_alternative": "Нет в наличии и нет аналога"}  # fmt: skip
OPENS, CLOSES = 9, 18
HOLIDAYS = {(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8), (2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)}

# --- reference data -------------------------------------------------------------------------------

SURNAMES = [("Иванов", "ivanov"), ("Петров", "petrov"), ("Сидоров", "sidorov"), ("Кузнецов", "kuznetsov"),
            ("Смирнов", "smirnov"), ("Попов", "popov"), ("Волков", "volkov"), ("Соколов", "sokolov"),
            ("Лебедев", "lebedev"), ("Козлов", "kozlov"), ("Новиков", "novikov"), ("Морозов", "morozov"),
            ("Павлов", "pavlov"), ("Семёнов", "semenov"), ("Голубев", "golubev"), ("Виноградов", "vinogradov"),
            ("Богданов", "bogdanov"), ("Фёдоров", "fedorov"), ("Михайлов", "mikhailov"), ("Зайцев", "zaitsev")]  # fmt: skip
FIRST_NAMES = (["Анна", "Мария", "Елена", "Ольга", "Татьяна", "Наталья", "Ирина", "Светлана", "Юлия", "Марина"],
               ["Пётр", "Олег", "Андрей", "Сергей", "Дмитрий", "Алексей", "Игорь", "Михаил", "Павел", "Денис"])  # fmt: skip
POSITIONS = ["специалист по закупкам", "контрактный управляющий", "главная медсестра", "заведующая аптекой",
             "заместитель главного врача по АХЧ", "главный врач", "менеджер по закупкам"]  # fmt: skip
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Екатеринбург", "Новосибирск", "Нижний Новгород", "Самара",
          "Краснодар", "Воронеж", "Ростов-на-Дону", "Тула", "Ярославль"]  # fmt: skip
REGIONS = ("77", "78", "50", "16", "66", "54", "52", "23")
CLINICS = ["ООО «Клиника {w}»", "ООО «Медицинский центр «{w}»", "ГБУЗ «Городская поликлиника № {n}»",
           "ГБУЗ «Центральная районная больница № {n}»", "ООО «Стоматология {w}»", "ООО «Лаборатория {w}»",
           "ООО «Диагностический центр «{w}»", "АО «Санаторий «{w}»"]  # fmt: skip
DEALERS = ["ООО «{w}Мед Дистрибуция»", "ООО «Торговый дом «{w}Медснаб»", "ООО «{w}Фарм»"]
DEALER_MARKERS = ("Снаб", "Поставка", "сервис", "техника", "Комплект")  # the dealers in the sample 1C base
WORDS = ["Здоровье", "Авиценна", "Гиппократ", "Парацельс", "Медлайн", "Альфа", "Вита", "Панацея", "Долголетие",
         "Медсервис", "Юнона", "Эскулап", "Сфера", "Семейный доктор", "Ортомед", "Нова"]  # fmt: skip
PRICES = {  # rubles per catalog unit, by the first word of the product's name
    "Шприц": (4, 30), "Игла": (180, 450), "Катетер": (35, 900), "Зонд": (45, 160), "Канюля": (60, 150),
    "Скальпель": (25, 70), "Жгут": (150, 650), "Система": (30, 95), "Перчатки": (450, 1300), "Маска": (250, 600),
    "Респиратор": (900, 2500), "Бахилы": (150, 320), "Халат": (250, 1200), "Бинт": (20, 70), "Лейкопластырь": (30, 350),
    "Повязка": (15, 120), "Салфетки": (150, 600), "Пелёнки": (350, 950), "Тонометр": (2200, 6500),
    "Фонендоскоп": (900, 4500), "Мешок": (3500, 9500), "Пульсоксиметр": (1200, 4500), "Глюкометр": (900, 2600),
    "Тест-полоски": (700, 1600), "Ланцеты": (300, 750), "Термометр": (250, 1800), "Пробирка": (900, 2600),
    "Контейнер": (15, 60), "Электроды": (8, 40), "Бумага": (150, 450), "Гель": (180, 450), "Нить": (2400, 6500),
    "Шёлк": (1500, 3800), "Кушетка": (14000, 38000), "Стол": (18000, 60000), "Столик": (9000, 26000),
    "Шкаф": (16000, 48000), "Ширма": (7000, 19000), "Стул": (4000, 12000), "Кровать": (65000, 240000),
    "Концентратор": (42000, 95000), "Небулайзер": (2500, 7500), "Аспиратор": (9000, 38000),
    "Облучатель-рециркулятор": (6000, 19000), "Кожный": (350, 900), "Средство": (300, 1800),
}  # fmt: skip
FAMILIES = {  # what one department of a clinic buys together, with how often it comes up
    "инъекции": (8, ["Шприц", "Игла", "Катетер", "Канюля", "Система", "Жгут", "Зонд"]),
    "защита": (7, ["Перчатки", "Маска", "Респиратор", "Бахилы", "Халат"]),
    "перевязка": (5, ["Бинт", "Лейкопластырь", "Повязка", "Салфетки", "Пелёнки"]),
    "диагностика": (4, ["Тонометр", "Фонендоскоп", "Пульсоксиметр", "Глюкометр", "Тест-полоски", "Ланцеты", "Термометр"]),
    "лаборатория": (3, ["Пробирка", "Контейнер", "Электроды", "Бумага", "Гель"]),
    "хирургия": (3, ["Нить", "Шёлк", "Скальпель"]),
    "мебель": (1, ["Кушетка", "Стол", "Столик", "Шкаф", "Ширма", "Стул", "Кровать"]),
    "техника": (2, ["Концентратор", "Небулайзер", "Аспиратор", "Облучатель-рециркулятор", "Мешок"]),
    "дезинфекция": (3, ["Кожный", "Средство"]),
}
SCORE_COMMENTS = ["Не выявлена потребность", "Нет договорённости о следующем шаге", "Долгая самопрезентация",
                  "Не отработано возражение по цене"]  # fmt: skip


class NotYet(Exception):
    """A command would happen after the end of the window, in the future: it is not done."""


# --- calendar -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Working days (Mon-Fri without the fixed Russian public holidays) and hours in the business zone."""

    zone: ZoneInfo
    rng: random.Random

    def working(self, day: date) -> bool:
        return day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS

    def moment(self, day: date, hour: float) -> datetime:
        return datetime.combine(day, time(0), self.zone) + timedelta(seconds=round(hour * 3600))

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def working_day_after(self, day: date, count: int = 1) -> date:
        while count > 0 or not self.working(day):
            day += timedelta(days=1)
            count -= self.working(day)
        return day

    def some_time(self, day: date, start: float = 9.5, end: float = 17.5) -> datetime:
        return self.moment(day, self.rng.uniform(start, end))

    def days_after(self, moment: datetime, low: int, high: int, start: float = 9.5, end: float = 17.5) -> datetime:
        """A random time on the working day `low`..`high` working days after this moment, never before it."""
        day = self.working_day_after(self.day_of(moment), self.rng.randint(low, high))
        return max(self.some_time(day, start, end), self.later(moment, 5))

    def next_morning(self, moment: datetime) -> datetime:
        return self.some_time(self.working_day_after(self.day_of(moment)), 9.1, 10.5)

    def later(self, moment: datetime, minutes: float) -> datetime:
        """`minutes` of working time after this moment: what does not fit today carries over to the next morning."""
        local, left = moment.astimezone(self.zone), timedelta(minutes=minutes)
        while True:
            day = local.date()
            if not self.working(day) or local >= self.moment(day, CLOSES):
                local = self.moment(self.working_day_after(day), OPENS)
                continue
            local = max(local, self.moment(day, OPENS))
            if left <= self.moment(day, CLOSES) - local:
                return local + left
            left -= self.moment(day, CLOSES) - local
            local = self.moment(day, CLOSES)


# --- what the simulation knows: people, companies, products, the cases in progress -----------------


@dataclass
class Person:
    name: str
    position: str
    email: str | None
    phone: str | None


@dataclass
class Company:
    name: str
    inn: str
    kpp: str | None
    address: str
    dealer: bool = False
    id: UUID | None = None  # the counterparty, once registered
    people: list[Person] = field(default_factory=list)

    def details(self) -> c.NewCounterparty:
        return c.NewCounterparty(inn=self.inn, kpp=self.kpp, name=self.name, address=self.address)


@dataclass(frozen=True)
class Product:
    id: UUID
    name: str
    family: str
    price: Decimal


Basket = list[tuple[Product, Decimal]]
COLD_BASE = Company("", "", None, "")  # a prospect's organisation before it shows interest


@dataclass
class Staff:
    login: str
    name: str
    profile: str  # generator | converter | farmer | universal | head
    active: bool = True
    away: bool = False
    queue: list = field(default_factory=list)  # phone work waiting for the next dial: (ready, seq, step, case)
    redial: list = field(default_factory=list)  # cold prospects who did not answer
    clients: list[Company] = field(default_factory=list)
    week_calls: list[UUID] = field(default_factory=list)  # answered calls worth listening to (seed 003)

    def __post_init__(self) -> None:
        self.caller = HEAD if self.profile == "head" else Caller(employee=self.login, role=Role.MANAGER)


@dataclass
class Tender:
    """A hospital asks for a purchase itself and a dealer quotes the same goods for it (seed 001, item 8)."""

    hospital: Company
    dealer: Company
    basket: Basket


@dataclass
class LeadCase:
    channel: str
    person: Person
    company: Company
    basket: Basket
    known_client: bool = False
    spam: bool = False
    id: UUID | None = None
    misses: int = 0
    meetings: int = 0
    follow_up: UUID | None = None
    tender: Tender | None = None
    duplicate_of: LeadCase | None = None


@dataclass
class NeedCase:
    id: UUID
    company: Company
    basket: Basket
    tender: Tender | None = None
    repeat: bool = False  # an existing client's order


@dataclass
class DealCase:
    id: UUID
    need: NeedCase
    steps: list[str]
    pace: float = 1.0  # below 1 a quick repeat order, above 1 a long negotiation
    step: int = 0
    lines: list[d.ProposalLine] = field(default_factory=list)
    follow_up: UUID | None = None
    shipped: dict[UUID, Decimal] = field(default_factory=dict)
    paid: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return sum((line.quantity * line.unit_price for line in self.lines), Decimal(0)).quantize(Decimal("0.01"))


# --- the simulation -------------------------------------------------------------------------------


class History:
    def __init__(self, container, rng: random.Random, scale: float, days: int, end: datetime | None) -> None:
        self.container, self.service, self.store = container, container.service, container.store
        self.rng, self.scale = rng, scale
        self.calendar = Calendar(ZoneInfo(container.settings.business_timezone), rng)
        self.end = (end or self.service.clock()).astimezone(self.calendar.zone)
        self.first_day = self.end.date() - timedelta(days=days - 1)
        self.setup_day = self.calendar.working_day_after(self.first_day, 0)
        self.clock = self.calendar.moment(self.setup_day, OPENS)  # the latest business time written so far
        self.agenda: list = []
        self.seq, self.serial, self.companies = itertools.count(), itertools.count(1), itertools.count(1)
        self.staff: dict[str, Staff] = {"rop": Staff("rop", "Роман Орлов", "head")}
        self.names = self.employee_names()
        self.products: list[Product] = []
        self.by_family: dict[str, list[Product]] = {}
        self.clients: list[Company] = []
        self.tenders: dict[UUID, Tender] = {}  # need or deal id -> the tender it belongs to
        self.meeting_load: dict[tuple[str, date], int] = {}
        self.seen = 0  # the last log position the people have looked at
        self.showcase: dict[str, UUID] = {}

    # --- core: commands, the agenda, the hourly catch-up of the process managers ---

    def run(self, at: datetime, caller: Caller, command_type: type[Command], **fields):
        if at > self.end:
            raise NotYet
        self.clock = max(self.clock, at)
        return self.service.handle(command_type(occurred_at=at, **fields), caller)

    def written(self, accepted):
        """The payload of the one event a command just wrote (for an id the answer does not carry)."""
        return self.store.read_batch(accepted.position - 1, 1)[0][1].payload

    def at(self, when: datetime, action: Callable, *args) -> None:
        if when <= self.end:
            heapq.heappush(self.agenda, (when, next(self.seq), action, args))

    def play_until(self, limit: datetime) -> None:
        while self.agenda and self.agenda[0][0] < limit:
            when, _, action, args = heapq.heappop(self.agenda)
            try:
                action(when, *args)
            except NotYet:
                pass

    def play(self, on_day: Callable[[date], None] | None) -> None:
        clock = self.service.clock
        self.service.clock = lambda: self.clock  # the duplicate check stamps its alerts with the simulated hour
        try:  # a window too short for a working morning starts the department an hour before its end
            self.set_up(min(self.calendar.moment(self.setup_day, OPENS), self.end - timedelta(hours=1)))
            day = self.first_day
            while day <= self.end.date():
                if self.calendar.working(day):
                    self.working_day(day)
                if on_day:
                    on_day(day)
                day += timedelta(days=1)
            self.play_until(self.end + timedelta(microseconds=1))
            for process in self.container.processes:
                process.run_until_caught_up()
        finally:
            self.service.clock = clock

    def working_day(self, day: date) -> None:
        self.start_the_day(day)
        for hour in range(OPENS, CLOSES + 1):
            moment = self.calendar.moment(day, hour)
            if moment > self.end:
                return
            self.play_until(moment)
            self.clock = max(self.clock, moment)
            self.catch_up(moment)
        self.play_until(self.calendar.moment(day, 24))

    def catch_up(self, moment: datetime) -> None:
        """The process managers follow the log to its head, the scheduler ticks at this hour, people look.

        The outbox only turns events into e-mails and nobody here waits for them: it catches up at the end.
        """
        for process in self.container.processes:
            if not isinstance(process.manager, OutboxCollector):
                process.run_until_caught_up()
        self.container.scheduler.tick(moment)
        self.react_to_the_log(moment)

    # --- the department ---

    def set_up(self, t: datetime) -> None:
        """The first morning: the team, the 1C catalog and client base, the month's plans (within the hour)."""
        self.run(t, HEAD, e.RegisterEmployee, employee_id="rop", name="Роман Орлов", role=Role.HEAD_OF_SALES)
        for profile, base in HEADCOUNT.items():
            for _ in range(max(0 if profile == "universal" else 1, int(base * self.scale + 0.5))):
                self.hire(t, profile)
        records = parse_catalog(SAMPLE_CATALOG.read_bytes())
        self.run(t, ONE_C, ImportCatalog, source=SAMPLE_CATALOG.name, records=records)
        self.price_products(records)
        self.import_clients(t + timedelta(minutes=5))
        for staff in self.managers():
            self.set_plan(t + timedelta(minutes=50), staff)
        self.plan_the_window()

    def employee_names(self):
        for i in itertools.count():
            surname, login = SURNAMES[i % len(SURNAMES)]
            female, suffix = i % 2 == 0, str(i // len(SURNAMES) + 1) if i >= len(SURNAMES) else ""
            first = FIRST_NAMES[0 if female else 1][i * 3 % 10]
            yield f"{first} {surname}{'а' if female else ''}", f"{login}{'a' if female else ''}{suffix}"

    def hire(self, t: datetime, profile: str) -> Staff:
        name, login = next(self.names)
        self.run(t, HEAD, e.RegisterEmployee, employee_id=login, name=name, role=Role.MANAGER, sales_profile=profile)
        if profile in ("generator", "universal"):  # inbound interests go round the people who qualify them
            self.run(t, HEAD, e.AddToRotation, employee_id=login)
        self.staff[login] = Staff(login, name, profile)
        return self.staff[login]

    def managers(self, *profiles: str) -> list[Staff]:
        return [s for s in self.staff.values() if s.active and s.profile != "head" and (not profiles or s.profile in profiles)]

    def set_plan(self, t: datetime, staff: Staff) -> None:
        k = self.rng.uniform(0.85, 1.15)
        targets = {
            "generator": dict(calls_per_day=120, meetings_held=round(40 * k)),
            "converter": dict(meetings_held=round(90 * k), deals_won=round(18 * k), new_clients=round(14 * k),
                              revenue=Decimal(round(5_000_000 * k, -4))),
            "farmer": dict(calls_per_day=30, deals_won=round(14 * k), revenue=Decimal(round(6_000_000 * k, -4))),
            "universal": dict(calls_per_day=55, meetings_held=10, deals_won=round(8 * k), new_clients=6,
                              revenue=Decimal(round(3_000_000 * k, -4))),
        }[staff.profile]  # fmt: skip
        month = t.astimezone(self.calendar.zone).strftime("%Y-%m")
        self.run(t, HEAD, e.SetMonthlyPlan, employee_id=staff.login, month=month, **targets)

    def price_products(self, records) -> None:
        for record in records:
            word = record.name.split()[0]
            family = next((f for f, (_, words) in FAMILIES.items() if word in words), "прочее")
            low, high = PRICES.get(word, (200, 2000))
            scale = 10 if record.unit == "пара" else 1  # a pair of gloves, not a box of fifty
            price = Decimal(str(round(random.Random(record.onec_id).uniform(low, high) / scale, 2)))
            product = Product(product_id(record.onec_id), record.name, family, price)
            self.products.append(product)
            self.by_family.setdefault(family, []).append(product)

    def import_clients(self, t: datetime) -> None:
        """The 1C client base, as `voronka import counterparties` brings it; the head of sales gives it to farmers."""
        records = parse_counterparties(SAMPLE_COUNTERPARTIES.read_bytes())
        farmers = self.managers("farmer")
        extra = max(0, 8 * len(farmers) - len(records))  # a bigger department has a bigger base in 1C
        records += [self.new_company(dealer=self.rng.random() < 0.2).details() for _ in range(extra)]
        for i, record in enumerate(records):
            company = Company(record.name, record.inn, record.kpp, record.address or "",
                              dealer=any(m in record.name for m in DEALER_MARKERS))  # fmt: skip
            company.id = UUID(self.run(t, ONE_C, c.RegisterCounterparty, counterparty=record).id)
            farmer = farmers[i % len(farmers)]
            self.run(t, HEAD, c.ChangeAccountOwner, counterparty_id=company.id, new_owner=farmer.login,
                     reason="Распределение клиентской базы между фермерами")  # fmt: skip
            self.give_client(farmer, company)
            for _ in range(self.rng.choice((1, 1, 2))):
                person = self.new_person(company)
                company.people.append(person)
                self.run(t + timedelta(minutes=15 + i / 10), farmer.caller, c.AddContact, counterparty_id=company.id,
                         contact=c.ContactPerson(**vars(person)))  # fmt: skip

    def give_client(self, farmer: Staff, company: Company) -> None:
        farmer.clients.append(company)
        if company not in self.clients:
            self.clients.append(company)

    def plan_the_window(self) -> None:
        """The inbound flow, the fairs, the tenders, a vacation and a departure, spread over the window."""
        days = [self.first_day + timedelta(days=i) for i in range((self.end.date() - self.first_day).days + 1)]
        working = [day for day in days if self.calendar.working(day) and day > self.setup_day] or [self.setup_day]
        for channel, rate in INBOUND_PER_DAY.items():
            if channel not in self.container.settings.channels:  # a deployment may configure fewer channels
                continue
            arrivals = [day for day in working for _ in range(self.poisson(rate * self.scale))]
            for day in arrivals or [self.rng.choice(working)]:  # a short window still shows every channel once
                self.at(self.calendar.some_time(day, 9.1, 17.8), self.inbound_interest, channel, None)
        for channel, detail, when, length, rate in FAIRS:
            start = working[int(len(working) * when)]
            for day in [start, *(self.calendar.working_day_after(start, k) for k in range(1, length))]:
                for _ in range(max(1, self.poisson(rate * self.scale))):
                    self.at(self.calendar.some_time(day, 10, 17.5), self.inbound_interest, channel, detail)
        tenders = max(1, round(len(working) / 5 * self.scale))  # about a tender a week at scale 1, one early on
        for day in [working[len(working) // 10], *self.rng.choices(working, k=tenders - 1)]:
            self.at(self.calendar.some_time(day, 9.2, 12), self.open_tender)
        generators = self.managers("generator")
        if len(working) >= 30 and len(generators) >= 2:
            self.at(self.calendar.moment(working[int(len(working) * 0.4)], OPENS), self.vacation, generators[0], 5)
            self.at(self.calendar.moment(working[int(len(working) * 0.6)], 17.8), self.departure, generators[-1])

    def poisson(self, mean: float) -> int:
        limit, count, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            count, p = count + 1, p * self.rng.random()
        return count

    def start_the_day(self, day: date) -> None:
        if day != self.setup_day and day == self.calendar.working_day_after(day.replace(day=1) - timedelta(days=1)):
            for staff in self.managers():  # a new month: the head of sales sets the plans
                self.at(self.calendar.some_time(day, 9.05, 9.3), self.set_plan, staff)
        for staff in self.managers(*CALLS_PER_DAY):
            if not staff.away:
                self.at(self.calendar.some_time(day, 9.3, 9.6), self.start_calling, staff)
        if (self.calendar.working_day_after(day) - day).days > 1:  # the last working day of the week
            self.at(self.calendar.some_time(day, 15, 17.4), self.score_calls)

    def vacation(self, t: datetime, staff: Staff, days: int) -> None:
        """Away in the rotation; the head of sales hands the leads due for a call meanwhile to colleagues."""
        back = self.calendar.moment(self.calendar.working_day_after(self.calendar.day_of(t), days), OPENS)
        self.run(t, staff.caller, e.MarkAway, employee_id=staff.login)
        staff.away, colleagues = True, [s for s in self.managers("generator") if s is not staff]
        due = sorted(w for w in staff.queue if w[0] < back)
        staff.queue = [w for w in staff.queue if w[0] >= back]
        heapq.heapify(staff.queue)
        for i, (ready, _, step, case) in enumerate(due):
            if self.store.get(Lead, case.id).holder == staff.login:
                t = self.calendar.later(t, 1)
                self.run(t, HEAD, l.HandOffLead, lead_id=case.id, to=colleagues[i % len(colleagues)].login,
                         reason=f"{staff.name} в отпуске")  # fmt: skip
            self.enqueue(max(ready, t), step, case)
        self.at(back, self.back_from_vacation, staff)

    def back_from_vacation(self, t: datetime, staff: Staff) -> None:
        self.run(t, staff.caller, e.MarkBack, employee_id=staff.login)
        staff.away = False
        self.at(self.calendar.later(t, 20), self.start_calling, staff)

    def departure(self, t: datetime, staff: Staff) -> None:
        """A generator leaves: the open leads go round the rotation, and a successor is hired a week later."""
        self.run(t, HEAD, e.RecordEmployeeLeft, employee_id=staff.login)
        staff.active = False
        self.run(self.calendar.later(t, 1), HEAD, e.ReassignPortfolio, employee_id=staff.login)
        for ready, _, step, case in sorted(staff.queue, key=lambda w: w[:2]):
            self.enqueue(max(ready, t), step, case)
        staff.queue = []
        self.at(self.calendar.moment(self.calendar.working_day_after(self.calendar.day_of(t), 5), OPENS),
                self.hire_successor, staff.profile)  # fmt: skip

    def hire_successor(self, t: datetime, profile: str) -> None:
        staff = self.hire(t, profile)
        self.set_plan(self.calendar.later(t, 5), staff)
        self.at(self.calendar.later(t, 30), self.start_calling, staff)

    def score_calls(self, t: datetime) -> None:
        """Seed 003: the head of sales listens to 3-5 calls per manager a week and scores them 0-100."""
        for staff in self.managers():
            count = min(len(staff.week_calls), self.rng.randint(*SCORED_CALLS_PER_WEEK))
            for call_id in self.rng.sample(staff.week_calls, count):
                score = max(20, min(100, round(self.rng.gauss(78, 11))))
                comment = self.rng.choice(SCORE_COMMENTS) if score < 65 else None
                t = self.calendar.later(t, self.rng.uniform(2, 6))
                self.run(t, HEAD, a.ScoreCall, call_id=call_id, score=score, comment=comment)
            staff.week_calls = []

    # --- calling: each dial is one logged call; waiting lead work first, else the profile's routine ---

    def start_calling(self, t: datetime, staff: Staff) -> None:
        day = self.calendar.day_of(t)
        self.dial(t, staff, self.rng.randint(*CALLS_PER_DAY[staff.profile]), self.calendar.moment(day, 17.75))

    def dial(self, t: datetime, staff: Staff, left: int, day_end: datetime) -> None:
        if not staff.active or staff.away:
            return
        seconds = self.lead_call(t, staff)
        if seconds is None:
            seconds = self.client_call(t, staff) if staff.profile == "farmer" else self.cold_call(t, staff)
        if left > 1:  # spread the remaining dials over the rest of the day
            done = t + timedelta(seconds=seconds)
            gap = max(15.0, ((day_end - done).total_seconds() - 45 * (left - 1)) / (left - 1))
            following = done + timedelta(seconds=gap * self.rng.uniform(0.5, 1.5))
            if following < day_end + timedelta(minutes=10):
                self.at(following, self.dial, staff, left - 1, day_end)

    def lead_call(self, t: datetime, staff: Staff) -> int | None:
        while staff.queue and staff.queue[0][0] <= t:
            _, _, step, case = heapq.heappop(staff.queue)
            seconds = step(t, staff, case)
            if seconds is not None:
                return seconds
        return None

    def enqueue(self, ready: datetime, step: Callable, case: LeadCase) -> None:
        """Phone work on a lead waits for its holder's next dial; a converter or the head of sales calls at once."""
        holder = self.holder(case)
        if holder and holder.profile in CALLS_PER_DAY:
            heapq.heappush(holder.queue, (ready, next(self.seq), step, case))
        elif holder:
            self.at(ready, self.call_now, holder, step, case)

    def call_now(self, t: datetime, staff: Staff, step: Callable, case: LeadCase) -> None:
        step(t, staff, case)

    def call_outcome(self, t: datetime, answered: float, busy: float) -> tuple[a.CallOutcome, int]:
        r = self.rng.random()
        if r >= answered:
            return (a.CallOutcome.BUSY if r < answered + busy else a.CallOutcome.MISSED), 0
        r, room = self.rng.random(), (self.calendar.moment(self.calendar.day_of(t), CLOSES) - t).total_seconds() - 60
        if r < 0.08:  # hung up at once: seed 002's "too short" calls
            return a.CallOutcome.ANSWERED, self.rng.randint(4, 19)
        if r < 0.084 and room > 50 * 60:  # a rare marathon: its "too long" ones
            return a.CallOutcome.ANSWERED, self.rng.randint(31 * 60, 50 * 60)
        return a.CallOutcome.ANSWERED, int(max(20, min(25 * 60, room, self.rng.lognormvariate(4.3, 0.8))))

    def log_call(self, t: datetime, staff: Staff, phone: str, outcome: a.CallOutcome, seconds: int, **refs) -> None:
        """The virtual PBX reports every call when it ends, with its recording."""
        pbx_id = f"pbx-{next(self.serial):08d}"
        call = self.run(t + timedelta(seconds=seconds + 5), PBX, a.LogCall, pbx_call_id=pbx_id, employee=staff.login,
                        direction=a.CallDirection.OUTBOUND, phone=phone, started_at=t, duration_seconds=seconds,
                        outcome=outcome, recording_ref=f"rec/{pbx_id}.mp3" if seconds else None, **refs)  # fmt: skip
        if outcome is a.CallOutcome.ANSWERED and seconds >= 45:
            staff.week_calls.append(UUID(call.id))

    def cold_call(self, t: datetime, staff: Staff) -> int:
        """Seed 002: generators dial a cold base to set meetings; an interested prospect becomes a lead mid-call."""
        prospect = staff.redial.pop(0) if staff.redial and self.rng.random() < 0.25 else self.new_prospect()
        outcome, seconds = self.call_outcome(t, COLD_ANSWERED, COLD_BUSY)
        interested = outcome is a.CallOutcome.ANSWERED and seconds >= 40 and self.rng.random() < COLD_INTEREST
        if interested:
            prospect.company, prospect.basket = self.new_company(dealer=self.rng.random() < 0.1), self.basket()
            self.register(t + timedelta(seconds=seconds - 15), prospect, staff.caller,
                          message="Холодный звонок: интерес к поставкам, просит предложение")  # fmt: skip
        self.log_call(t, staff, prospect.person.phone, outcome, seconds, lead_id=prospect.id)
        if interested:
            self.decide(t + timedelta(seconds=seconds + 40), staff, prospect, cold=True)
        elif outcome is not a.CallOutcome.ANSWERED and prospect.misses < 2:
            prospect.misses += 1
            staff.redial.append(prospect)
        return seconds

    def client_call(self, t: datetime, staff: Staff) -> int:
        """Seed 002: farmers keep clients by calls; now and then a client says what it needs next."""
        company = self.rng.choice(staff.clients) if staff.clients else None
        if company is None or not company.people:
            return self.cold_call(t, staff)
        outcome, seconds = self.call_outcome(t, 0.7, 0.1)
        self.log_call(t, staff, self.rng.choice(company.people).phone, outcome, seconds, counterparty_id=company.id)
        if outcome is a.CallOutcome.ANSWERED and seconds >= 90 and self.rng.random() < 0.07:
            self.at(self.calendar.later(t, self.rng.uniform(20, 240)), self.repeat_need, staff, company)
        return seconds

    # --- inbound interests ---

    def inbound_interest(self, t: datetime, channel: str, detail: str | None) -> None:
        receiver, known = RECEIVER[channel], None
        if channel == "existing_client" or self.rng.random() < KNOWN_CLIENT.get(channel, 0):
            known = self.rng.choice([co for co in self.clients if co.people])
        case = self.lead_case(channel, known)
        case.spam = not known and self.rng.random() < SPAM.get(channel, 0)
        if case.spam:
            case.person = Person("Отдел продвижения", "менеджер", f"promo{next(self.serial)}@seo-top.example.org", None)
        caller = self.receiver(receiver, known)
        self.register(t, case, caller, detail or SOURCE.get(channel))
        if caller.role is Role.INTEGRATION and not case.spam and self.rng.random() < 0.02:
            self.at(self.calendar.later(t, self.rng.uniform(10, 300)), self.repeat_interest, case)
        if case.spam:
            self.at(self.calendar.later(t, self.rng.uniform(5, 60)), self.mark_spam, case)
        elif caller.role is Role.INTEGRATION:
            self.picked_up(t, case)
        else:
            self.received_in_person(t, caller, case)

    def receiver(self, receiver: str, known: Company | None) -> Caller:
        if receiver.startswith("system:"):
            return Caller(employee=receiver, role=Role.INTEGRATION)
        if receiver == "head":
            return HEAD
        if receiver == "farmer":  # a client's buyer calls their manager; or a client recommends someone
            farmers = [s for s in self.managers("farmer") if known in s.clients] or self.managers("farmer")
            return self.rng.choice(farmers).caller
        return self.rng.choice([HEAD, *(s.caller for s in self.managers("converter"))])  # at the booth

    def register(self, t: datetime, case: LeadCase, caller: Caller, detail: str | None = None, message: str = "") -> None:
        person, company = case.person, case.company
        contact = l.ContactData(name=person.name, email=person.email, phone=person.phone, position=person.position,
                                company=None if case.spam else company.name,
                                inn=company.inn if company.id and case.channel == "b2b_portal" else None)  # fmt: skip
        message = message or ("Продвижение сайтов, ТОП-10 Яндекса за месяц" if case.spam else self.message(case))
        ref = f"{case.channel}-{next(self.serial):07d}" if caller.role is Role.INTEGRATION else None
        fields = dict(channel=case.channel, source_detail=detail, contact=contact, message=message, external_ref=ref)
        case.id = UUID(self.run(t, caller, l.RegisterInterest, **fields).id)
        if ref and self.rng.random() < 0.01:  # the gateway delivers the same message twice: still one lead
            self.run(self.calendar.later(t, 1), caller, l.RegisterInterest, **fields)

    def repeat_interest(self, t: datetime, first: LeadCase) -> None:
        """The same person writes again through the site; the head of sales merges the leads the next morning."""
        again = LeadCase("site_form", first.person, first.company, first.basket, first.known_client, duplicate_of=first)
        self.register(t, again, Caller(employee="system:site", role=Role.INTEGRATION), SOURCE["site_form"])
        self.at(self.calendar.next_morning(t), self.merge_leads, again)

    def merge_leads(self, t: datetime, again: LeadCase) -> None:
        duplicate, survivor = self.store.get(Lead, again.id), self.store.get(Lead, again.duplicate_of.id)
        if duplicate.is_open and "absorb" in survivor.allowed_actions():
            self.run(t, HEAD, l.MergeLead, lead_id=again.id, into_lead_id=survivor.id, comment="Повторное обращение того же контакта")

    def mark_spam(self, t: datetime, case: LeadCase) -> None:
        holder = self.holder(case)
        if holder:
            self.run(t, holder.caller, l.MarkLeadSpam, lead_id=case.id, comment="Рекламная рассылка")

    def picked_up(self, t: datetime, case: LeadCase) -> None:
        """Most interests are picked up within the hour; some wait for hours, which the response SLA catches."""
        late = self.rng.random() < 0.08
        self.reach_out(self.calendar.later(t, self.rng.uniform(150, 330) if late else self.rng.expovariate(1 / 20)), case)

    def reach_out(self, ready: datetime, case: LeadCase) -> None:
        if case.person.phone:
            self.enqueue(ready, self.contact_call, case)
        else:
            self.at(ready, self.email_contact, case)

    def received_in_person(self, t: datetime, caller: Caller, case: LeadCase) -> None:
        """Met at a booth, sent by a partner, recommended by a client: the receiver has talked to them already."""
        self.run(self.calendar.later(t, 1), caller, l.RecordContactAttempt, lead_id=case.id,
                 outcome=l.ContactOutcome.ANSWERED, note="Разговор при получении обращения")  # fmt: skip
        if self.staff[caller.employee].profile in ("head", "converter"):
            self.at(self.calendar.next_morning(t), self.pass_for_qualification, case)
        else:
            self.at(self.calendar.later(t, self.rng.uniform(5, 90)), self.decide, self.holder(case), case)

    def pass_for_qualification(self, t: datetime, case: LeadCase) -> None:
        to = self.pick_generator()
        if to and self.store.get(Lead, case.id).is_open:
            self.run(t, HEAD, l.HandOffLead, lead_id=case.id, to=to.login, reason="Контакт с мероприятия — на квалификацию")
            self.reach_out(self.calendar.later(t, 5), case)

    def contact_call(self, t: datetime, staff: Staff, case: LeadCase) -> int | None:
        lead = self.store.get(Lead, case.id)
        if not lead.is_open or case.duplicate_of:
            return None
        if lead.holder != staff.login:
            self.enqueue(t, self.contact_call, case)
            return None
        outcome, seconds = self.call_outcome(t, 0.72, 0.1)
        self.log_call(t, staff, case.person.phone, outcome, seconds, lead_id=case.id)
        after = t + timedelta(seconds=seconds + 30)
        if outcome is a.CallOutcome.ANSWERED and seconds >= 20:
            self.decide(after, staff, case)
        elif case.misses >= (5 if case.known_client or case.tender else 2):  # a client who asked is called longer
            self.disqualify(after, staff, case, "unreachable", "Несколько попыток дозвона без ответа")
        else:
            case.misses += 1
            self.enqueue(self.calendar.later(after, self.rng.uniform(60, 600)), self.contact_call, case)
        return seconds

    def email_contact(self, t: datetime, case: LeadCase) -> None:
        staff = self.holder(case)
        if staff is None or not self.store.get(Lead, case.id).is_open or case.duplicate_of:
            return
        self.run(t, staff.caller, l.RecordContactAttempt, lead_id=case.id, outcome=l.ContactOutcome.EMAIL_SENT,
                 note="Ответ с уточняющими вопросами")  # fmt: skip
        if self.rng.random() < 0.6:
            self.at(self.calendar.days_after(t, 0, 2), self.email_reply, case)
        else:
            self.at(self.calendar.days_after(t, 3, 6), self.give_up, case, "unreachable", "Не ответил на письмо")

    def email_reply(self, t: datetime, case: LeadCase) -> None:
        staff = self.holder(case)
        if staff and self.store.get(Lead, case.id).is_open:
            self.run(t, staff.caller, l.RecordContactAttempt, lead_id=case.id, outcome=l.ContactOutcome.ANSWERED,
                     note="Клиент ответил на письмо и оставил телефон")  # fmt: skip
            case.person.phone = case.person.phone or self.new_person(case.company).phone
            self.decide(self.calendar.later(t, 2), staff, case)

    # --- a lead's path: qualified or not; then a meeting, a need, or a call back later ---

    def decide(self, t: datetime, staff: Staff | None, case: LeadCase, cold: bool = False) -> None:
        lead = self.store.get(Lead, case.id)
        if staff is None or not lead.is_open:
            return
        if not (cold or case.known_client or case.tender) and self.rng.random() < 0.35:
            reason = self.rng.choices(list(DISQUALIFY), weights=list(DISQUALIFY.values()))[0]
            self.disqualify(t, staff, case, reason, "Закупки только через головную организацию" if reason == "other" else None)
            return
        if "qualify" in lead.allowed_actions():
            self.run(t, staff.caller, l.QualifyLead, lead_id=case.id, note="Реальный интерес к поставке")
        r = self.rng.random()
        if case.tender or r < (0.5 if case.known_client else ADVANCE):  # a client who writes in usually means it
            self.advance(self.calendar.later(t, 2), staff, case)
        elif r < ADVANCE + CALL_BACK_LATER:
            self.call_back_later(self.calendar.later(t, 2), staff, case)
        else:
            self.enqueue(self.calendar.days_after(t, 3, 8), self.last_try, case)

    def disqualify(self, t: datetime, staff: Staff | None, case: LeadCase, reason: str, comment: str | None) -> None:
        if staff is None or not self.store.get(Lead, case.id).is_open:
            return
        self.run(t, staff.caller, l.DisqualifyLead, lead_id=case.id, reason=reason, comment=comment)
        if reason in ("no_budget", "unreachable") and self.rng.random() < 0.04:  # the client comes back
            self.at(self.calendar.days_after(t, 5, 15), self.reopen_lead, case)

    def give_up(self, t: datetime, case: LeadCase, reason: str, comment: str) -> None:
        self.disqualify(t, self.holder(case), case, reason, comment)

    def reopen_lead(self, t: datetime, case: LeadCase) -> None:
        if self.holder(case) and "reopen" in self.store.get(Lead, case.id).allowed_actions():
            self.run(t, HEAD, l.ReopenLead, lead_id=case.id, comment="Клиент вернулся: появился бюджет")
            self.reach_out(self.calendar.later(t, 30), case)

    def call_back_later(self, t: datetime, staff: Staff, case: LeadCase) -> None:
        """Seed 000: about half ask to be called back in a while; a lead follow-up remembers it."""
        due = self.calendar.days_after(t, 10, 30, 10, 17)
        accepted = self.run(t, staff.caller, l.ScheduleLeadFollowUp, lead_id=case.id, due_at=due,
                            note="Просил перезвонить после утверждения бюджета")  # fmt: skip
        case.follow_up = self.written(accepted).follow_up_id
        if self.rng.random() < 0.9:  # the rest are forgotten and stay open
            self.enqueue(due, self.follow_up_call, case)

    def follow_up_call(self, t: datetime, staff: Staff, case: LeadCase) -> int | None:
        lead = self.store.get(Lead, case.id)
        if not lead.is_open or lead.holder != staff.login or case.follow_up not in lead.follow_ups:
            return None
        outcome, seconds = self.call_outcome(t, 0.7, 0.1)
        self.log_call(t, staff, case.person.phone, outcome, seconds, lead_id=case.id)
        after = t + timedelta(seconds=seconds + 30)
        self.run(after, staff.caller, l.CompleteLeadFollowUp, lead_id=case.id, follow_up_id=case.follow_up,
                 note="Перезвонил, как договаривались")  # fmt: skip
        if outcome is a.CallOutcome.ANSWERED and self.rng.random() < 0.2:
            self.advance(self.calendar.later(after, 1), staff, case)
        else:
            self.disqualify(self.calendar.later(after, 1), staff, case, self.rng.choice(["no_budget", "competitor"]), None)
        return seconds

    def last_try(self, t: datetime, staff: Staff, case: LeadCase) -> int | None:
        lead = self.store.get(Lead, case.id)
        if not lead.is_open or lead.holder != staff.login:
            return None
        outcome, seconds = self.call_outcome(t, 0.5, 0.1)
        self.log_call(t, staff, case.person.phone, outcome, seconds, lead_id=case.id)
        reason = "no_real_need" if outcome is a.CallOutcome.ANSWERED else "unreachable"
        self.disqualify(t + timedelta(seconds=seconds + 30), staff, case, reason, "Интерес пропал")
        return seconds

    def advance(self, t: datetime, staff: Staff, case: LeadCase) -> None:
        """A generator sets a meeting for a converter (or passes on a request for a quote); others make the need."""
        if staff.profile == "generator" and self.rng.random() < 0.75:
            self.set_meeting(t, staff, case)
        elif staff.profile == "generator":
            converter = self.rng.choice(self.managers("converter"))
            self.hand_to_converter(t, staff, case, converter, None, "Запрос КП — передаю конвертеру")
        elif staff.profile == "universal" and self.rng.random() < 0.3:
            self.set_meeting(t, staff, case, converter=staff)
        else:
            self.at(self.calendar.later(t, self.rng.uniform(10, 300)), self.convert_and_register_need, case, None)

    def pick_generator(self) -> Staff | None:
        generators = [s for s in self.managers("generator") if not s.away] or self.managers("universal")
        return self.rng.choice(generators) if generators else None

    # --- meetings (seed 002: set by generators, held by converters; the generator's credit only when held) ---

    def set_meeting(self, t: datetime, staff: Staff, case: LeadCase, converter: Staff | None = None) -> None:
        when, converter = self.free_slot(t, converter)
        place = self.rng.choice([case.company.address, "онлайн, видеосвязь"])
        accepted = self.run(t, staff.caller, a.ScheduleMeeting, lead_id=case.id, converter=converter.login,
                            scheduled_for=when, place=place)  # fmt: skip
        meeting, case.meetings = UUID(accepted.id), case.meetings + 1
        if self.rng.random() < 0.12:
            cancel_at = min(self.calendar.later(t, self.rng.uniform(30, 600)), when - timedelta(hours=1))
            self.at(max(cancel_at, self.calendar.later(t, 10)), self.cancel_meeting, case, meeting, staff)
        else:
            self.at(self.calendar.later(when, self.rng.uniform(70, 100)), self.meeting_outcome, case, meeting, converter)

    def free_slot(self, t: datetime, converter: Staff | None) -> tuple[datetime, Staff]:
        """The least busy converter's next free hour, one to four working days ahead."""
        day = self.calendar.working_day_after(self.calendar.day_of(t), self.rng.randint(1, 4))
        while True:
            people = [converter] if converter else self.managers("converter")
            best = min(people, key=lambda s: (self.meeting_load.get((s.login, day), 0), self.rng.random()))
            load = self.meeting_load.get((best.login, day), 0)
            if load < MEETINGS_PER_CONVERTER_DAY:
                self.meeting_load[(best.login, day)] = load + 1
                return self.calendar.moment(day, 10 + load + self.rng.choice((0, 0.25))), best
            day = self.calendar.working_day_after(day)

    def cancel_meeting(self, t: datetime, case: LeadCase, meeting: UUID, generator: Staff) -> None:
        self.run(t, generator.caller if generator.active else HEAD, a.CancelMeeting, meeting_id=meeting,
                 reason="Клиент перенёс встречу")  # fmt: skip
        staff = self.holder(case)
        if staff and case.meetings < 2 and self.rng.random() < 0.5:
            self.set_meeting(self.calendar.later(t, 2), staff, case)
        elif staff:
            self.call_back_later(self.calendar.later(t, 2), staff, case)

    def meeting_outcome(self, t: datetime, case: LeadCase, meeting: UUID, converter: Staff) -> None:
        staff = self.holder(case)
        if self.rng.random() < 0.18:
            party = a.NoShowParty.CONVERTER if self.rng.random() < 0.2 else a.NoShowParty.CLIENT
            self.run(t, converter.caller, a.RecordMeetingNoShow, meeting_id=meeting, party=party)
            if staff and case.meetings < 2 and self.rng.random() < 0.6:
                self.set_meeting(self.calendar.later(t, 30), staff, case)
            else:
                self.disqualify(self.calendar.later(t, 30), staff, case, "unreachable", "Клиент не пришёл на встречу")
            return
        self.run(t, converter.caller, a.RecordMeetingHeld, meeting_id=meeting)
        if staff is None:
            return
        if self.rng.random() < 0.6:  # seed 002: a good converter closes half of the meetings
            if staff is converter:
                self.at(self.calendar.later(t, 20), self.convert_and_register_need, case, meeting)
            else:
                self.hand_to_converter(self.calendar.later(t, 15), staff, case, converter, meeting,
                                       "Встреча проведена — передаю конвертеру")  # fmt: skip
        elif self.rng.random() < 0.6:
            self.disqualify(self.calendar.later(t, 40), staff, case, self.rng.choice(["no_real_need", "no_budget"]),
                            "После встречи: закупка не планируется")  # fmt: skip
        else:
            self.call_back_later(self.calendar.later(t, 40), staff, case)

    def hand_to_converter(self, t: datetime, staff: Staff, case: LeadCase, converter: Staff, meeting: UUID | None,
                          reason: str) -> None:  # fmt: skip
        self.run(t, staff.caller, l.HandOffLead, lead_id=case.id, to=converter.login, reason=reason)
        if meeting:
            self.showcase.setdefault("lead", case.id)
        self.at(self.calendar.later(t, self.rng.uniform(30, 600)), self.convert_and_register_need, case, meeting)

    # --- a need's path ---

    def convert_and_register_need(self, t: datetime, case: LeadCase, meeting: UUID | None) -> None:
        """Seed 001, items 5-7: the company's details make a counterparty and a contact, then the need."""
        staff = self.holder(case)
        if staff is None or "convert" not in self.store.get(Lead, case.id).allowed_actions():
            return
        company = case.company
        if company.id is None:
            self.run(t, staff.caller, l.ConvertLead, lead_id=case.id, counterparty=company.details())
            company.id = self.store.get(Lead, case.id).counterparty_id
        else:
            self.run(t, staff.caller, l.ConvertLead, lead_id=case.id, existing_counterparty_id=company.id)
        if case.person not in company.people and case.person.phone:
            company.people.append(case.person)
        self.register_need(self.calendar.later(t, self.rng.uniform(10, 40)), staff, company, case.basket,
                           lead=case, meeting=meeting, tender=case.tender)  # fmt: skip

    def repeat_need(self, t: datetime, staff: Staff, company: Company) -> None:
        """A client of a farmer needs more (channel existing_client, no lead); a dealer names its end customer."""
        end_customer = None
        if company.dealer:
            hospital = self.new_company(dealer=False)
            end_customer = n.EndCustomer(name=hospital.name, inn=hospital.inn if self.rng.random() < 0.5 else None)
        if staff.active:
            self.register_need(t, staff, company, self.basket(), end_customer=end_customer)

    def register_need(self, t: datetime, staff: Staff, company: Company, basket: Basket, lead: LeadCase | None = None,
                      meeting: UUID | None = None, tender: Tender | None = None,
                      end_customer: n.EndCustomer | None = None) -> None:  # fmt: skip
        accepted = self.run(t, staff.caller, n.RegisterNeed, counterparty_id=company.id, items=self.need_items(t, basket),
                            lead_id=lead.id if lead else None, meeting_id=meeting, end_customer=end_customer,
                            comment=f"Закупка {tender.hospital.name}" if tender else None)  # fmt: skip
        need = NeedCase(UUID(accepted.id), company, basket, tender, repeat=lead is None or lead.known_client)
        if tender:
            self.tenders[need.id] = tender
        if self.rng.random() < 0.12 and not tender:
            self.at(self.calendar.days_after(t, 1, 3), self.change_items, need)
        r = self.rng.random()
        if r < 0.12 and not tender:
            self.at(self.calendar.days_after(t, 2, 12), self.cancel_need, need)
        elif r >= 0.18 or tender:  # else the client is not ready: the need stays open, for demand planning
            self.at(self.calendar.days_after(t, 1, 5), self.convert_need, need)

    def need_items(self, t: datetime, basket: Basket) -> list[n.NeedItem]:
        start = self.calendar.day_of(t) + timedelta(days=self.rng.randint(0, 30))
        period = Period(start=start, end=start + timedelta(days=self.rng.choice((30, 60, 90))))
        return [n.NeedItem(product_id=p.id, quantity=q, period=period) for p, q in basket]

    def need_owner(self, need: NeedCase) -> Staff | None:
        found = self.store.get(Need, need.id)
        return self.staff[found.owner] if found.is_open else None

    def change_items(self, t: datetime, need: NeedCase) -> None:
        owner, extra = self.need_owner(need), self.rng.choice(self.by_family[need.basket[0][0].family])
        if owner and all(p.id != extra.id for p, _ in need.basket):
            need.basket = [*need.basket, (extra, self.quantity(extra))]
            self.run(t, owner.caller, n.ChangeNeedItems, need_id=need.id, items=self.need_items(t, need.basket))

    def cancel_need(self, t: datetime, need: NeedCase) -> None:
        owner = self.need_owner(need)
        if owner:
            reason = self.rng.choice(list(NEED_CANCEL))
            self.run(t, owner.caller, n.CancelNeed, need_id=need.id, reason=reason, comment=NEED_CANCEL[reason])

    def convert_need(self, t: datetime, need: NeedCase) -> None:
        """Seed 001, item 9: no deal while a duplicate alert is unresolved: dismiss it, or the head of sales overrides."""
        owner = self.need_owner(need)
        if owner is None:
            return
        terms = n.PaymentTerms.PREPAID if self.rng.random() < PREPAID else n.PaymentTerms.POSTPAID
        try:
            deal_id = UUID(self.run(t, owner.caller, n.ConvertNeedToDeal, need_id=need.id, payment_terms=terms).id)
        except ConflictError:
            alerts = self.store.get(Need, need.id).unresolved_alerts
            if not alerts:
                raise
            t = self.calendar.later(t, 15)
            if need.tender:
                accepted = self.run(t, HEAD, n.ConvertNeedToDeal, need_id=need.id, payment_terms=terms,
                                    override_duplicate_alert=True)  # fmt: skip
            else:
                for alert in alerts:
                    self.run(t, owner.caller, n.DismissDuplicateAlert, need_id=need.id, alert_id=alert.alert_id,
                             comment="Разные заказчики: совпадение номенклатуры случайное")  # fmt: skip
                accepted = self.run(t, owner.caller, n.ConvertNeedToDeal, need_id=need.id, payment_terms=terms)
            deal_id = UUID(accepted.id)
        if need.tender:
            self.tenders[deal_id] = need.tender
        # Seed 001: from two weeks (a client's repeat order at the price list) to a year (a new client's tender).
        pace = self.rng.uniform(0.15, 0.5) if need.repeat else self.rng.lognormvariate(0.1, 0.5)
        deal = DealCase(deal_id, need, self.deal_steps(terms, need.repeat), pace)
        self.next_step(self.calendar.later(t, 5), owner, deal)

    # --- tenders: a hospital and a dealer come with the same goods (seed 001, item 8) ---

    def open_tender(self, t: datetime) -> None:
        hospitals = [co for co in self.clients if not co.dealer and co.people]
        dealers = [co for co in self.clients if co.dealer]
        if not hospitals or not dealers:
            return
        tender = Tender(self.rng.choice(hospitals), self.rng.choice(dealers), self.basket(low=4))
        case = self.lead_case("b2b_portal", tender.hospital)
        case.basket, case.tender = tender.basket, tender
        self.register(t, case, Caller(employee="system:medbuy", role=Role.INTEGRATION),
                      f"Medbuy.ru: закупка № {next(self.serial):06d}")  # fmt: skip
        self.picked_up(t, case)
        self.at(self.calendar.days_after(t, 1, 3), self.dealer_quote, tender)

    def dealer_quote(self, t: datetime, tender: Tender) -> None:
        farmer = next((s for s in self.managers("farmer") if tender.dealer in s.clients), None)
        if farmer is None:
            return
        basket = list(tender.basket)
        if self.rng.random() < 0.3:  # the dealer adds an item of its own: a similar set, not the same
            extra = next(p for p in self.rng.sample(self.products, 10) if all(p.id != q.id for q, _ in basket))
            basket.append((extra, self.quantity(extra)))
        hospital = n.EndCustomer(name=tender.hospital.name, inn=tender.hospital.inn)
        self.register_need(t, farmer, tender.dealer, basket, tender=tender, end_customer=hospital)

    def review_duplicate(self, t: datetime, need_id: UUID, alert_id: UUID, other_id: UUID) -> None:
        """Seed 001: the head of sales decides which of the two is the real one; the other stops being open."""
        need = self.store.get(Need, need_id)
        if not need.is_open or alert_id in need.dismissed:
            return
        r = self.rng.random()
        if r < 0.5:
            self.run(t, HEAD, n.CloseNeedAsDuplicate, need_id=need_id, duplicate_of=other_id,
                     comment="Одна закупка ЛПУ: работаем по первой потребности")  # fmt: skip
        elif r < 0.75:
            self.run(t, HEAD, n.DismissDuplicateAlert, need_id=need_id, alert_id=alert_id,
                     comment="Согласовано: ЛПУ покупает через дилера, конфликта нет")  # fmt: skip
        # else it stays unresolved: converting it will take the head of sales' override

    # --- a deal's path: proposal ... won, a step every few working days, each with its next follow-up ---

    def deal_steps(self, terms: n.PaymentTerms, repeat: bool) -> list[str]:
        talks = ["negotiate"] if not repeat and self.rng.random() < 0.8 else []
        batches = ["ship"] * (1 if repeat else self.rng.choice((1, 1, 1, 2, 2, 3)))
        payments = ["pay"] * (2 if self.rng.random() < 0.2 else 1)
        if terms is n.PaymentTerms.PREPAID:
            return ["propose", *talks, "documents", "sign", *payments, "fulfil", *batches, "close", "win"]
        return ["propose", *talks, "documents", "sign", "fulfil", *batches, "close", *payments, "win"]

    def deal_step(self, t: datetime, deal: DealCase) -> None:
        found = self.store.get(Deal, deal.id)
        if not found.is_open:
            return
        owner, step = self.staff[found.owner], deal.steps[deal.step]
        if deal.follow_up in found.follow_ups:
            self.run(t, owner.caller, d.CompleteFollowUp, deal_id=deal.id, follow_up_id=deal.follow_up, outcome="Созвонились")
        deal.follow_up = None
        chance, reasons = LOSS.get(step, (0, []))
        if self.rng.random() < chance * (0.4 if deal.need.repeat else 1):  # a client's repeat order rarely falls through
            self.lose(self.calendar.later(t, 5), owner, deal, self.rng.choice(reasons))
            return
        done = getattr(self, f"deal_{step}")(self.calendar.later(t, 5), owner, deal)
        deal.step += 1
        if deal.step < len(deal.steps):
            self.next_step(self.calendar.later(done, 5), owner, deal)

    def next_step(self, t: datetime, owner: Staff, deal: DealCase) -> None:
        """Seed 001, item 3: every open deal should have its next follow-up; some are forgotten or done late."""
        low, high = STEP_DAYS.get(deal.steps[deal.step], (2, 8))
        when, r = self.calendar.days_after(t, round(low * deal.pace), round(high * deal.pace)), self.rng.random()
        if r < 0.03 and deal.steps[deal.step] != "win":  # the manager drops the deal (seed 001's forgotten deals)
            self.schedule_follow_up(t, owner, deal, when)
            return
        if r < 0.07:  # no next step written down: the scheduler flags the deal after the grace period
            self.at(when, self.deal_step, deal)
            return
        self.schedule_follow_up(t, owner, deal, self.calendar.later(when, self.rng.uniform(30, 120)))
        if r < 0.16:  # done days late: the follow-up passes its due time first
            when = self.calendar.days_after(when, 1, 4)
        self.at(when, self.deal_step, deal)

    def schedule_follow_up(self, t: datetime, owner: Staff, deal: DealCase, due: datetime) -> None:
        kind = self.rng.choice([d.FollowUpKind.CALL, d.FollowUpKind.CALL, d.FollowUpKind.EMAIL, d.FollowUpKind.MEETING])
        accepted = self.run(t, owner.caller, d.ScheduleFollowUp, deal_id=deal.id, kind=kind, due_at=due,
                            note=f"Следующий шаг: {deal.steps[deal.step]}")  # fmt: skip
        deal.follow_up = self.written(accepted).follow_up_id

    # Each step answers the business time of its last command.

    def deal_call(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        phones = [p.phone for p in deal.need.company.people if p.phone]
        if not phones or self.rng.random() < 0.3:
            return t
        seconds = self.rng.randint(60, 480)
        self.log_call(t, owner, phones[0], a.CallOutcome.ANSWERED, seconds, deal_id=deal.id, counterparty_id=deal.need.company.id)
        return t + timedelta(seconds=seconds + 60)

    def deal_propose(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        discount = Decimal("0.9") if deal.need.company.dealer else Decimal(1)
        deal.lines = [d.ProposalLine(product_id=p.id, quantity=q, unit_price=(p.price * discount).quantize(Decimal("0.01")))
                      for p, q in deal.need.basket]  # fmt: skip
        self.run(t, owner.caller, d.IssueProposal, deal_id=deal.id, lines=deal.lines)
        return t

    def deal_negotiate(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        t = self.deal_call(t, owner, deal)
        self.run(t, owner.caller, d.StartNegotiation, deal_id=deal.id)
        if self.rng.random() < 0.3:  # a revised proposal with a discount
            off = Decimal(100 - self.rng.choice((3, 5, 7))) / 100
            deal.lines = [line.model_copy(update={"unit_price": (line.unit_price * off).quantize(Decimal("0.01"))})
                          for line in deal.lines]  # fmt: skip
            t = self.calendar.later(t, 40)
            self.run(t, owner.caller, d.IssueProposal, deal_id=deal.id, lines=deal.lines)
        return t

    def deal_documents(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        number = self.store.get(Deal, deal.id).number
        self.run(t, owner.caller, d.SendDocuments, deal_id=deal.id, invoice_number=f"СЧ-{number}", contract_number=f"Д-{number}")
        return t

    def deal_sign(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        t = self.deal_call(t, owner, deal)
        self.run(t, owner.caller, d.SignContract, deal_id=deal.id, signed_on=self.calendar.day_of(t))
        return t

    def deal_pay(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        left = deal.total - deal.paid
        share = Decimal(1) if "pay" not in deal.steps[deal.step + 1 :] else Decimal(self.rng.choice(("0.3", "0.5")))
        amount = (left * share).quantize(Decimal("0.01"))
        self.run(t, owner.caller, d.RecordPayment, deal_id=deal.id, amount=amount, paid_on=self.calendar.day_of(t),
                 reference=f"п/п {next(self.serial)}")  # fmt: skip
        deal.paid += amount
        return t

    def deal_fulfil(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        if self.rng.random() < 0.6:
            self.run(t, owner.caller, d.StartFulfilment, deal_id=deal.id, mode=d.FulfilmentMode.OWN_STOCK)
        else:  # third-party goods: a supplier order (seed 001, item 15)
            self.run(t, owner.caller, d.StartFulfilment, deal_id=deal.id, mode=d.FulfilmentMode.SUPPLIER_ORDER,
                     supplier_order_ref=f"ЗП-{next(self.serial):05d}")  # fmt: skip
        return t

    def deal_ship(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        batches = deal.steps[deal.step :].count("ship")
        left = {line.product_id: line.quantity - deal.shipped.get(line.product_id, 0) for line in deal.lines}
        batch = {p: q if batches == 1 else (q / batches).to_integral_value(ROUND_CEILING) for p, q in left.items() if q > 0}
        if batches > 1 and batch == {p: q for p, q in left.items() if q > 0} and len(batch) > 1:
            batch.popitem()  # a partial batch leaves something for the next one
        items = [d.ShipmentItem(product_id=p, quantity=q) for p, q in batch.items()]
        self.run(t, owner.caller, d.RecordShipment, deal_id=deal.id, items=items, shipped_on=self.calendar.day_of(t),
                 waybill=f"ТН-{next(self.serial):06d}")  # fmt: skip
        for p, q in batch.items():
            deal.shipped[p] = deal.shipped.get(p, 0) + q
        if all(deal.shipped.get(line.product_id, 0) >= line.quantity for line in deal.lines):
            deal.steps = deal.steps[: deal.step + 1] + [s for s in deal.steps[deal.step + 1 :] if s != "ship"]
        return t

    def deal_close(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        self.run(t, owner.caller, d.ReceiveClosingDocuments, deal_id=deal.id)
        return t

    def deal_win(self, t: datetime, owner: Staff, deal: DealCase) -> datetime:
        self.run(t, owner.caller, d.WinDeal, deal_id=deal.id)
        if owner.profile == "converter":
            self.at(self.calendar.days_after(t, 1, 3), self.pass_to_farmer, owner, deal.need.company)
        return t

    def pass_to_farmer(self, t: datetime, converter: Staff, company: Company) -> None:
        """Seed 002: after the first deal the client goes to a farmer."""
        farmers = self.managers("farmer")
        if farmers and self.store.get(Counterparty, company.id).owner == converter.login and converter.active:
            farmer = min(farmers, key=lambda s: len(s.clients))
            self.run(t, converter.caller, c.ChangeAccountOwner, counterparty_id=company.id, new_owner=farmer.login,
                     reason="Первая сделка закрыта — клиент передан фермеру")  # fmt: skip
            self.give_client(farmer, company)

    def lose(self, t: datetime, owner: Staff, deal: DealCase, reason: str) -> None:
        comment = {"price": "Цена выше, чем у конкурента", "lost_to_competitor": "Выбрали другого поставщика"}.get(reason)
        self.run(t, owner.caller, d.LoseDeal, deal_id=deal.id, reason=reason, comment=comment)
        if self.rng.random() < 0.06:  # the head of sales reopens a few when the client comes back
            self.at(self.calendar.days_after(t, 3, 10), self.reopen_deal, deal)

    def reopen_deal(self, t: datetime, deal: DealCase) -> None:
        self.run(t, HEAD, d.ReopenDeal, deal_id=deal.id, comment="Клиент вернулся к обсуждению")
        self.next_step(self.calendar.later(t, 30), self.staff[self.store.get(Deal, deal.id).owner], deal)

    # --- people reacting to what the process managers and the domain raised ---

    def react_to_the_log(self, moment: datetime) -> None:
        head = self.store.max_position()
        topics = ["DuplicateWorkFlagged", "SurveyRequested", "NotificationRequested"]
        for position, event in self.store.read(self.seen + 1, topics=topics):
            if position > head:
                break
            p, subject = event.payload, event.originator_id
            if isinstance(p, DuplicateWorkFlagged) and self.same_tender(subject, p.other_id):
                self.at(self.calendar.next_morning(moment), self.review_duplicate, subject, p.alert_id, p.other_id)
            elif isinstance(p, SurveyRequested) and self.rng.random() < (0.35 if p.kind == "quality" else 0.12):
                score = self.rng.choice((7, 8, 9, 9, 10, 10)) if p.kind == "quality" else self.rng.randint(0, 8)
                self.at(self.calendar.days_after(moment, 0, 4), self.answer_survey, p.survey_id, score)
            elif isinstance(p, NotificationRequested):
                for recipient in p.recipients:
                    staff, r = self.staff.get("rop" if recipient == "role:head_of_sales" else recipient), self.rng.random()
                    if staff and r < 0.5:
                        command = DismissNotification if r < 0.1 else MarkNotificationRead
                        self.at(self.calendar.next_morning(moment), self.open_inbox, staff, command, p.notification_id)
        self.seen = head

    def same_tender(self, one: UUID, other: UUID) -> bool:
        return one in self.tenders and self.tenders.get(other) is self.tenders[one]

    def answer_survey(self, t: datetime, survey_id: UUID, score: int) -> None:
        comment = self.rng.choice([None, "Спасибо за оперативность", "Долго ждали закрывающие документы"])
        self.run(t, SURVEYS, RecordSurveyAnswer, survey_id=survey_id, score=score, comment=comment)

    def open_inbox(self, t: datetime, staff: Staff, command: type[Command], notification_id: UUID) -> None:
        if staff.active:
            self.run(t, staff.caller, command, notification_id=notification_id)

    # --- small helpers: who holds a lead, new people, companies, baskets ---

    def holder(self, case: LeadCase) -> Staff | None:
        staff = self.staff.get(self.store.get(Lead, case.id).holder or "")
        return staff if staff and staff.active else None

    def new_person(self, company: Company) -> Person:
        female, k = self.rng.random() < 0.7, next(self.serial)
        surname, login = self.rng.choice(SURNAMES)
        name = f"{self.rng.choice(FIRST_NAMES[0 if female else 1])} {surname}{'а' if female else ''}"
        digits = f"{k // 5:07d}"  # unique per k: the operator code takes k % 5
        phone = f"+7 {('916', '926', '903', '985', '977')[k % 5]} {digits[:3]}-{digits[3:5]}-{digits[5:]}"
        return Person(name, self.rng.choice(POSITIONS), f"{login}{'a' if female else ''}.{k}@{company.inn}.example.ru", phone)

    def new_prospect(self) -> LeadCase:
        """Someone in the cold base: a landline of an organisation nobody here knows yet (details come with interest)."""
        k = next(self.serial)
        digits = f"{k // 4:07d}"
        phone = f"+7 {('495', '499', '812', '343')[k % 4]} {digits[:3]}-{digits[3:5]}-{digits[5:]}"
        person = Person(self.rng.choice(FIRST_NAMES[0]) + " " + self.rng.choice(SURNAMES)[0] + "а",
                        self.rng.choice(POSITIONS), None, phone)  # fmt: skip
        return LeadCase("cold_call", person, COLD_BASE, [])

    def new_company(self, dealer: bool) -> Company:
        k = next(self.companies)
        name = self.rng.choice(DEALERS if dealer else CLINICS).format(w=self.rng.choice(WORDS), n=k % 300 + 1)
        inn = organisation_inn(f"{self.rng.choice(REGIONS)}9{k:06d}")  # '9' keeps them apart from the sample base
        return Company(name, inn, inn[:4] + "01001", f"г. {self.rng.choice(CITIES)}, ул. Ленина, д. {k % 120 + 1}", dealer)

    def lead_case(self, channel: str, known: Company | None) -> LeadCase:
        if known is not None:
            person = self.new_person(known) if channel == "b2b_portal" else self.rng.choice(known.people)
            return LeadCase(channel, person, known, self.basket(), known_client=True)
        company = self.new_company(dealer=self.rng.random() < 0.08)
        person = self.new_person(company)
        if channel in ("email", "mailing", "chatbot") and self.rng.random() < 0.3:
            person.phone = None  # wrote from a mailbox and left no phone
        if channel in ("callback_request", "inbound_call"):
            person.email = None
        return LeadCase(channel, person, company, self.basket())

    def basket(self, low: int = 1) -> Basket:
        size = max(low, self.rng.choices(range(1, 8), weights=[10, 18, 22, 20, 14, 10, 6])[0])
        families = self.rng.choices(list(FAMILIES), weights=[w for w, _ in FAMILIES.values()], k=2)
        pool = [p for family in dict.fromkeys(families) for p in self.by_family.get(family, [])]
        if len(pool) < size:
            pool = self.products
        return [(p, self.quantity(p)) for p in self.rng.sample(pool, size)]

    def quantity(self, product: Product) -> Decimal:
        if product.price > 5000:
            return Decimal(self.rng.randint(1, 6))
        raw = max(1.0, self.rng.lognormvariate(11.2, 0.9) / float(product.price))  # a line of about 75,000 rubles
        step = 100 if raw > 2000 else 10 if raw > 200 else 1
        return Decimal(max(step, round(raw / step) * step))

    def message(self, case: LeadCase) -> str:
        return "Прошу выставить коммерческое предложение: " + "; ".join(f"{p.name} — {q}" for p, q in case.basket[:4])


def organisation_inn(first_nine: str) -> str:
    """A 10-digit INN with its check digit."""
    check = sum(int(digit) * w for digit, w in zip(first_nine, (2, 4, 10, 3, 5, 9, 4, 6, 8), strict=True)) % 11 % 10
    return f"{first_nine}{check}"


def generate(container, rng: random.Random, *, scale: float = 1.0, days: int = 91, end: datetime | None = None,
             on_day: Callable[[date], None] | None = None) -> History:  # fmt: skip
    """Play `days` days of the department, ending at `end` (default: now), into a freshly bootstrapped container."""
    history = History(container, rng, scale, days, end)
    history.play(on_day)
    return history
