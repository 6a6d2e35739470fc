"""The `netnet` command line."""
