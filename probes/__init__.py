"""Probe kinds: each module turns one target and its settings into an observation."""
