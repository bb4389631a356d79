"""Broadcasts: preview a definition, create a draft, list, launch, pause, resume, cancel, stats.
The definition is the broadcast file's shape without `tenant`, validated by the file's schema."""
from __future__ import annotations

import uuid

from api.machinery import endpoint
from api.problems import Problem, not_found
from api.schemas import BroadcastIn, BroadcastSchema, PageQuery, PreviewSchema, StatsSchema, page_of
from bot.services.broadcasts import BroadcastError


@endpoint("POST", "/broadcasts/preview", scope="broadcasts", reads=True,
          summary="Who a broadcast would reach now: matched, suppressed by reason, recipients, three sample messages",
          body=BroadcastIn, response=PreviewSchema, problems=(422,), service_validates=True)
def preview_broadcast(services, body):
    broadcasts = services.broadcasts
    return broadcasts.preview(broadcasts.definition(body)).as_json()


@endpoint("POST", "/broadcasts", scope="broadcasts", summary="Create a draft broadcast (nothing is sent until it is launched)",
          body=BroadcastIn, response=BroadcastSchema, status=201, problems=(422,), service_validates=True)
def create_broadcast(services, body):
    broadcasts = services.broadcasts
    return broadcasts.create(broadcasts.definition(body))


@endpoint("GET", "/broadcasts", scope="broadcasts", summary="The vendor's broadcasts, newest first",
          query=PageQuery, response=page_of(BroadcastSchema, "BroadcastPage"), problems=(422,))
def list_broadcasts(services, query):
    return services.broadcasts.listed(query["cursor"], query["limit"])


@endpoint("GET", "/broadcasts/<uuid:broadcast_id>", scope="broadcasts", summary="One broadcast",
          response=BroadcastSchema, problems=(404,))
def get_broadcast(services, broadcast_id: uuid.UUID):
    return _find(services, broadcast_id)


@endpoint("POST", "/broadcasts/<uuid:broadcast_id>/launch", scope="broadcasts",
          summary="Send a draft now, or schedule it for its send_at (launching again changes nothing)",
          response=BroadcastSchema, problems=(404, 409))
def launch_broadcast(services, broadcast_id: uuid.UUID):
    return _move(services, broadcast_id, "launch")


@endpoint("POST", "/broadcasts/<uuid:broadcast_id>/pause", scope="broadcasts",
          summary="Pause a sending broadcast: what is queued waits", response=BroadcastSchema, problems=(404, 409))
def pause_broadcast(services, broadcast_id: uuid.UUID):
    return _move(services, broadcast_id, "pause")


@endpoint("POST", "/broadcasts/<uuid:broadcast_id>/resume", scope="broadcasts",
          summary="Resume a paused broadcast", response=BroadcastSchema, problems=(404, 409))
def resume_broadcast(services, broadcast_id: uuid.UUID):
    return _move(services, broadcast_id, "resume")


@endpoint("POST", "/broadcasts/<uuid:broadcast_id>/cancel", scope="broadcasts",
          summary="Cancel a broadcast: nothing more of it is sent", response=BroadcastSchema, problems=(404, 409))
def cancel_broadcast(services, broadcast_id: uuid.UUID):
    return _move(services, broadcast_id, "cancel")


@endpoint("GET", "/broadcasts/<uuid:broadcast_id>/stats", scope="broadcasts",
          summary="How it did: sent, delivered, read, failed by code, skipped by reason, replies, opt-outs, conversions",
          response=StatsSchema, problems=(404,))
def broadcast_stats(services, broadcast_id: uuid.UUID):
    _find(services, broadcast_id)
    return services.broadcasts.stats(broadcast_id).as_json()


def _find(services, broadcast_id: uuid.UUID):
    found = services.broadcasts.find(broadcast_id)
    if found is None:
        raise not_found("broadcast")
    return found


def _move(services, broadcast_id: uuid.UUID, move: str):
    _find(services, broadcast_id)
    try:
        return services.broadcasts.move(broadcast_id, move).broadcast
    except BroadcastError as error:
        raise Problem("conflict", str(error)) from None
