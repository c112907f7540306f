"""The web console at /console: server-rendered pages over the same queries and operations
as the read API and the CLI (events/console/routes.py lists them)."""
