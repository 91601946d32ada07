"""The bench's outbound proxy: tests/support's HTTP CONNECT proxy, in its own process so its relaying is not the
runner's work. `python -m bench.proxy` prints its port, then serves until it is killed."""

import threading

from tests.support.connect_proxy import CONNECTProxy


def main() -> None:
    proxy = CONNECTProxy().start()
    print(proxy.port, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
