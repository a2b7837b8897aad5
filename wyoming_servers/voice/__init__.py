"""moxie-tts: Moxie's fast Wyoming TTS server on piper-tts."""
