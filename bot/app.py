"""The Flask app factory."""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Callable

from flask import Flask

import api
from bot import cli, devphone, runtime, studio, web
from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.engine import Engine
from bot.platform import PlatformDesk
from bot.routing import Router
from bot.voting import VotingDesk
from dashboard import register as register_dashboard
from flows import FLOWS, MAIN_MENU
from models.base import utcnow
from webhooks import kannel, request_limits, twilio


def create_app(config: Config | None = None, clock: Callable[[], datetime] = utcnow) -> Flask:
    """`clock` tells the time to conversations, services and jobs (tests move it)."""
    config = config or Config.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    request_limits.install(app)
    rt = runtime.init_app(app, config, clock)
    platform = PlatformDesk(config.platform_whatsapp_number)
    # A message's notices are posted to the queue, not waited for: they cost it no round trip.
    deliver = partial(rt.deliver, wait=False)
    app.extensions["dispatcher"] = Dispatcher(
        rt.db, Engine(FLOWS, MAIN_MENU), deliver, rt.redis, config.pin_pepper, rt.clock, platform,
    )
    app.extensions["router"] = Router(rt.db, app.extensions["dispatcher"], VotingDesk(rt.db, rt.clock))
    web.register(app)  # first: it adds the token converter the others' routes use
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(studio.blueprint)
    api.register(app)
    register_dashboard(app)
    if config.serves_dev_phone:
        app.register_blueprint(devphone.blueprint)
    cli.register(app)
    # Last: the doors every message comes through, in front of Flask, which gets every other path.
    app.wsgi_app = twilio.InboundEndpoint(app)
    app.wsgi_app = kannel.InboundEndpoint(app)
    return app
