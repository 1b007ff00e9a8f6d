"""Reads of the studio app, one module per topic (services/ holds the writes):
``people`` (the People and account pages) and ``audit`` (the audit trail, filtered,
paged and exported)."""
