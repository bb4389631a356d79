"""The registry of conversation flows. A new feature adds its flow here."""
from flows.account import BALANCE_FLOW, HISTORY_FLOW
from flows.consent import START_FLOW, STOP_FLOW
from flows.dashboard import DASHBOARD_FLOW
from flows.engagement import MISSIONS_FLOW, REFER_FLOW, TOP_FLOW
from flows.join import JOIN_FLOW
from flows.language import LANGUAGE_FLOW
from flows.navigation import CANCEL_FLOW, HELP_FLOW, MENU_FLOW
from flows.programs import PROGRAMS_FLOW
from flows.purchase import LOG_FLOW, VOID_FLOW
from flows.rewards import CODES_FLOW, REWARDS_FLOW
from flows.setup import SETUP_FLOW
from flows.staff import PIN_FLOW
from flows.team import STAFF_FLOW
from flows.verify import VERIFY_FLOW
from flows.wheel import WHEEL_FLOW

# Routing priority: the first flow whose trigger matches wins (JOIN starts only on `JOIN CODE` or
# the code alone, which the dispatcher recognises: see bot/vendor_codes.py).
FLOWS = [
    STOP_FLOW,
    START_FLOW,
    LOG_FLOW,
    VOID_FLOW,
    VERIFY_FLOW,
    STAFF_FLOW,
    DASHBOARD_FLOW,
    PIN_FLOW,
    JOIN_FLOW,
    CANCEL_FLOW,
    MENU_FLOW,
    HELP_FLOW,
    PROGRAMS_FLOW,
    LANGUAGE_FLOW,
    BALANCE_FLOW,
    HISTORY_FLOW,
    REWARDS_FLOW,
    CODES_FLOW,
    WHEEL_FLOW,
    MISSIONS_FLOW,
    REFER_FLOW,
    TOP_FLOW,
]

# The numbered main menu, in this order.
MAIN_MENU = [
    BALANCE_FLOW, REWARDS_FLOW, CODES_FLOW, WHEEL_FLOW, MISSIONS_FLOW, REFER_FLOW, TOP_FLOW, HISTORY_FLOW, PROGRAMS_FLOW,
    LANGUAGE_FLOW, LOG_FLOW, VOID_FLOW, VERIFY_FLOW, HELP_FLOW,
]

# The words that start a flow (BAL, STOP, LOG...).
COMMANDS = frozenset().union(*(flow.triggers for flow in FLOWS))
# Words that are commands or answers, so never vendor codes: "JOIN BAL" could not be told from "BAL".
# SETUP is the platform number's own flow (bot/platform.py), not a vendor's.
COMMAND_WORDS = COMMANDS | SETUP_FLOW.triggers | {"JOIN", "MORE", "RD", "YES", "NO", "OK", "BACK"}
