#!/usr/bin/env python3
"""Uploads one file to Nook with tuspy, a real tus client, the way an interrupted client
would: the first half in 256 KiB PATCHes, then a *new* uploader that knows only the upload
URL asks the server for the offset (HEAD) and sends the rest.

Usage: tus_client.py ENDPOINT TOKEN FILE FOLDER
Prints "URL OFFSET" when done. Run by the integration test `transfer::tus_real_client_...`
when `python3 -c "import tusclient"` works (pip install tuspy).
"""

import os
import sys

from tusclient import client


def main() -> None:
    endpoint, token, path, folder = sys.argv[1:5]
    tus = client.TusClient(endpoint, headers={"Authorization": "Bearer " + token})
    size = os.path.getsize(path)
    meta = {"filename": os.path.basename(path), "path": folder}
    first = tus.uploader(path, chunk_size=256 * 1024, metadata=meta)
    first.upload(stop_at=size // 2)
    if not 0 < first.offset < size:
        sys.exit(f"first half ended at {first.offset} of {size}")
    resumed = tus.uploader(path, url=first.url, chunk_size=1024 * 1024)
    if resumed.offset != first.offset:
        sys.exit(f"HEAD says {resumed.offset}, client sent {first.offset}")
    resumed.upload()
    print(first.url, resumed.offset)


if __name__ == "__main__":
    main()
