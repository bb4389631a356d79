"""The registry of conversation flows. A new feature adds its flow here."""
from flows.account import BALANCE_FLOW, HISTORY_FLOW
from flows.consent import START_FLOW, STOP_FLOW
from flows.join import JOIN_FLOW
from flows.navigation import CANCEL_FLOW, HELP_FLOW, MENU_FLOW
from flows.programs import PROGRAMS_FLOW

# Routing priority: the first flow whose trigger matches wins. STOP comes before JOIN so that
# "STOP MAMA" opts out rather than joins.
FLOWS = [
    STOP_FLOW,
    START_FLOW,
    JOIN_FLOW,
    CANCEL_FLOW,
    MENU_FLOW,
    HELP_FLOW,
    PROGRAMS_FLOW,
    BALANCE_FLOW,
    HISTORY_FLOW,
]

# The numbered main menu, in this order.
MAIN_MENU = [BALANCE_FLOW, HISTORY_FLOW, PROGRAMS_FLOW, HELP_FLOW]
