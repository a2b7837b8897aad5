"""moxie-file-mic: a Wyoming microphone that hears WAV files, for trying Moxie without hardware."""
