#!/usr/bin/env python3
"""png_stats.py: pixel statistics of a PNG screenshot, standard library only.

Usage: png_stats.py [--color RRGGBB]... FILE.png

Prints one key=value per line:
  width, height, pixels
  non_white, non_white_percent   pixels that are not pure white
  distinct_colors                distinct RGB values
  distinct_non_gray_colors       distinct RGB values with max-min > 24
  non_gray_pixels                pixels with such a color
  color_RRGGBB                   pixels of exactly that color (per --color)

Decodes non-interlaced 8-bit grayscale, gray+alpha, RGB, RGBA and palette
images (what a headless chromium screenshot is), undoing the five PNG row
filters; alpha is composited over white. Exits 2 with a message on anything
else or on a corrupt file.
"""

import collections
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Channels per pixel for each supported color type.
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
GRAY_SPREAD = 24


class PngError(Exception):
    pass


def read_chunks(data):
    if data[:8] != SIGNATURE:
        raise PngError("not a PNG file (bad signature)")
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if len(body) != length or zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise PngError("corrupt chunk %r at offset %d" % (kind, pos))
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise PngError("truncated file (no IEND chunk)")


def unfilter(raw, width, height, bpp):
    """Returns the filtered scanlines in `raw` as one bytearray of pixels."""
    stride = width * bpp
    if len(raw) < height * (stride + 1):
        raise PngError("image data too short")
    out = bytearray(height * stride)
    previous = bytearray(stride)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += stride + 1
        if kind == 0:  # None
            pass
        elif kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    predictor = a
                elif pb <= pc:
                    predictor = b
                else:
                    predictor = c
                line[i] = (line[i] + predictor) & 0xFF
        else:
            raise PngError("bad filter type %d in row %d" % (kind, y))
        out[y * stride:(y + 1) * stride] = line
        previous = line
    return out


def decode(path):
    """Returns (width, height, rgb) with rgb 3 bytes per pixel."""
    with open(path, "rb") as f:
        data = f.read()
    header = None
    palette = b""
    idat = []
    for kind, body in read_chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise PngError("no IHDR chunk")
    width, height, depth, color_type, _, _, interlace = header
    if depth != 8 or color_type not in CHANNELS:
        raise PngError("unsupported: bit depth %d, color type %d"
                       % (depth, color_type))
    if interlace != 0:
        raise PngError("unsupported: interlaced image")
    bpp = CHANNELS[color_type]
    pixels = unfilter(zlib.decompress(b"".join(idat)), width, height, bpp)

    if color_type == 2:
        return width, height, bytes(pixels)
    rgb = bytearray(width * height * 3)
    for i in range(width * height):
        p = pixels[i * bpp:(i + 1) * bpp]
        if color_type == 0:
            r = g = b = p[0]
            alpha = 255
        elif color_type == 4:
            r = g = b = p[0]
            alpha = p[1]
        elif color_type == 3:
            if 3 * p[0] + 3 > len(palette):
                raise PngError("palette index %d out of range" % p[0])
            r, g, b = palette[3 * p[0]:3 * p[0] + 3]
            alpha = 255
        else:
            r, g, b, alpha = p
        if alpha != 255:  # composite over white
            r = (r * alpha + 255 * (255 - alpha)) // 255
            g = (g * alpha + 255 * (255 - alpha)) // 255
            b = (b * alpha + 255 * (255 - alpha)) // 255
        rgb[3 * i:3 * i + 3] = bytes((r, g, b))
    return width, height, bytes(rgb)


def main(argv):
    colors = []
    args = argv[1:]
    path = None
    while args:
        arg = args.pop(0)
        if arg == "--color" and args:
            value = args.pop(0).lstrip("#").lower()
            if len(value) != 6:
                print("png_stats: bad color %r (want RRGGBB)" % value,
                      file=sys.stderr)
                return 2
            colors.append(value)
        elif path is None and not arg.startswith("--"):
            path = arg
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if path is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        width, height, rgb = decode(path)
    except (PngError, OSError, zlib.error, struct.error) as e:
        print("png_stats: %s: %s" % (path, e), file=sys.stderr)
        return 2

    counts = collections.Counter(rgb[i:i + 3] for i in range(0, len(rgb), 3))
    pixels = width * height
    non_white = pixels - counts.get(b"\xff\xff\xff", 0)
    non_gray = {c: n for c, n in counts.items()
                if max(c) - min(c) > GRAY_SPREAD}
    print("width=%d" % width)
    print("height=%d" % height)
    print("pixels=%d" % pixels)
    print("non_white=%d" % non_white)
    print("non_white_percent=%.2f" % (100.0 * non_white / pixels if pixels else 0))
    print("distinct_colors=%d" % len(counts))
    print("distinct_non_gray_colors=%d" % len(non_gray))
    print("non_gray_pixels=%d" % sum(non_gray.values()))
    for color in colors:
        print("color_%s=%d" % (color, counts.get(bytes.fromhex(color), 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
