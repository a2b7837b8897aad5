"""Launchers of Moxie's speech servers: wyoming-faster-whisper, moxie-tts or wyoming-piper."""
