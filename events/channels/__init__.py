"""Channel parsers, one module per Infobip product, each declaring its channel in a `SPEC`
(spec.py); the registry that lists them and derives every table is registry.py. What the
parsers share: event.py (the records), values.py (reading Infobip's values), status.py (status,
error and price), body.py (JSON and XML), envelope.py (results[] and single objects), shared.py
(the item shapes several products share), auto.py (/webhooks/auto)."""
