"""``python -m fake_discord``: run the fake Discord standalone."""

from __future__ import annotations

from fake_discord.cli import main

raise SystemExit(main())
