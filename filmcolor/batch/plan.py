"""What a batch has to do: the media under IN_DIR, their mirrored output names, and which of them to colour.

Pure functions of the folder and the manifest's records: nothing here writes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import mimetypes
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from filmcolor.batch.manifest import MANIFEST_NAME, FileRecord
from filmcolor.fsutil import PARTIAL_MARK, not_a_file
from filmcolor.imageio import IMAGE_INPUT_EXTENSIONS, copy_suffix
from filmcolor.video.sequence import SCAN_EXTENSIONS, SCAN_FORMATS, frame_names, one_numbered_name
from filmcolor.video.sound import has_sound, stream_types

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
                    ".webm", ".mxf", ".dv", ".vob", ".m2ts", ".mts", ".m2v", ".3gp", ".ogv",  # MXF, DV: archives'
                    ".qt", ".f4v", ".mk3d", ".asf", ".m2t", ".3g2", ".divx", ".ogm")
# files kept beside media that no --pattern makes an input (besides text and sound, by their type): checksums,
# metadata, documents and archives
NOT_MEDIA = (".md5", ".sha1", ".sha256", ".sha512", ".crc", ".sfv", ".par2", ".mhl", ".xxh64", ".xxh3", ".xxhash",
             ".xml", ".json", ".xmp", ".yaml", ".yml", ".ini", ".log", ".nfo", ".csv", ".md", ".html", ".htm",
             ".edl", ".ale", ".cdl", ".cue", ".srt", ".vtt", ".scc", ".stl", ".ttml", ".pdf", ".doc", ".docx",
             ".xls", ".xlsx", ".zip", ".tar", ".gz", ".7z", ".rar", ".db", ".part", ".tmp", ".framemd5", ".sha224",
             ".sha384", ".xxh128", ".b3", ".blake3", ".cksum", ".asc", ".sig", ".cpl", ".pkl", ".assetmap", ".ifo",
             ".bup", ".m3u8", ".mpd", ".sup", ".idx", ".sub", ".torrent", ".rtf", ".odt", ".bak", ".thm")
# videos by their extension that batch does not take unasked (raw streams, segments, players' own): named
OTHER_VIDEO_EXTENSIONS = (".rm", ".rmvb", ".m4s", ".nsv", ".y4m", ".ivf", ".wtv", ".dvr-ms", ".mod", ".tod", ".vro",
                          ".264", ".h264", ".265", ".hevc", ".bik", ".nut", ".amv", ".fli", ".flc", ".mng")
KEPT_VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov")  # other containers become .mkv, which holds any stream
# what a file system keeps at a disk's root, unreadable to users: no footage (lost+found, Windows' own)
SYSTEM_FOLDERS = ("lost+found", "System Volume Information", "$RECYCLE.BIN", "$Recycle.Bin")
FILM_OUTPUT = ".mkv"  # a folder of frames (a film scan) becomes FOLDER.mkv
SOUND_EXTENSIONS = (".wav", ".bwf", ".w64", ".rf64", ".flac", ".aif", ".aiff", ".mka")  # a reel's soundtrack
FRAME_FOLDERS = ("auto", "film", "photos")  # what a folder of numbered frames is (--frame-folders)


@dataclass(frozen=True)
class Found:
    """A file under IN_DIR and its identity (size, mtime) when it was seen."""

    rel: str  # POSIX path under IN_DIR
    path: Path
    size: int  # a film folder: of all its frames
    mtime_ns: int  # a film folder: the latest of its frames'
    film: bool = field(default=False, kw_only=True)  # a folder of numbered frames, coloured as one film
    # a film folder: a digest of each frame's name, size and time (identity), which a frame replaced in place
    # by one of its size and an older time moves; "" for a file
    digest: str = field(default="", kw_only=True)
    # a film folder's one sound file, or the one beside a video file under its name: its soundtrack
    sound: Path | None = field(default=None, kw_only=True)
    # (size, mtime_ns) of the sound file beside a video file: part of what it is (a reel's is in size and time)
    sound_id: tuple[int, int] | None = field(default=None, kw_only=True)
    note: str = field(default="", kw_only=True)  # what was found but not used (two sound files)
    # why it cannot be coloured, known without opening it (a dangling link, a pipe): failed as it is found
    problem: str = field(default="", kw_only=True)

    def same_as(self, record: FileRecord | None) -> bool:
        """Whether ``record`` was made of this input as it is now: the same size and times (a record from
        before film digests were kept has none: its size and latest time say)."""
        return (record is not None and (record.size, record.mtime_ns) == (self.size, self.mtime_ns)
                and record.sound == (list(self.sound_id) if self.sound_id else None)
                and (not record.digest or record.digest == self.digest))

    @property
    def latest_ns(self) -> int:
        """When the input (its sound file too) last changed."""
        return max(self.mtime_ns, self.sound_id[1] if self.sound_id else 0)


@dataclass(frozen=True)
class FileJob(Found):
    """One input to colour: a found file, where its output goes, and what kind of file it is."""

    output_rel: str  # POSIX path under OUT_DIR
    output: Path
    kind: str  # video | image

    def record(self, status: str, **values: Any) -> FileRecord:
        values = {"output": self.output_rel, **values}  # "": no output (a file with nothing to colour)
        return FileRecord(path=self.rel, size=self.size, mtime_ns=self.mtime_ns, status=status,
                          sound=list(self.sound_id) if self.sound_id else None, kind=self.kind,
                          digest=self.digest, **values)


@dataclass
class Plan:
    jobs: list[FileJob] = field(default_factory=list)  # to colour, in order
    skipped: list[FileRecord] = field(default_factory=list)  # done before and unchanged
    refused: list[FileRecord] = field(default_factory=list)  # failed: the output is someone else's file
    # done before and unchanged, recorded before film digests were kept: the same with the digest, so that a
    # frame replaced later is seen (plan.identity)
    upgraded: list[FileRecord] = field(default_factory=list)


def file_kind(path: str | Path) -> str:
    return "image" if Path(path).suffix.lower() in IMAGE_INPUT_EXTENSIONS else "video"


def output_rel(rel: str, film: bool = False, kept: tuple[str, ...] = KEPT_VIDEO_EXTENSIONS) -> str:
    """Mirrored output path: images (those we cannot write as their format's: ``copy_suffix``) and videos in
    a container of ``kept`` (of .mp4/.mkv/.mov, those that hold the --codec) keep their name; other videos,
    and folders of frames, become .mkv."""
    pure = PurePosixPath(rel)
    if film:
        return rel + FILM_OUTPUT
    if file_kind(rel) == "image":
        return str(pure.with_suffix(copy_suffix(pure.suffix)))
    if pure.suffix.lower() in kept:
        return rel
    return str(pure.with_suffix(".mkv"))


def is_film_folder(names: list[str], frame_folders: str = "auto") -> bool:
    """Whether a folder holding the files ``names`` is a film scan, coloured as one film: its film scanner's
    frames (DPX, Cineon, OpenEXR) numbered under one name, or, with ``frame_folders`` "film", its pictures
    all numbered under one name. A folder of photos named by a camera (IMG_0001.jpg, ...) is numbered too:
    only "film" makes those a film; and one stray .exr among photos is no film."""
    pictures = frame_names(names)
    if not pictures or frame_folders == "photos":
        return False
    scans = [n for n in pictures if Path(n).suffix.lower() in SCAN_EXTENSIONS]
    return one_numbered_name(scans) or (frame_folders == "film" and one_numbered_name(pictures))


def sounds_in(names: list[str]) -> list[str]:
    """The sound files among a film folder's files ``names``: one is the reel's soundtrack."""
    return sorted(n for n in names if Path(n).suffix.lower() in SOUND_EXTENSIONS and not n.startswith("."))


def files_in(folder: Path) -> list[str]:
    """The names of the regular files in ``folder`` (not its folders, even one named like a frame)."""
    with os.scandir(folder) as entries:
        return [e.name for e in entries if _is_file(e)]


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:  # a link that loops or may not be followed: no file to read (discover says why)
        return False


def identity(path: Path, film: bool = False) -> tuple[int, int, str]:
    """(size, modification time in ns, "") of a file; of a film folder, its frames' and sound's total size, the
    latest of their times and the folder's own (which a frame renamed, swapped, added or removed moves, even
    when copied with its old time), and a digest of each one's name, size and time (which a frame copied
    over one of its size with an older time, `cp -p`, moves): what tells an input changed, or is still
    being written. OSError when a file is gone; a film folder's frame that is no file to read (a dangling
    link, a pipe) counts as nothing here: ``discover`` fails the reel by it."""
    if not film:
        st = path.stat()
        return st.st_size, st.st_mtime_ns, ""
    names = files_in(path)
    sounds = sounds_in(names)
    parts = sorted(frame_names(names)) + (sounds if len(sounds) == 1 else [])  # by name, not in the disk's order
    size, latest = 0, path.stat().st_mtime_ns
    digest = hashlib.blake2b(digest_size=8)
    for name in parts:
        try:
            st = (path / name).stat()
        except OSError:
            continue
        size, latest = size + st.st_size, max(latest, st.st_mtime_ns)
        digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return size, latest, digest.hexdigest()


def discover(in_dir: Path, patterns: Iterable[str] = (), exclude: Path | None = None, frame_folders: str = "auto",
             passed_over: dict[str, str] | None = None) -> list[Found]:
    """Files (and film folders: ``is_film_folder``) under ``in_dir`` to colour, sorted; hidden files and
    folders (and ``exclude``) are skipped. ``passed_over`` gets a line for each folder whose film scan is left
    alone (--frame-folders photos: its frames are no photos), keyed by the folder."""
    patterns = tuple(patterns)
    lowered = tuple(p.lower() for p in patterns)  # a camera's card says A001.MOV, an archive's list *.mov
    wanted = VIDEO_EXTENSIONS + IMAGE_INPUT_EXTENSIONS
    exclude_resolved = exclude.resolve() if exclude is not None else None
    found: list[Found] = []

    def matches(name: str, rel: str) -> bool:
        """As written, or in lower case (lower() keeps most names' length, where casefold() makes ß two letters
        and a '?' then misses; a class like [!a-z] still means what it says of the name as written)."""
        return any(fnmatch.fnmatchcase(n, p) for n in (name, rel) for p in patterns) or \
            any(fnmatch.fnmatchcase(n.lower(), p) for n in (name, rel) for p in lowered)

    def may_hold(rel: str) -> bool:
        """Whether a folder may hold files the patterns take: any pattern of a name alone ('*.mp4'), or one
        whose folders begin as ``rel`` does ('cam1/*.mp4' for cam1, 'a/b/*' for a)."""
        if not patterns:
            return True
        parts = rel.split("/")
        for pattern in patterns + lowered:
            folders = pattern.split("/")[:-1]
            if not folders or all(fnmatch.fnmatchcase(p, f) or fnmatch.fnmatchcase(p.lower(), f)
                                  for p, f in zip(parts, folders, strict=False)):
                return True
        return False

    unreadable: list[OSError] = []
    other_videos: dict[tuple[str, str], list[str]] = {}  # (folder, extension) -> videos batch does not take
    for root, dirs, files in os.walk(in_dir, onerror=unreadable.append):
        root_path = Path(root)
        linked = [d for d in dirs if (root_path / d).is_symlink() and not d.startswith(".")]
        if passed_over is not None:  # not followed: the same footage twice, OUT_DIR or a loop can lie behind one
            for d in linked:
                rel = (root_path / d).relative_to(in_dir).as_posix()
                target = (root_path / d).resolve()
                inside = target.is_relative_to(in_dir.resolve()) and target != in_dir.resolve()
                advice = (f"its folder, {target.relative_to(in_dir.resolve()).as_posix()}, is coloured under "
                          "its own name" if inside else "give that folder to a batch of its own")
                if may_hold(rel):
                    link = os.readlink(root_path / d)
                    passed_over[rel] = f"{rel}: a link to a folder ({link}), not followed; {advice}"
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in linked
                         and (exclude_resolved is None or (root_path / d).resolve() != exclude_resolved))
        if MANIFEST_NAME in files and root_path != in_dir:  # another batch's output folder: colour, not footage
            rel = root_path.relative_to(in_dir).as_posix()
            if passed_over is not None and may_hold(rel):
                passed_over[rel] = (f"{rel}: the output folder of a filmcolor batch (it holds {MANIFEST_NAME}), "
                                    "not coloured again")
            dirs[:] = []
            continue
        reel: set[str] = set()  # a film folder's frames and sound files: the film's, not inputs of their own
        if passed_over is not None and frame_folders == "photos" and is_film_folder(files):
            rel = root_path.relative_to(in_dir).as_posix()
            if not patterns or matches(root_path.name, rel):
                shown = str(in_dir) if root_path == in_dir else rel
                advice = (f"colour it with 'filmcolor video {in_dir} -o FILM.mkv'" if root_path == in_dir
                          else "use --frame-folders auto or film")  # (auto refuses IN_DIR as a reel)
                line = _scan_not_coloured(shown, [n for n in frame_names(files)
                                                  if not (patterns and matches(n, f"{rel}/{n}"))], advice)
                if line:
                    passed_over[shown] = line
        if root_path != in_dir and is_film_folder(files, frame_folders):
            sounds = sounds_in(files)
            reel = set(frame_names(files)) | set(sounds)
            rel = root_path.relative_to(in_dir).as_posix()
            if not patterns or matches(root_path.name, rel) or any(matches(n, f"{rel}/{n}") for n in reel):
                # a frame that is a pipe would hold the reel's reading for ever; a dangling link ends it early
                # (the listing says which are regular files: only the others are asked why, one stat each)
                try:
                    regular = set(files_in(root_path))
                    odd = next((n for n in sorted(frame_names(files))
                                if n not in regular and not_a_file(root_path / n)), None)
                    size, mtime_ns, digest = identity(root_path, film=True)
                    found.append(Found(rel, root_path, size, mtime_ns, film=True, digest=digest,
                                       sound=root_path / sounds[0] if len(sounds) == 1 else None,
                                       note=f"{len(sounds)} sound files ({', '.join(sounds)}): none taken as "
                                            "the soundtrack; keep one in the folder" if len(sounds) > 1 else "",
                                       problem=f"{not_a_file(root_path / odd)}; the reel cannot be read whole"
                                       if odd else ""))
                except OSError:  # the folder vanished meanwhile: found again on the next run
                    pass
        beside = {name: sounds_beside(name, files) for name in files if Path(name).suffix.lower() in VIDEO_EXTENSIONS}
        sidecars = set().union(*beside.values())  # a video's sound files: its, not inputs of their own
        for name in sorted(files):
            if name.startswith(".") or PARTIAL_MARK in name or name in reel or name in sidecars:
                continue
            path = root_path / name
            rel = path.relative_to(in_dir).as_posix()
            if patterns:
                if not matches(name, rel) or not (_maybe_media(name) or _named_by(patterns, name)):
                    continue
            elif path.suffix.lower() not in wanted:
                if _video_by_type(name):  # (a camera's own extension: said, once a folder and extension)
                    other_videos.setdefault((Path(rel).parent.as_posix(), path.suffix), []).append(rel)
                continue
            if path.suffix.lower() == ".mxf" and os.path.isfile(path) and _sound_alone(path):  # OP-Atom's sound
                if passed_over is not None:
                    passed_over[rel] = (f"{rel}: sound alone (an MXF OP-Atom clip's audio track), not coloured; "
                                        "colour its picture's .mxf with --sound for a film with it")
                continue
            problem = not_a_file(path)
            if problem is None:  # vanished meanwhile: found again on the next run if it comes back
                continue
            try:
                size, mtime_ns, _ = identity(path)
            except OSError:
                try:
                    size, mtime_ns = 0, path.lstat().st_mtime_ns
                except OSError:
                    size, mtime_ns = 0, 0
            # (a pipe is never opened: not even to ask whether it has sound of its own)
            sound, note = _sound_beside(path, beside.get(name, [])) if not problem else (None, "")
            found.append(Found(rel, path, size, mtime_ns, sound=sound, sound_id=sound_identity(sound), note=note,
                               problem=problem))
    if passed_over is not None:
        for (folder, suffix), names in other_videos.items():
            where = f"{folder}/*{suffix}" if folder != "." else f"*{suffix}"
            one = names[0] if len(names) == 1 else f"{len(names)} files, {names[0]} ..."
            passed_over[where] = (f"{where}: videos of an extension batch does not take unasked ({one}); colour "
                                  f"them with a batch of their own, --pattern '*{suffix}'")
    for err in unreadable:  # a folder of footage that cannot be listed is footage not coloured: said, and failed
        where = Path(err.filename) if err.filename else in_dir
        rel = where.relative_to(in_dir).as_posix() if where.is_relative_to(in_dir) else ""
        if rel and rel != "." and where.name not in SYSTEM_FOLDERS and may_hold(rel):
            found.append(Found(rel, where, 0, 0, problem=f"{where}: cannot read this folder ({err.strerror or err});"
                                                         " its files are not coloured"))
    return sorted(found, key=lambda f: f.rel) if unreadable else found


def _named_by(patterns: tuple[str, ...], name: str) -> bool:
    """Whether a pattern names ``name``'s extension itself ('*.ogg', '*.og?' for an Ogg Theora film): it is then
    meant. A pattern whose last part ends in '*' names no extension."""
    suffix = Path(name).suffix.lower()
    for pattern in patterns:
        last = pattern.rsplit("/", 1)[-1].lower()
        if suffix and "." in last and not last.endswith("*") and fnmatch.fnmatchcase(suffix, last[last.rindex("."):]):
            return True
    return False


_SOUND_ALONE: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime_ns) -> an MXF holds sound alone


def _sound_alone(path: Path) -> bool:
    """Whether an MXF file holds sound and no picture (an OP-Atom clip's audio track), kept per file state, so
    that a --watch scan opens no file it has seen unchanged."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SOUND_ALONE:
        kinds = stream_types(path, header_only=True)
        _SOUND_ALONE[key] = "video" not in kinds and "audio" in kinds
    return _SOUND_ALONE[key]


def _video_by_type(name: str) -> bool:
    """Whether ``name`` is a video's not one of ours: by OTHER_VIDEO_EXTENSIONS, or the system's table of types
    (which varies from machine to machine: it calls .rm sound)."""
    suffix = Path(name).suffix.lower()
    return suffix in OTHER_VIDEO_EXTENSIONS or (mimetypes.guess_type(name, strict=False)[0] or "").startswith("video/")


def _maybe_media(name: str) -> bool:
    """Whether a file a --pattern matches may be a video or a picture of a kind not listed (a pattern is how
    to colour those): not when its name says text, sound, a document or a checksum (reel2.md5 beside reel2.mov)."""
    suffix = Path(name).suffix.lower()
    if suffix in VIDEO_EXTENSIONS + IMAGE_INPUT_EXTENSIONS:
        return True
    kind = (mimetypes.guess_type(name, strict=False)[0] or "").split("/")[0]
    return kind not in ("text", "audio") and suffix not in NOT_MEDIA + SOUND_EXTENSIONS


def sound_identity(sound: Path | None) -> tuple[int, int] | None:
    """(size, mtime_ns) of a video's sound file; None when there is none, or it cannot be read (a dangling link:
    colouring then says so)."""
    try:
        st = sound.stat() if sound is not None else None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if st else None


def _sound_beside(video: Path, sounds: list[str]) -> tuple[Path | None, str]:
    """(the soundtrack, a note on sound files not taken) of a video file with the sound files ``sounds`` named
    as it is: one is its soundtrack when it has no sound of its own."""
    if not sounds:
        return None, ""
    if len(sounds) > 1:
        return None, (f"{len(sounds)} sound files beside it ({', '.join(sounds)}): none taken as its soundtrack; "
                      "keep one")
    if has_sound(video):
        return None, f"{sounds[0]} beside it not taken as its soundtrack: it has sound of its own"
    return video.parent / sounds[0], ""


def sounds_beside(video: str, names: list[str]) -> list[str]:
    """The sound files among ``names`` named as the video file ``video`` is (reel1.mov: reel1.wav), which is
    then a picture whose sound was transferred apart: one is its soundtrack, when it has none of its own."""
    stem = Path(video).stem.casefold()  # Reel2.WAV beside reel2.mov: a disk that ignores case holds them so
    return sorted(n for n in names if Path(n).stem.casefold() == stem and Path(n).suffix.lower() in SOUND_EXTENSIONS
                  and not n.startswith("."))


def _scan_not_coloured(folder: str, names: list[str], advice: str) -> str:
    """The line that says a folder's film-scan frames ``names`` (those no --pattern takes one by one) are not
    coloured under --frame-folders photos, and what to do instead; "" when there are none."""
    scans = [n for n in names if Path(n).suffix.lower() in SCAN_EXTENSIONS]
    if not scans:
        return ""
    kind = SCAN_FORMATS[Path(scans[0]).suffix.lower()]  # a reel's frames share one extension
    return (f"{folder}/: {len(scans)} {kind} frame{'s' if len(scans) > 1 else ''} not coloured: --frame-folders "
            f"photos takes numbered frames as photos, and {kind} is no photo format; {advice}")


def _free_output(item: Found, in_dir: Path, taken: dict[str, str],
                 kept: tuple[str, ...] = KEPT_VIDEO_EXTENSIONS) -> str:
    """``item``'s mirrored output name, or, when another input has it or it is an input itself (clip.avi beside
    clip.mkv, a reel folder 'a' beside a video 'a.mkv'), the first free of NAME.mkv, NAME-2.mkv, ...; for a
    photo (scan.jpf beside scan.jp2), of scan-2.jp2, scan-3.jp2, ..."""
    def free(name: str) -> bool:
        return name not in taken and (name == item.rel or not _exists(in_dir / name))

    first = output_rel(item.rel, item.film, kept)
    if free(first):
        return first
    stem = item.rel if item.film else str(PurePosixPath(item.rel).with_suffix(""))
    if not item.film and file_kind(item.rel) == "image":  # scan.jpf beside scan.jp2: scan-2.jp2
        suffix = PurePosixPath(first).suffix
        return next(name for name in (f"{stem}-{n}{suffix}" for n in itertools.count(2)) if free(name))
    candidates = itertools.chain([f"{item.rel}.mkv"], (f"{stem}-{n}.mkv" for n in itertools.count(2)))
    return next(name for name in candidates if free(name))


def _exists(path: Path) -> bool:
    """Path.exists, with a name too long to exist (a 253-byte reel's FOLDER.mkv) as none: it raised, and one
    such name stopped the whole batch, on every rerun (a review); writing that file fails it alone."""
    try:
        return path.exists()
    except OSError:
        return False


def is_finished(record: FileRecord | None, found: Found, out_dir: Path) -> bool:
    """Done before, input unchanged (size and mtime), and the output still there."""
    return (record is not None and record.status == "done" and record.size == found.size
            and found.same_as(record) and _exists(out_dir / record.output))


def plan(found: list[Found], records: dict[str, FileRecord], in_dir: Path, out_dir: Path, force: bool = False,
         overwrite: bool = False, skip_failed: bool = False, kept: tuple[str, ...] = KEPT_VIDEO_EXTENSIONS) -> Plan:
    """Sort ``found`` against the manifest's ``records``: skip what is done, refuse to replace outputs this
    batch did not write (unless ``force`` or ``overwrite``), and, with ``skip_failed``, leave unchanged
    files that failed before (--watch does not retry them on every scan). Videos keep their container when
    it is one of ``kept`` (output_rel)."""
    result = Plan()
    done = {item.rel for item in found if not force and is_finished(records.get(item.rel), item, out_dir)}
    taken: dict[str, str] = {records[rel].output: rel for rel in done}  # output -> input; the finished first
    # outputs this batch wrote, for any input: one whose input changed name or was replaced (clip.avi's clip.mkv,
    # then a clip.mkv beside it) is its own to replace, not someone else's file
    ours = {record.output for record in records.values() if record.output}
    for item in found:
        record = records.get(item.rel)
        if item.rel in done:
            result.skipped.append(record)  # type: ignore[arg-type]
            if item.digest and not record.digest:  # type: ignore[union-attr]
                result.upgraded.append(replace(record, digest=item.digest))  # type: ignore[type-var]
            continue
        if (skip_failed and record is not None and record.status == "failed"
                and item.same_as(record)):
            continue
        kind = "video" if item.film else file_kind(item.rel)
        if item.problem:  # never opened (a pipe would wait for a writer): failed, with no output, booking no name
            result.refused.append(FileJob(item.rel, item.path, item.size, item.mtime_ns, "", out_dir, kind,
                                          film=item.film, sound_id=item.sound_id, digest=item.digest)
                                  .record("failed", error=item.problem))  # (same_as it on the next scan)
            continue
        out_rel = _free_output(item, in_dir, taken, kept)
        taken[out_rel] = item.rel
        job = FileJob(item.rel, item.path, item.size, item.mtime_ns, out_rel, out_dir / out_rel, kind,
                      film=item.film, sound=item.sound, sound_id=item.sound_id, note=item.note, digest=item.digest)
        owned = out_rel in ours
        if _exists(job.output) and not (owned or force or overwrite):
            reason = (f"{job.output}: output exists and was not written by this batch; "
                      "pass --overwrite or --force to replace it")
            # no output: the file there stays someone else's, and the next run refuses it again
            result.refused.append(replace(job.record("failed", error=reason), output=""))
            continue
        result.jobs.append(job)
    return result
