"""The text chunks of a PNG file, read without decoding the image (the figures' fingerprints).

A figure of the analysis stage carries the digest of the stage's fingerprint in a ``tEXt`` chunk
(key ``hpcrbm-inputs``, written by matplotlib's ``savefig(metadata=...)``); :func:`png_text` reads
the text chunks back and checks every chunk's CRC, so a damaged or truncated figure reads as None.
"""
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_text(path):
    """{key: value} of the ``tEXt`` chunks of the PNG file ``path``, or None when it is missing,
    not a PNG, truncated (no IEND chunk) or any chunk's CRC is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if not data.startswith(SIGNATURE):
        return None
    text, pos = {}, len(SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) < length or len(crc) < 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            return None
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            text[key.decode("latin-1")] = value.decode("latin-1")
        if kind == b"IEND":
            return text
        pos += 12 + length
    return None
