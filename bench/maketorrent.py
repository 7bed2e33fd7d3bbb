"""Write a private, one-tracker .torrent per file with torf: `maketorrent.py OUT TRACKER FILE...`.

Runs in bench/.venv (torf is pinned in bench/requirements.txt, apart from rp2p's packages);
prints "INFOHASH NAME" per file, for opentracker's whitelist. torf picks the piece size, as it
would for anyone making a torrent of that file.
"""

import sys
from pathlib import Path

import torf

out, tracker, *files = sys.argv[1:]
for name in files:
    path = Path(name)
    torrent = torf.Torrent(path=path, trackers=[tracker], private=True, created_by="rp2p bench")
    torrent.generate(threads=1)
    torrent.write(Path(out) / f"{path.name}.torrent", overwrite=True)
    print(torrent.infohash, path.name, torrent.piece_size, flush=True)
