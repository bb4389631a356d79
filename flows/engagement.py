"""MISSIONS, REFER and TOP: what brings customers back between purchases."""
from __future__ import annotations

from flows.base import Flow, Inbound, Outcome, State, finish, say

_BAR = 10


def show_missions(state: State, inbound: Inbound, services) -> Outcome:
    missions = services.missions.progress()
    if not missions:
        return finish(), [say("missions_none")]
    lines = [
        say(
            "mission_line", title=m.title, bar=_bar(m.done, m.target), done=m.done, target=m.target,
            reward=say("mission_done") if m.completed else _reward(m.points),
        )
        for m in missions
    ]
    return finish(), [say("missions", lines=lines)]


def _reward(points: int):
    return say("mission_reward", points=points) if points else say("mission_badge")


def _bar(done: int, target: int) -> str:
    filled = _BAR * done // target
    return "▓" * filled + "░" * (_BAR - filled)


def show_referral(state: State, inbound: Inbound, services) -> Outcome:
    reward = services.referrals.reward
    if not reward:
        return finish(), [say("refer_none")]
    return finish(), [say(f"refer_{reward['rewarded']}", link=services.referrals.link(), points=reward["points"])]


def show_top(state: State, inbound: Inbound, services) -> Outcome:
    top, mine = services.leaderboard.month()
    if not top:
        return finish(), [say("top_empty")]
    lines = [say("top_line", rank=s.rank, name=s.name, points=s.points) for s in top]
    you = say("top_you", rank=mine.rank, points=mine.points) if mine else say("top_you_none")
    return finish(), [say("top", vendor=services.tenant.name, lines=lines, you=you)]


MISSIONS_FLOW = Flow("missions", {"start": show_missions}, triggers=frozenset({"MISSIONS", "MISSION"}), interrupts=True, menu="menu.missions")
REFER_FLOW = Flow("refer", {"start": show_referral}, triggers=frozenset({"REFER", "INVITE"}), interrupts=True, menu="menu.refer")
TOP_FLOW = Flow("top", {"start": show_top}, triggers=frozenset({"TOP", "LEADERBOARD"}), interrupts=True, menu="menu.top")
