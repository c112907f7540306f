"""`python -m events.cli`: the infobip-events command."""

from events.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
