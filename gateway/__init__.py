"""Gateway: the cross-department view over the accounts, sites and cases services."""
