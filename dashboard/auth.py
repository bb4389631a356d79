"""Signing in with the link the bot sent, the session cookie, CSRF, the one-time nonces of the
forms that change something, and the unit of work every page runs in as the signed-in owner."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from flask import abort, current_app, g, make_response, redirect, render_template, request, url_for

from bot.services import Services, idempotency
from bot.services.context import Context
from bot.services.dashboard_login import (
    EXPIRED, REFUSED, SESSION_VALID, UNKNOWN, USED, VALID, end_session, find_owner, link_status, open_link,
)
from dashboard import blueprint, menu
from dashboard.forms import done_notice

SESSION_COOKIE = "dashboard_session"
LOGIN_COOKIE = "dashboard_login"  # ties the sign-in form to the browser that opened the link
LINK_STATUS = {USED: 410, EXPIRED: 410, UNKNOWN: 404, REFUSED: 403}
FORM_NONCE = "once"  # the field of a form's one-time nonce (claim_form)
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class Shop:
    """What every page shows of the signed-in owner's vendor: values, since a unit of work that
    rolls back expires its rows before an error page is drawn."""

    name: str
    currency: str
    timezone: str
    owner_phone: str


class Refused(Exception):
    """A form was refused: its page, with the reason, answers, and the unit of work rolls back."""

    def __init__(self, response):
        super().__init__("refused")
        self.response = response


def refuse(template: str, status: int = 400, **context):
    raise Refused(make_response(render_template(template, **context), status))


@blueprint.errorhandler(Refused)
def refused(error: Refused):
    return error.response


@blueprint.errorhandler(401)
def signed_out(_error):
    return render_template("dashboard/signed_out.html"), 401


@blueprint.errorhandler(404)
def not_found(_error):
    return render_template("dashboard/not_found.html"), 404


@blueprint.after_request
def guard(response):
    """Nothing of the back office is cached, framed, or leaks its address to another site."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'self'; form-action 'self'; frame-ancestors 'none'"
    return response


@blueprint.before_request
def check_csrf():
    """Every form of a signed-in page carries the session's CSRF token (signing in has its own)."""
    if request.method != "POST" or request.endpoint == "dashboard.sign_in":
        return
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        abort(401)
    if not hmac.compare_digest(request.form.get("csrf", "").encode(), csrf_for(token).encode()):  # bytes: any text compares
        return render_template("dashboard/stale_form.html"), 400


def csrf_for(session_token: str) -> str:
    """Derived from the session's secret token: a page of ours can embed it, another site cannot know it."""
    return hmac.new(session_token.encode(), b"dashboard csrf", hashlib.sha256).hexdigest()


@blueprint.context_processor
def page_context():
    token = request.cookies.get(SESSION_COOKIE, "")
    return {
        "csrf_token": lambda: csrf_for(token), "form_nonce": lambda: secrets.token_urlsafe(18), "shop": g.get("shop"),
        "menu": menu, "notice": done_notice(),
    }


@dataclass(frozen=True)
class ClaimedForm:
    """A form whose one-time nonce this unit of work claimed."""

    services: Services
    nonce: str

    def went_to(self, endpoint: str, done: str, **values) -> str:
        """The page the form goes on to, with its `done` notice; kept for the form sent again."""
        ctx = self.services.ctx
        idempotency.form_went_to(ctx.session, ctx.tenant.id, self.nonce, url_for(endpoint, **values))
        return url_for(endpoint, done=done, **values)


def claim_form(services: Services) -> ClaimedForm:
    """Claim the form's one-time nonce (FORM_NONCE, a hidden field) in the unit of work of its
    change, so that the change is made once: the form sent again (a double tap, a browser's
    resend) changes nothing and goes on to the page the first went to, saying so. A form
    without one is stale."""
    nonce = request.form.get(FORM_NONCE, "")
    if not _NONCE.fullmatch(nonce):
        refuse("dashboard/stale_form.html")
    ctx = services.ctx
    first_went_to = idempotency.claim_form(ctx.session, ctx.tenant.id, nonce, ctx.now)
    if first_went_to is not None:
        raise Refused(redirect(f"{first_went_to}?done=already_done"))
    return ClaimedForm(services, nonce)


@contextmanager
def as_owner() -> Iterator[Services]:
    """One transaction as the signed-in owner: the services the flows use, for their vendor only.
    Without a live session: 401. After commit, outbound messages are handed to the sender and
    launched broadcasts to a runner."""
    runtime = current_app.extensions["runtime"]
    with runtime.db.transaction() as session:
        now = runtime.clock()
        owner = _cookie_owner(session, now)
        if owner is None:
            abort(401)
        tenant = owner.tenant
        g.shop = Shop(tenant.name, tenant.currency, tenant.timezone, owner.user.phone_number)
        ctx = Context(
            session=session, tenant=owner.tenant, phone=owner.user.phone_number, now=now,
            pin_pepper=runtime.config.pin_pepper, staff=owner.user,
        )
        yield Services(ctx)
    if ctx.outbox:
        runtime.deliver(ctx.outbox)
    runtime.start_runners(ctx.runners)


@blueprint.get("/login/<token:token>")
def sign_in_page(token: str):
    """What the link opens. Looking does not use it (a chat app's link preview must not): the
    button does."""
    runtime = current_app.extensions["runtime"]
    with runtime.db.sessions() as session:
        status = link_status(session, token, runtime.clock())
    if status != VALID:
        return render_template("dashboard/link.html", status=status), LINK_STATUS[status]
    nonce = secrets.token_urlsafe(24)
    response = make_response(render_template("dashboard/sign_in.html", nonce=nonce))
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=600, secure=True, httponly=True, samesite="Strict", path="/dashboard/login")
    return response


@blueprint.post("/login/<token:token>")
def sign_in(token: str):
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    runtime = current_app.extensions["runtime"]
    if not nonce or not hmac.compare_digest(request.form.get("csrf", "").encode(), nonce.encode()):
        if _signed_in(runtime):  # the button pressed again after the first press's answer took the nonce
            return redirect(url_for("dashboard.overview"))
        return render_template("dashboard/stale_form.html"), 400
    with runtime.db.transaction() as session:
        status, session_token = open_link(session, token, nonce, runtime.clock())
    if status != VALID:
        return render_template("dashboard/link.html", status=status), LINK_STATUS[status]
    response = redirect(url_for("dashboard.overview"))
    response.set_cookie(
        SESSION_COOKIE, session_token, max_age=int(SESSION_VALID.total_seconds()), secure=True, httponly=True,
        samesite="Strict", path="/dashboard",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard/login")
    return response


def _signed_in(runtime) -> bool:
    """Whether the browser holds a live session."""
    with runtime.db.sessions() as session:
        return _cookie_owner(session, runtime.clock()) is not None


def _cookie_owner(session, now):
    """The owner whose live session the browser's cookie names, else None."""
    token = request.cookies.get(SESSION_COOKIE)
    return find_owner(session, token, now) if token else None


@blueprint.post("/logout")
def logout():
    runtime = current_app.extensions["runtime"]
    with runtime.db.transaction() as session:
        end_session(session, request.cookies[SESSION_COOKIE], runtime.clock())
    response = make_response(render_template("dashboard/signed_out.html", just_left=True))
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response
