"""Alert rules, routing and notifiers (filled by the alerting issue)."""
