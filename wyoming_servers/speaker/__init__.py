"""moxie-speaker: the service that speaks Moxie's MQTT speech mirror."""
