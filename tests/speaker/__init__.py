"""Tests of the speaker service (wyoming_servers.speaker)."""
