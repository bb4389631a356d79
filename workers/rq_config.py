"""Settings for `rq worker -c workers.rq_config` (the Procfile's simple worker, which runs its
jobs in its own process). The job modules, the twilio client's API modules and the runtime
(database engine, Redis client, sender: no connection is opened yet) are loaded once, at start,
instead of at the first batch."""
import twilio.rest.api.v2010.account.message  # noqa: F401  (the client imports it on first use)
from sqlalchemy.orm import configure_mappers

import workers.outbound  # noqa: F401
import workers.schedule  # noqa: F401  (every other job)
from bot import runtime

runtime.current()  # built from the environment: a wrong setting stops the worker at start
configure_mappers()  # now, rather than at the first job's first query

QUEUES = ["default"]
