"""Home Assistant custom integrations shipped by this repository (HACS installs moxie)."""
