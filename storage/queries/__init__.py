"""Named queries, one module per aggregate, the same on SQLite and PostgreSQL (dialect
differences are handled in these modules and nowhere else). Import the module you use, e.g.
``from storage.queries import outbox as outbox_q``: this package re-exports nothing.

- raw: the raw inbox
- messages: messages and events, timelines, the read API's lists
- outbox: actions for Membrane
- optouts: suppression list, audit trail, reviews
- decisions: rule decisions, tags, the history the rules read
- reconcile: stale messages, runs, the leader lock
- metrics: the state /metrics reads at each scrape (backlog, outbox depth, last run)
- calls: calls, number lookups, masking sessions
"""
