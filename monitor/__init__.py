"""examnet's core: inventory, calendar, scheduling, judging, storage, metrics, CLI."""
