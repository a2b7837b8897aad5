"""Tests of moxie-tts, Moxie's fast Wyoming TTS server."""
