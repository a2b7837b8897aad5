"""Real protocol peers of Moxie, for the tests and the benchmarks (not shipped in the wheel).

What Moxie talks to, run for real on loopback: a Mosquitto broker and an MQTT client on it
(`broker`, `mqtt`), the loopback Ollama (`ollama_server`), Whisper and Piper started by Moxie's
launchers, moxie-tts and the speaker as processes (`voices`, `moxie_tts`, `speaker`), a Wyoming
microphone and wake word service (`mic`, `wake`), joe's real voice and a tiny generated Piper
voice (`voices`, `tiny_voice`), and the process helpers they share (`process`). Also the Moxie
config entries that tests and benchmarks load into Home Assistant (`entries`).

Plain classes and functions only: the pytest fixtures built on them live in the tests'
conftest.py files. The package sits at the repository root, next to `tests/` and `bench/`;
pyproject's `[tool.setuptools.packages.find]` keeps it out of the wheel.
"""
