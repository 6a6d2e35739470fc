"""The gateway's web dashboard (gateway/dashboard/app.py)."""
