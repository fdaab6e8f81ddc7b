"""Manual measurement (not a test): how long the event loop stalls during a big download.

Run: ``.venv/bin/python tests/download/measure_loop_lag.py [MiB] [algorithms]``.
The server runs in another process so that only the client's work shares the loop; a
ticker task sleeps 1 ms in a loop and records how late it wakes up.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stagekit.download import DownloadConfig, Downloader

SERVER = """
import sys
from aiohttp import web
async def big(request):
    return web.FileResponse(sys.argv[1])
app = web.Application()
app.router.add_get("/big", big)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""


async def measure(url: str, size: int, digests: dict[str, str], temp_dir: Path) -> None:
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            start = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - start - 0.001)

    async with Downloader(DownloadConfig(), temp_dir=temp_dir) as downloader:
        for _ in range(200):  # wait for the server process to listen
            try:
                socket.create_connection(("127.0.0.1", int(url.split(":")[2][:5]))).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(ticker())
            began = time.perf_counter()
            try:
                await downloader.fetch(url, expected_digests=digests, expected_size=size)
            finally:
                done.set()
            elapsed = time.perf_counter() - began
    lags.sort()
    print(
        f"{size >> 20} MiB, {'+'.join(digests)}: {elapsed:.2f} s"
        f" ({size / elapsed / 2**20:.0f} MiB/s);"
        f" loop lag p50 {lags[len(lags) // 2] * 1e3:.2f} ms, p99"
        f" {lags[int(len(lags) * 0.99)] * 1e3:.2f} ms, max {lags[-1] * 1e3:.2f} ms"
    )


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 128
    algorithms = (sys.argv[2] if len(sys.argv) > 2 else "sha256,sha512,sha1,md5").split(",")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "big.bin"
        data = os.urandom(mib << 20)
        source.write_bytes(data)
        digests = {a: hashlib.new(a, data).hexdigest() for a in algorithms}
        del data
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(source), str(port)])
        try:
            temp_dir = Path(tmp) / "temp"
            url = f"http://127.0.0.1:{port}/big"
            asyncio.run(measure(url, mib << 20, digests, temp_dir))
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
