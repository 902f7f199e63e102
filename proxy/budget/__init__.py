"""Per-key budgets: how much of each work one client has taken over a time window."""
