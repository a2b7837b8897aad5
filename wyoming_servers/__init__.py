"""Moxie's companion services (speaker, launchers for upstream Wyoming servers)."""
