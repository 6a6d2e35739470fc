"""The store seam of the shared runtime: migrations, the writer, SQL helpers, ids and keys.

Conn is the connection a unit of work gets; code above a service's store names this type,
not the driver's, so another backend can stand behind the same signatures."""

from __future__ import annotations

import sqlite3
from typing import TypeAlias

Conn: TypeAlias = sqlite3.Connection
Error = sqlite3.Error  # what a failing statement raises
