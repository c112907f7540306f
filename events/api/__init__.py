"""The web layer: the webhook receiver and the API, one module per concern (see app.py)."""
