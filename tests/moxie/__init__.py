"""Tests of the Moxie integration, through Home Assistant and a real MQTT broker."""
