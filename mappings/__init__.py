"""Pure translations (no I/O, no clock, no settings). Imports nothing from the rest of dualcode."""
