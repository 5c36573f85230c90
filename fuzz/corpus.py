"""Writes the seed corpora: `python -m fuzz.corpus var/fuzz` (kept out of git)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from fuzz.seeds import seed_images


def write(folder: Path) -> None:
    decode, route = folder / "decode", folder / "route"
    decode.mkdir(parents=True, exist_ok=True)
    route.mkdir(parents=True, exist_ok=True)
    for name, image in seed_images():
        (decode / f"{name}.raw").write_bytes(b"\x00" + image)
        (decode / f"{name}.b64").write_bytes(b"\x01" + image)
        (route / f"{name}.json").write_bytes(b"\x00\x01" + image)
        (route / f"{name}.url").write_bytes(b"\x00\x02" + image)
    body = json.dumps({"imgb64_dirty": base64.b64encode(b"x").decode(), "k": [1, {"a": None}]})
    (decode / "body.json").write_bytes(b"\x03" + body.encode())
    (route / "body.json").write_bytes(b"\x00\x00" + body.encode())
    (route / "surrogates.json").write_bytes(b"\x00\x03" + "\ud800a".encode("utf-16-le",
                                                                            "surrogatepass"))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "var/fuzz"))
