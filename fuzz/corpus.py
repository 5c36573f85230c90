"""Writes the seed corpora: `python -m fuzz.corpus var/fuzz` (kept out of git)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from fuzz.seeds import seed_images


def write(folder: Path) -> None:
    decode, route = folder / "decode", folder / "route"
    framing, shapes = folder / "framing", folder / "shapes"
    for target in (decode, route, framing, shapes):
        target.mkdir(parents=True, exist_ok=True)
    for name, image in seed_images():
        (decode / f"{name}.raw").write_bytes(b"\x00" + image)
        (decode / f"{name}.b64").write_bytes(b"\x01" + image)
        (route / f"{name}.json").write_bytes(b"\x00\x01" + image)
        (route / f"{name}.url").write_bytes(b"\x00\x02" + image)
        if len(image) < 2000:  # a body kind, a framing, a length, then the body
            (framing / f"{name}.raw").write_bytes(b"\x01\x00\xff\xff" + image)
    for number, (width, height) in enumerate([(540, 420), (1, 65535), (65535, 1), (20, 400)]):
        (shapes / f"{number}.raw").write_bytes(bytes([number, 0])
                                               + width.to_bytes(4, "little")
                                               + height.to_bytes(4, "little") + b"\x07")
    body = json.dumps({"imgb64_dirty": base64.b64encode(b"x").decode(), "k": [1, {"a": None}]})
    (decode / "body.json").write_bytes(b"\x03" + body.encode())
    (route / "body.json").write_bytes(b"\x00\x00" + body.encode())
    (route / "surrogates.json").write_bytes(b"\x00\x03" + "\ud800a".encode("utf-16-le",
                                                                            "surrogatepass"))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "var/fuzz"))
