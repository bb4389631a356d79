"""Settings for `rq worker -c workers.rq_config`. The job modules, the twilio client's API
modules and the runtime (database engine, Redis client, sender: no connection is opened yet) are
loaded once, in the worker process, so that the work horse it forks for each job starts ready
instead of loading the app again for every batch. Each horse opens its own connections."""
import twilio.rest.api.v2010.account.message  # noqa: F401  (the client imports it on first use)
from sqlalchemy.orm import configure_mappers

import workers.outbound  # noqa: F401
import workers.schedule  # noqa: F401  (every other job)
from bot import runtime

runtime.current()  # built from the environment: a wrong setting stops the worker at start
configure_mappers()  # else each horse works out the ORM's mappings again at its first query

QUEUES = ["default"]
