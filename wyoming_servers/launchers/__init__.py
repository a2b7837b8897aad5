"""Launchers of Moxie's speech servers: upstream Wyoming servers with Moxie's defaults."""
