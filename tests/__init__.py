"""Tests for Moxie for Home Assistant."""
