"""The Flask app factory."""
from __future__ import annotations

import logging

from flask import Flask

from bot import cli, devphone, runtime, web
from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.engine import Engine
from flows import FLOWS, MAIN_MENU
from webhooks import twilio


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    rt = runtime.init_app(app, config)
    app.extensions["dispatcher"] = Dispatcher(rt.db, Engine(FLOWS, MAIN_MENU), rt.deliver)
    app.register_blueprint(twilio.blueprint)
    app.register_blueprint(web.blueprint)
    if config.console_sender:
        app.register_blueprint(devphone.blueprint)
    cli.register(app)
    return app
