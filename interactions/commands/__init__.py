"""One module per command group; definitions.py holds the slash commands as data."""
