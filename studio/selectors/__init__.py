"""Reads of the studio app, one module per topic (services/ holds the writes):
``people`` (the People page), ``keys`` (a user's own API keys, on the account page)
and ``audit`` (the audit trail, filtered, paged and exported)."""
