"""RQ job functions. Each takes ids, opens its own session and calls services."""
