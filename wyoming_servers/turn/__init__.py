"""moxie-turn: Moxie's turn-taking in front of its Whisper server."""
