"""Shows configured from a JSON file (`flask --app wsgi voting load FILE.json`): validated,
then created or updated in place; and the in-memory view of every show that the router uses."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from bot.codes import CHOSEN_CODE, CHOSEN_CODE_RULE
from bot.countries import language_of_country
from bot.locales import LOCALES
from bot.money import to_minor, too_precise
from bot.services.tenant_file import TenantFileError, Text, in_years, _country, _currency, _e164, _moment, _timezone
from bot.services.tenants import assign
from bot.phones import to_e164
from bot.show_views import RESERVED_WORDS, ContestantView, EpisodeView, PackageView, ShortCodeView, ShowView
from models import (
    Contestant, Episode, EpisodeContestant, Show, Tenant, Vote, VotePackage, VoteShortCode,
)

_SHORT_CODE = validate.Regexp(r"^\d{3,15}$", error="must be 3 to 15 digits, like 1515")
_CARRIER = validate.Regexp(r"^[A-Za-z][A-Za-z0-9_-]{1,29}$", error="must be a name like smart (the Kannel smsc-id)")
MAX_PRICE = 1_000_000  # major units: in minor units (up to 3 decimals) within an INTEGER column
_PRICE = validate.Range(0, MAX_PRICE)


def _code(value: str) -> None:
    if not CHOSEN_CODE.fullmatch(value):
        raise ValidationError(CHOSEN_CODE_RULE)


def _word(value: str) -> None:
    """Contestant codes and package keywords are what viewers type: one word of letters."""
    if not re.fullmatch(r"[A-Z]{2,20}", value):
        raise ValidationError("must be 2 to 20 capital letters")
    if value in RESERVED_WORDS:
        raise ValidationError(f"{value} is a voting command; choose another word")


def _local_time(value: str) -> None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a time like 2026-12-05T19:00 (in the show's timezone)") from None
    in_years(moment)  # read in the show's timezone, then in UTC: far from the calendar's ends


class ShortCodeSchema(Schema):
    class Meta:
        unknown = RAISE

    carrier = fields.String(required=True, validate=_CARRIER)
    number = fields.String(required=True, validate=_SHORT_CODE)
    price = fields.Decimal(required=True, validate=_PRICE, as_string=False)
    currency = fields.String(required=True, validate=_currency)


class ContestantSchema(Schema):
    class Meta:
        unknown = RAISE

    number = fields.Integer(required=True, strict=True, validate=validate.Range(1, 9999))
    code = fields.String(required=True, validate=_word)
    name = Text(required=True, validate=validate.Length(1, 255))


class EpisodeSchema(Schema):
    class Meta:
        unknown = RAISE

    number = fields.Integer(required=True, strict=True, validate=validate.Range(1, 9999))
    title = Text(required=True, validate=validate.Length(1, 255))
    voting_start = fields.String(required=True, validate=_local_time)
    voting_end = fields.String(required=True, validate=_local_time)
    contestants = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(min=1))


class PackageSchema(Schema):
    class Meta:
        unknown = RAISE

    keyword = fields.String(required=True, validate=_word)
    shortcode = fields.String(required=True, validate=_SHORT_CODE)
    carrier = fields.String(required=True, validate=_CARRIER)
    votes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100_000))
    bonus_votes = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 100_000))
    price = fields.Decimal(required=True, validate=_PRICE, as_string=False)
    currency = fields.String(required=True, validate=_currency)


class ShowFileSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=_code)
    name = Text(required=True, validate=validate.Length(1, 255))
    country = fields.String(required=True, validate=_country)
    timezone = fields.String(required=True, validate=_timezone)
    language = fields.String(load_default=None, validate=validate.OneOf(sorted(LOCALES)))  # None: the country's
    shortcodes = fields.List(fields.Nested(ShortCodeSchema), load_default=list)
    max_votes_per_phone_per_episode = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1_000_000))
    max_votes_per_phone_per_minute = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1_000_000))
    whatsapp_number = fields.String(load_default=None, allow_none=True, validate=_e164)
    whatsapp_free_votes_per_episode = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 1000))
    contestants = fields.List(fields.Nested(ContestantSchema), required=True, validate=validate.Length(min=1))
    episodes = fields.List(fields.Nested(EpisodeSchema), load_default=list)
    packages = fields.List(fields.Nested(PackageSchema), load_default=list)

    @validates_schema
    def has_a_number(self, data, **kwargs):
        if not data.get("shortcodes") and not data.get("whatsapp_number"):
            raise ValidationError({"shortcodes": ["give at least one short code, or a whatsapp_number"]})

    @validates_schema
    def each_once(self, data, **kwargs):
        """Contestants by number and code, episodes by number, short codes by carrier and
        number, packages by keyword: each once."""
        checks = {
            "contestants": [("number", (c["number"],)) for c in data.get("contestants", [])]
            + [("code", (c["code"],)) for c in data.get("contestants", [])],
            "episodes": [("number", (e["number"],)) for e in data.get("episodes", [])],
            "shortcodes": [("number", (s["carrier"].lower(), s["number"])) for s in data.get("shortcodes", [])],
            "packages": [("keyword", (p["keyword"],)) for p in data.get("packages", [])],
        }
        errors = {}
        for field, keys in checks.items():
            twice = sorted({" ".join(map(str, value)) for name, value in keys if keys.count((name, value)) > 1})
            if twice:
                errors[field] = [f"listed twice: {', '.join(twice)}"]
        if errors:
            raise ValidationError(errors)

    @validates_schema
    def episodes_make_sense(self, data, **kwargs):
        """Known contestants; a window that ends after it starts; no two windows at once, so
        that a vote always knows its episode."""
        known = {c["number"] for c in data.get("contestants", [])}
        errors: dict = {}
        windows = []
        for index, episode in enumerate(data.get("episodes", [])):
            unknown = sorted(set(episode["contestants"]) - known)
            if unknown:
                errors[index] = {"contestants": [f"no contestant numbered {', '.join(map(str, unknown))}"]}
                continue
            start, end = (_moment(episode[name], data["timezone"], end_of_day=False) for name in ("voting_start", "voting_end"))
            if end <= start:
                errors[index] = {"voting_end": ["must be after voting_start"]}
                continue
            windows.append((start, end, index))
        windows.sort(key=lambda window: window[0])
        for (_, end, first), (start, _, second) in zip(windows, windows[1:]):
            if start < end:
                errors[second] = {"voting_start": [f"overlaps the voting window of episode {data['episodes'][first]['number']}"]}
        if errors:
            raise ValidationError({"episodes": errors})

    @validates_schema
    def keywords_are_not_contestants(self, data, **kwargs):
        codes = {c["code"] for c in data.get("contestants", [])}
        errors = {i: {"keyword": [f"{p['keyword']} is a contestant's code"]}
                  for i, p in enumerate(data.get("packages", [])) if p["keyword"] in codes}
        if errors:
            raise ValidationError({"packages": errors})

    @validates_schema
    def prices_fit_their_currency(self, data, **kwargs):
        errors: dict = {}
        for field in ("shortcodes", "packages"):
            for index, item in enumerate(data.get(field, [])):
                if too_precise(item["price"], item["currency"]):
                    errors.setdefault(field, {})[index] = {"price": ["has more decimals than the currency allows"]}
        if errors:
            raise ValidationError(errors)

    @post_load
    def normalise(self, data, **kwargs):
        """Carriers in lower case, prices in minor units, windows in UTC, numbers in E.164."""
        for item in data["shortcodes"] + data["packages"]:
            item["carrier"] = item["carrier"].lower()
            item["price"] = to_minor(item["price"], item["currency"])
        for episode in data["episodes"]:
            episode["voting_start"] = _moment(episode["voting_start"], data["timezone"], end_of_day=False)
            episode["voting_end"] = _moment(episode["voting_end"], data["timezone"], end_of_day=False)
        if data["whatsapp_number"]:
            data["whatsapp_number"] = to_e164(data["whatsapp_number"])
        return data


class ShowFileError(TenantFileError):
    """The file is invalid, or at odds with what the database holds."""


def parse_show_file(raw: dict) -> dict:
    try:
        return ShowFileSchema().load(raw)
    except ValidationError as error:
        raise ShowFileError(error.messages) from None


@dataclass(frozen=True)
class LoadResult:
    show: Show
    created: bool
    changed: list[str]


_COLUMNS = (
    "name", "country", "timezone", "language", "whatsapp_number", "max_votes_per_phone_per_episode",
    "max_votes_per_phone_per_minute", "whatsapp_free_votes_per_episode",
)


def load_show(session: Session, config: dict, platform_number: str | None = None) -> LoadResult:
    """Create or update the show a parsed file describes. Idempotent: loading the same file
    again changes no row. Contestants and episodes are matched by number, packages by keyword;
    one with votes cannot be dropped. `platform_number` (PLATFORM_WHATSAPP_NUMBER) is never a
    show's. Raises ShowFileError (the caller rolls back)."""
    show = session.scalars(select(Show).where(Show.code == config["code"]).with_for_update()).one_or_none()
    created = show is None
    if created:
        show = Show(code=config["code"])
        session.add(show)
    changed = [name for name in _COLUMNS if assign(show, name, config[name])]
    session.flush()
    _check_numbers_are_free(session, show, config, platform_number)
    changed += _sync_shortcodes(session, show, config["shortcodes"])
    contestants, contestant_changes = _sync_contestants(session, show, config["contestants"])
    changed += contestant_changes
    changed += _sync_episodes(session, show, config["episodes"], contestants)
    changed += _sync_packages(session, show, config["packages"])
    return LoadResult(show, created, changed)


def _check_numbers_are_free(session: Session, show: Show, config: dict, platform_number: str | None) -> None:
    """A number leads to one place: one show, or the loyalty vendors, or the platform's own conversation."""
    numbers = {item["number"] for item in config["shortcodes"]} | {item["shortcode"] for item in config["packages"]}
    whatsapp = config["whatsapp_number"]
    taken = set(session.scalars(select(VoteShortCode.number).where(VoteShortCode.number.in_(numbers), VoteShortCode.show_id != show.id)))
    taken |= set(session.scalars(select(VotePackage.shortcode).where(VotePackage.shortcode.in_(numbers), VotePackage.show_id != show.id)))
    errors = {}
    if taken:
        errors["shortcodes"] = [f"already used by another show: {', '.join(sorted(taken))}"]
    if whatsapp and session.scalar(select(exists().where(Tenant.whatsapp_number == whatsapp))):
        errors["whatsapp_number"] = [f"{whatsapp} is a loyalty vendor's number"]
    if whatsapp and session.scalar(select(exists().where(Show.whatsapp_number == whatsapp, Show.id != show.id))):
        errors["whatsapp_number"] = [f"{whatsapp} is another show's number"]
    if whatsapp and whatsapp == platform_number:
        errors["whatsapp_number"] = [f"{whatsapp} is the platform's own number (PLATFORM_WHATSAPP_NUMBER)"]
    if errors:
        raise ShowFileError(errors)


def _sync_shortcodes(session: Session, show: Show, items: list[dict]) -> list[str]:
    existing = {(row.carrier, row.number): row for row in session.scalars(select(VoteShortCode).where(VoteShortCode.show_id == show.id))}
    changed = []
    for item in items:
        key = (item["carrier"], item["number"])
        row = existing.pop(key, None)
        if row is None:
            row = VoteShortCode(carrier=item["carrier"], number=item["number"], show_id=show.id)
            session.add(row)
        if any([assign(row, name, item[name]) for name in ("price", "currency")]):
            changed.append(f"short code {item['carrier']} {item['number']}")
    for (carrier, number), row in existing.items():
        session.delete(row)
        changed.append(f"short code {carrier} {number} removed")
    return changed


def _sync_contestants(session: Session, show: Show, items: list[dict]) -> tuple[dict[int, Contestant], list[str]]:
    existing = {row.number: row for row in session.scalars(select(Contestant).where(Contestant.show_id == show.id))}
    changed, kept = [], {}
    dropped = {number: row for number, row in existing.items() if number not in {item["number"] for item in items}}
    _refuse_if_voted(session, show, "contestants", {f"contestant {n}": Vote.contestant_id == row.id for n, row in dropped.items()},
                     EpisodeContestant.contestant_id.in_([row.id for row in dropped.values()]))
    for row in dropped.values():
        session.delete(row)
        changed.append(f"contestant {row.number} removed")
    for item in items:  # codes may swap or move along (1 SOKHA->DARA, 2 DARA->DAVY): each steps aside first
        row = existing.get(item["number"])
        if row is not None and row.code != item["code"]:
            row.code = f"~{row.number}"  # no file's code: one word of letters
    session.flush()  # a code may also move from a dropped contestant to a new one
    for item in items:
        row = existing.get(item["number"])
        if row is None:
            row = Contestant(show_id=show.id, number=item["number"])
            session.add(row)
        if any([assign(row, name, item[name]) for name in ("code", "name")]):
            changed.append(f"contestant {item['number']}")
        kept[item["number"]] = row
    session.flush()
    return kept, changed


def _sync_episodes(session: Session, show: Show, items: list[dict], contestants: dict[int, Contestant]) -> list[str]:
    existing = {row.number: row for row in session.scalars(select(Episode).where(Episode.show_id == show.id))}
    wanted = {item["number"] for item in items}
    dropped = {number: row for number, row in existing.items() if number not in wanted}
    _refuse_if_voted(session, show, "episodes", {f"episode {n}": Vote.episode_id == row.id for n, row in dropped.items()},
                     EpisodeContestant.episode_id.in_([row.id for row in dropped.values()]))
    changed = []
    for row in dropped.values():
        session.delete(row)
        changed.append(f"episode {row.number} removed")
    for item in items:
        row = existing.get(item["number"])
        if row is None:
            row = Episode(show_id=show.id, number=item["number"])
            session.add(row)
        if any([assign(row, name, item[name]) for name in ("title", "voting_start", "voting_end")]):
            changed.append(f"episode {item['number']}")
        session.flush()
        changed += _sync_line_up(session, show, row, [contestants[n] for n in item["contestants"]])
    return changed


def _sync_line_up(session: Session, show: Show, episode: Episode, contestants: list[Contestant]) -> list[str]:
    existing = set(session.scalars(select(EpisodeContestant.contestant_id).where(
        EpisodeContestant.show_id == show.id, EpisodeContestant.episode_id == episode.id)))
    wanted = {contestant.id for contestant in contestants}
    removed = existing - wanted
    _refuse_if_voted(session, show, "episodes", {
        f"contestant {c.number} in episode {episode.number}": (Vote.episode_id == episode.id) & (Vote.contestant_id == c.id)
        for c in session.scalars(select(Contestant).where(Contestant.show_id == show.id, Contestant.id.in_(removed)))
    }, (EpisodeContestant.episode_id == episode.id) & EpisodeContestant.contestant_id.in_(removed))
    if removed:
        session.execute(delete(EpisodeContestant).where(
            EpisodeContestant.show_id == show.id, EpisodeContestant.episode_id == episode.id,
            EpisodeContestant.contestant_id.in_(removed)))
    for contestant_id in wanted - existing:
        session.add(EpisodeContestant(show_id=show.id, episode_id=episode.id, contestant_id=contestant_id))
    return [f"episode {episode.number} line-up"] if existing != wanted else []


def _refuse_if_voted(session: Session, show: Show, field: str, conditions: dict, line_ups) -> None:
    """Refuse to take out what has votes. `line_ups`: the rows of episode_contestants that go
    with it, locked first, as a vote reads its row FOR KEY SHARE: a vote being counted now is
    finished, and seen here, and one after waits for this load and finds its row gone."""
    if not conditions:
        return
    session.execute(select(EpisodeContestant.episode_id).where(EpisodeContestant.show_id == show.id, line_ups).with_for_update())
    voted = [name for name, condition in conditions.items() if session.scalar(select(exists().where(condition)))]
    if voted:
        raise ShowFileError({field: [f"{name} has votes and must stay in the file" for name in voted]})


def _sync_packages(session: Session, show: Show, items: list[dict]) -> list[str]:
    existing = {row.keyword: row for row in session.scalars(select(VotePackage).where(VotePackage.show_id == show.id))}
    changed = []
    for item in items:
        row = existing.pop(item["keyword"], None)
        if row is None:
            row = VotePackage(show_id=show.id, keyword=item["keyword"])
            session.add(row)
        names = ("carrier", "shortcode", "votes", "bonus_votes", "price", "currency")
        if any([assign(row, name, item[name]) for name in names]):
            changed.append(f"package {item['keyword']}")
    for keyword, row in existing.items():  # bought votes stay in the phones' balances
        session.delete(row)
        changed.append(f"package {keyword} removed")
    return changed


def show_views(session: Session) -> list[ShowView]:
    """Every show, as the vote path reads it: a handful of queries, whatever the number of votes."""
    by_show = defaultdict(lambda: defaultdict(list))
    for model, kind in ((Contestant, "contestants"), (VoteShortCode, "shortcodes"), (VotePackage, "packages")):
        for row in session.scalars(select(model)):
            by_show[row.show_id][kind].append(row)
    line_ups = defaultdict(list)
    numbers = {row.id: row.number for rows in by_show.values() for row in rows["contestants"]}
    for row in session.scalars(select(EpisodeContestant)):
        line_ups[row.episode_id].append(numbers[row.contestant_id])
    for row in session.scalars(select(Episode)):
        by_show[row.show_id]["episodes"].append(row)
    return [_view(show, by_show[show.id], line_ups) for show in session.scalars(select(Show))]


def _view(show: Show, rows: dict, line_ups: dict) -> ShowView:
    return ShowView(
        id=show.id, code=show.code, name=show.name, country=show.country, timezone=show.timezone,
        language=show.language or language_of_country(show.country), whatsapp_number=show.whatsapp_number,
        max_votes_per_episode=show.max_votes_per_phone_per_episode,
        max_votes_per_minute=show.max_votes_per_phone_per_minute,
        free_votes_per_episode=show.whatsapp_free_votes_per_episode,
        contestants=tuple(sorted((ContestantView(c.id, c.number, c.code, c.name) for c in rows["contestants"]), key=lambda c: c.number)),
        episodes=tuple(sorted(
            (EpisodeView(e.id, e.number, e.title, e.voting_start, e.voting_end, tuple(sorted(line_ups[e.id]))) for e in rows["episodes"]),
            key=lambda e: e.number)),
        shortcodes=tuple(ShortCodeView(s.carrier, s.number, s.price, s.currency)
                         for s in sorted(rows["shortcodes"], key=lambda s: (s.number, s.carrier))),
        packages=tuple(PackageView(p.keyword, p.carrier, p.shortcode, p.votes, p.bonus_votes, p.price, p.currency)
                       for p in sorted(rows["packages"], key=lambda p: p.keyword)),
    )
