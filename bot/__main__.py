"""`python -m bot` is the same as the `jindianzi` command."""

from bot.cli import main

raise SystemExit(main())
