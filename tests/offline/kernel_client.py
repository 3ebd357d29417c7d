"""Run cells on an installed kernel through jupyter_client; print one JSON result per cell.

Not a test module: test_server_stack.py runs it with the python of the env that holds the
kernel (so jupyter_client and the kernelspec are that env's). Usage: kernel_client.py NAME CELL...
"""

from __future__ import annotations

import json
import sys

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel


def main() -> None:
    name, cells = sys.argv[1], sys.argv[2:]
    spec = KernelSpecManager().get_kernel_spec(name)
    manager, client = start_new_kernel(kernel_name=name, startup_timeout=60)  # a BlockingKernelClient
    results = []
    try:
        for code in cells:
            outputs: list[dict[str, object]] = []

            def hook(msg: dict, outputs: list = outputs) -> None:
                kind = msg["msg_type"]
                if kind in ("execute_result", "stream", "error", "display_data"):
                    outputs.append({"type": kind, **msg["content"]})

            reply = client.execute_interactive(code, output_hook=hook, timeout=30)
            results.append({"status": reply["content"]["status"], "outputs": outputs})
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps({"resource_dir": spec.resource_dir, "argv": spec.argv, "language": spec.language,
                      "display_name": spec.display_name, "results": results}))


if __name__ == "__main__":
    main()
