"""Gateway: cross-department status (placeholder until the gateway issue lands)."""
