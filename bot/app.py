"""The Flask app factory."""
from __future__ import annotations

import logging

from flask import Flask

from bot import cli, devphone, runtime, studio, web
from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.engine import Engine
from bot.routing import Router
from bot.voting import VotingDesk
from flows import FLOWS, MAIN_MENU
from webhooks import kannel, twilio


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    rt = runtime.install(runtime.build(config))
    app.extensions["runtime"] = rt
    app.extensions["dispatcher"] = Dispatcher(rt.db, Engine(FLOWS, MAIN_MENU), rt.deliver)
    app.extensions["router"] = Router(rt.db, app.extensions["dispatcher"], VotingDesk(rt.db))
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(kannel.blueprint)
    app.register_blueprint(studio.blueprint)
    app.register_blueprint(web.blueprint)
    if config.console_sender:
        app.register_blueprint(devphone.blueprint)
    cli.register(app)
    return app
