"""REWARDS, REDEEM and CODES: the catalog, spending points on a reward, and the codes to show."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, Refused, State, confirmed, finish, goto, missed, refusal, say

PAGE_SIZE = 9


def start_rewards(state: State, inbound: Inbound, services) -> Outcome:
    """`REWARDS` lists the catalog; `REDEEM 2` goes straight to reward 2 of it."""
    items = services.rewards.catalog()
    if not items:
        return finish(), [say("rewards_none")]
    state = goto(state, "choose", ids=[item.id for item in items], page=0)
    words = inbound.words
    if words[0] == "REDEEM" and len(words) > 1 and words[1].isdecimal():
        return _choose(state, int(words[1]), services, items)
    return state, [_page(items, 0, services)]


def _page(items, page: int, services):
    balance = services.points.balance().balance
    first = page * PAGE_SIZE
    lines = [
        say(
            "reward_line", number=first + n, name=item.name, points=item.points,
            stock=say("reward_stock", left=item.stock_left) if item.stock_left is not None else "",
            status=say("reward_affordable") if balance >= item.points else say("reward_missing", points=item.points - balance),
        )
        for n, item in enumerate(items[first:first + PAGE_SIZE], start=1)
    ]
    more = say("rewards_more") if len(items) > first + PAGE_SIZE else ""
    return say("rewards", vendor=services.tenant.name, balance=balance, lines=lines, more=more)


def choose_reward(state: State, inbound: Inbound, services) -> Outcome:
    if inbound.words == ("MORE",):
        items = services.rewards.catalog()
        page = state.data["page"] + 1 if len(items) > (state.data["page"] + 1) * PAGE_SIZE else 0
        return goto(state, "choose", ids=[item.id for item in items], page=page), [_page(items, page, services)]
    if inbound.number is None:
        return missed(state), [say("rewards_choose", count=len(state.data["ids"]))]
    return _choose(state, inbound.number, services)


def _choose(state: State, number: int, services, items=None) -> Outcome:
    """Reward `number` of the list shown, looked up again in the catalog (`items`, when just
    read) in case it has gone since."""
    ids = state.data["ids"]
    if not 1 <= number <= len(ids):
        return missed(state), [say("rewards_choose", count=len(ids))]
    items = items if items is not None else services.rewards.catalog()
    item = next((i for i in items if i.id == ids[number - 1]), None)
    if item is None:
        return finish(), [say("redeem_unavailable")]
    balance = services.points.balance().balance
    if balance < item.points:
        return state, [say("reward_missing_long", points=item.points - balance, name=item.name)]
    return goto(state, "confirm", reward=item.id, points=item.points), [
        say("redeem_confirm", name=item.name, points=item.points, before=balance, after=balance - item.points)
    ]


def redeem_confirmed(state: State, inbound: Inbound, services) -> Outcome:
    try:
        redeemed = services.rewards.redeem(state.data["reward"], quoted=state.data.get("points"))
    except Refused as refused:  # a check failed: nothing was spent
        return finish(), [refusal(refused)]
    return finish(), [
        say(
            "redeemed", media_url=redeemed.media_path, code=redeemed.code, reward=redeemed.reward,
            until=services.local(redeemed.expires_at), balance=redeemed.balance,
        )
    ]


def list_codes(state: State, inbound: Inbound, services) -> Outcome:
    codes = services.rewards.pending_codes()
    if not codes:
        return finish(), [say("codes_none")]
    lines = [say("code_line", code=c.code, reward=c.reward, until=services.local(c.expires_at)) for c in codes]
    return finish(), [say("codes", lines=lines)]


REWARDS_FLOW = Flow(
    "rewards",
    {"start": start_rewards, "choose": choose_reward, "confirm": confirmed(redeem_confirmed)},
    triggers=frozenset({"REWARDS", "REWARD", "CATALOG", "CATALOGUE", "REDEEM"}),
    interrupts=True,
    menu="menu.rewards",
)
CODES_FLOW = Flow("codes", {"start": list_codes}, triggers=frozenset({"CODES", "CODE"}), interrupts=True, menu="menu.codes")
