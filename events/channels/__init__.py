"""Channel parsers, one module per Infobip product; the registry that routes to them is
events/channels/registry.py."""
