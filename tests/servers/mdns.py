"""Browse real mDNS for Wyoming services, in a child process (tests run with sockets limited)."""

from __future__ import annotations

import json
import subprocess
import sys

_BROWSER = """
import json, sys, time
from zeroconf import ServiceBrowser, ServiceListener, Zeroconf

wanted, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
found = {}

class Listener(ServiceListener):
    def add_service(self, zc, type_, name):
        info = zc.get_service_info(type_, name)
        if info is not None and name == wanted:
            found.update(addresses=info.parsed_addresses(), port=info.port, name=name)

    update_service = add_service

    def remove_service(self, zc, type_, name):
        pass

zc = Zeroconf()
ServiceBrowser(zc, "_wyoming._tcp.local.", Listener())
while not found and time.monotonic() < deadline:
    time.sleep(0.1)
zc.close()
print(json.dumps(found))
"""


def browse(name: str, timeout: float = 20.0) -> dict[str, object]:
    """The announcement of `<name>._wyoming._tcp.local.` ({} when none came in timeout)."""
    full = f"{name}._wyoming._tcp.local."
    out = subprocess.run(
        [sys.executable, "-c", _BROWSER, full, str(timeout)],
        check=True,
        capture_output=True,
        timeout=timeout + 30,
    )
    found: dict[str, object] = json.loads(out.stdout)
    return found
