"""Pack colour photos small enough to carry to another machine (the device machine takes 64 MiB a call).

    python scripts/pack_photos.py SRC [SRC ...] --out DIR|FILE.tar [--size 224] [--crop | --no-crop]
                                  [--format webp] [--quality 80] [--exclude-source NAME ...]
                                  [--only-source NAME ...] [--first N] [--shards N] [--shard K]

Each photo is resized (area) to short side SIZE and, with --crop (the default), centre-cropped to SIZE x
SIZE: training crops of --image-size SIZE then see the whole packed square. --no-crop keeps the whole
picture (for validation photos, which are scored whole). File stems are kept, so the data source that
`filmcolor train --holdout-source` and `eval --by-source` read from the name survives. --only-source
keeps the photos of those sources alone; --first N the first N (in name order). With --shards N only
shard K of a seeded permutation is written (every N-th photo of it), so that N calls can each carry a
share. An --out ending in .tar is written as one tar file of the photos (the device machine's 64 MiB
are counted in disk blocks, which thousands of small files waste). Prints what it wrote. Measured on
../shared/data/photos/train (8,502 photos, 183 MB): at 224 px, WebP quality 80 is about 8 KB a photo,
JPEG quality 85 about 12.6 KB.
"""

from __future__ import annotations

import argparse
import io
import tarfile
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np

from filmcolor.evaluate import source_of
from filmcolor.imageio import list_images
from filmcolor.metrics import analysis_shape

ENCODE_FLAGS = {"webp": cv2.IMWRITE_WEBP_QUALITY, "jpg": cv2.IMWRITE_JPEG_QUALITY}


def packed(bgr: np.ndarray, size: int, crop: bool) -> np.ndarray:
    """``bgr`` at short side ``size`` (never enlarged), centre-cropped to a square when ``crop``."""
    h, w = analysis_shape(*bgr.shape[:2], size)
    if (h, w) != bgr.shape[:2]:
        bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
    if crop:
        h, w = bgr.shape[:2]
        side = min(h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        bgr = bgr[y0:y0 + side, x0:x0 + side]
    return bgr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--crop", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--format", choices=sorted(ENCODE_FLAGS), default="webp")
    parser.add_argument("--quality", type=int, default=80)
    parser.add_argument("--exclude-source", action="append", default=[], metavar="NAME")
    parser.add_argument("--only-source", action="append", default=[], metavar="NAME")
    parser.add_argument("--first", type=int, default=0, metavar="N")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--shard", type=int, default=0)
    args = parser.parse_args()
    if not 0 <= args.shard < args.shards:
        parser.error(f"--shard must be in 0..{args.shards - 1}")
    paths = [p for p in list_images(args.sources) if source_of(p) not in args.exclude_source
             and (not args.only_source or source_of(p) in args.only_source)]
    if args.first:
        paths = sorted(paths, key=lambda p: p.name)[: args.first]
    order = np.random.default_rng(0).permutation(len(paths))
    chosen = [paths[i] for i in order[args.shard::args.shards]]
    archive = None
    if args.out.suffix == ".tar":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        archive = tarfile.open(args.out, "w")
    else:
        args.out.mkdir(parents=True, exist_ok=True)
    written = skipped = size_bytes = 0
    for path in chosen:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            skipped += 1
            continue
        ok, data = cv2.imencode(f".{args.format}", packed(bgr, args.size, args.crop),
                                [ENCODE_FLAGS[args.format], args.quality])
        if not ok:
            skipped += 1
            continue
        name = f"{path.stem}.{args.format}"
        if archive is None:
            (args.out / name).write_bytes(data.tobytes())
        else:
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data.tobytes()))
        written += 1
        size_bytes += len(data)
    if archive is not None:
        archive.close()
    print(f"{args.out}: {written} photos, {size_bytes / 2**20:.1f} MiB (shard {args.shard} of {args.shards}; "
          f"{skipped} unreadable skipped; {len(paths)} after --exclude-source)")


if __name__ == "__main__":
    main()
