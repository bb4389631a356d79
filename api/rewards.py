"""Rewards (list, create, change stock) and redemption codes (verify, fulfil, cancel with refund)."""
from __future__ import annotations

import uuid

from api.machinery import endpoint
from api.problems import conflict, not_found
from api.schemas import PageQuery, RedemptionSchema, RewardIn, RewardOut, StockIn, page_of
from bot.errors import Refused


@endpoint("GET", "/rewards", scope="rewards", summary="The vendor's rewards, in the catalog's order, switched off or not",
          query=PageQuery, response=page_of(RewardOut, "RewardPage"), problems=(422,))
def list_rewards(services, query):
    return services.rewards.offered(query["cursor"], query["limit"])


@endpoint("POST", "/rewards", scope="rewards", summary="Add a reward (validated as in the tenant file)",
          body=RewardIn, response=RewardOut, status=201, problems=(422,), service_validates=True)
def create_reward(services, body):
    return services.settings.add_reward(body)


@endpoint("PATCH", "/rewards/<uuid:reward_id>", scope="rewards", summary="Change a reward's stock",
          body=StockIn, response=RewardOut, problems=(404, 422))
def update_reward(services, reward_id: uuid.UUID, body):
    reward = services.settings.set_stock(reward_id, body["stock"])
    if reward is None:
        raise not_found("reward")
    return reward


@endpoint("GET", "/redemptions/<code>", scope="redemptions", summary="Verify a reward code (RD-7KX4QF, any case, dash or not)",
          response=RedemptionSchema, problems=(404,))
def verify_code(services, code: str):
    return _view(services, code)


@endpoint("POST", "/redemptions/<code>/fulfil", scope="redemptions", summary="Mark the reward handed over (the customer is told)",
          response=RedemptionSchema, problems=(404, 409))
def fulfil_code(services, code: str):
    return _act(services, code, services.rewards.fulfil)


@endpoint("POST", "/redemptions/<code>/cancel", scope="redemptions",
          summary="Cancel a pending code: the points go back to the customer and the unit back in stock",
          response=RedemptionSchema, problems=(404, 409))
def cancel_code(services, code: str):
    return _act(services, code, services.rewards.cancel)


def _view(services, code: str) -> dict:
    found = services.rewards.find_code(code)  # another vendor's code is as unknown as a wrong one
    if found is None:
        raise not_found("reward code")
    return {**vars(found), "usable": found.usable(services.now)}


def _act(services, code: str, action) -> dict:
    try:
        action(_view(services, code)["id"])
    except Refused as refused:
        raise conflict(refused) from None
    return _view(services, code)
