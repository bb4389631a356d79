"""The vendor itself: its settings, and its daily figures."""
from __future__ import annotations

from api.machinery import endpoint
from api.schemas import MetricsQuery, MetricsSchema, SettingsChange, SettingsSchema
from bot.services.settings import EDITABLE


@endpoint("GET", "/settings", scope="settings", summary="The vendor's settings", response=SettingsSchema)
def get_settings(services):
    return {**services.settings.view(), "editable": EDITABLE}


@endpoint("PATCH", "/settings", scope="settings",
          summary="Change some settings (those listed in `editable`), validated as the tenant file is",
          body=SettingsChange, response=SettingsSchema, problems=(422,), service_validates=True)
def update_settings(services, body):
    return {**services.settings.update(body), "editable": EDITABLE}


@endpoint("GET", "/metrics", scope="metrics", summary="The vendor's daily figures over a range of days",
          query=MetricsQuery, response=MetricsSchema, problems=(422,))
def get_metrics(services, query):
    return {"data": services.metrics.stored(query["start"], query["end"])}
