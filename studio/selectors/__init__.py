"""Reads of the studio app, one module per topic (services/ holds the writes):
``people`` (the People page), ``keys`` (a user's own API keys, on the account page),
``audit`` (the audit trail, filtered, paged and exported) and ``workers`` (which
queues a live worker consumes)."""
