"""`python -m events.cli`: the infobip-events command."""

from events.cli import main

raise SystemExit(main())
