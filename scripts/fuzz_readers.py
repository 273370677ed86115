"""Fuzz every reader through the whole build: random bytes, encodings, JSON, CSV, HTML, SGML and odd files.

    flock /tmp/trainer-cpu.lock python scripts/fuzz_readers.py --seconds 60 [--seed 0] [--readers jsonl,csv]

Each round writes a folder of fuzz cases for one reader (files of random bytes, random text in random
encodings, mutated valid documents, random JSON values, CSV rows, HTML, Reuters SGML; folders,
dot-files, symbolic links inside/outside/broken, FIFOs), plus a few valid documents so that the build
has training documents, and runs `build_dataset` on it. A round fails if the build raises or if the
manifest's accounting does not hold (read = kept + rejected + deduplicated; for the one-document-per-
file readers also read = the number of entries written). Prints cases run per reader, rejects by
reason and the failures (0 expected); failing inputs are kept under --keep for a rerun. Exit 1 on any.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

from trainer.data.build import build_dataset
from trainer.data.config import DataConfig

READERS = ("scraped", "html", "jsonl", "csv", "reuters")
SUFFIX = {"scraped": ".txt", "html": ".html", "jsonl": ".jsonl", "csv": ".csv", "reuters": ".sgm"}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1251", "cp1252", "latin-1",
             "koi8-r", "iso-8859-7", "shift_jis", "gb18030", "big5", "cp437"]
ALPHABETS = ["abcdefghijklmnopqrstuvwxyz     ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()[]{}<>&#",
             "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД", "αβγδεζηθικλμνξοπρστυφχψω", "中文新闻报道经济市场政府",
             "日本語のニュース", "éèêëàâäôöûüçñßÉÀ", "\u0301\u0308\u200b\u200d\ufeff\u00a0\u2028",
             "\t\r\n\x0b\x0c", "\x00\x01\x02\x1b\x7f\x85\x9f", "😀🚀🇷🇺", "\ud800\udfff"]
WORDS = ("oil wheat bank rates profit shares tonnes yen exports talks quarter deficit minister company "
         "market government said would year prices").split()


# ---- random material -----------------------------------------------------------------------------
def random_text(rng: random.Random, n: int | None = None) -> str:
    n = rng.randint(0, 400) if n is None else n
    pools = rng.sample(ALPHABETS, rng.randint(1, 4))
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


def prose(rng: random.Random, n: int = 60) -> str:
    return " ".join(f"{rng.choice(WORDS)}{rng.randint(0, 999)}" for _ in range(n))


def encode(rng: random.Random, text: str) -> bytes:
    encoding = rng.choice(ENCODINGS)
    return text.encode(encoding, errors=rng.choice(["replace", "ignore", "surrogatepass" if "utf" in encoding
                                                                             else "replace"]))


def random_bytes(rng: random.Random) -> bytes:
    n = rng.choice([0, 1, 2, 3, 16, 200, 4096])
    return bytes(rng.randrange(256) for _ in range(n))


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Insert, delete, flip or repeat a few bytes, or cut the data short."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op, pos = rng.randrange(5), rng.randrange(len(data) + 1)
        if op == 0:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 1:
            del data[pos:pos + rng.randint(1, 30)]
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 3:
            data[pos:pos] = bytes(data[pos:pos + rng.randint(1, 60)]) * rng.randint(2, 5)
        else:
            del data[pos:]
    return bytes(data)


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**70, 1.5, 1e308, -0.0, rng.randint(-10**6, 10**6)])
    if kind in (3, 4, 5):
        return random_text(rng, rng.randint(0, 40))
    if kind in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["text", "title", "id", "date", "section", "topics", "tags", "places", "x"]):
            random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def json_line(rng: random.Random) -> str:
    choice = rng.randrange(10)
    if choice == 0:
        depth = rng.choice([50, 3000, 100_000])
        return "[" * depth + "]" * depth
    if choice == 1:
        return '{"text": "x", "id": ' + "9" * rng.choice([10, 5000]) + "}"
    if choice == 2:
        return rng.choice(['{"text": "\\ud800 lone"}', '{"text": "a\\u0000b"}', "NaN", '{"text": Infinity}',
                           '{"text": "ok", "text": 5}', "{", "", "   ", '"just a string"'])
    row = random_json(rng)
    if isinstance(row, dict) and rng.random() < 0.7:
        row["text"] = rng.choice([prose(rng, 8), random_text(rng, 30), row.get("text")])
    try:
        return json.dumps(row, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    except (ValueError, UnicodeEncodeError):
        return "{}"


def csv_text(rng: random.Random) -> str:
    header = rng.sample(["text", "title", "id", "date", "section", "topics", "tags", "places", "x", ""],
                        rng.randint(0, 6))
    if rng.random() < 0.6 and "text" not in header:
        header.append("text")
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    writer.writerow(header)
    for _ in range(rng.randint(0, 6)):
        cells = [rng.choice([prose(rng, 5), random_text(rng, 20), "", '"', "a,b", "x\ny", "[\"World\"]",
                             "[" * 300]) for _ in range(len(header) + rng.randint(-2, 2))]
        writer.writerow(cells)
    text = buf.getvalue()
    return mutate(rng, text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace") if rng.random() < 0.3 else text


def html_text(rng: random.Random) -> str:
    charset = rng.choice(["utf-8", "iso-8859-7", "windows-1251", "nonsense-charset", "utf-16", ""])
    paragraphs = "".join(f"<p>{rng.choice([prose(rng, 20), random_text(rng, 80)])}</p>" for _ in range(rng.randint(0, 4)))
    tags = "".join(rng.choice(["<div>", "</div>", "<script>", "<table><tr><td>", "<!--", "]]>", "<br/>", "&#0;",
                               "&#x110000;", "&nbsp;"]) for _ in range(rng.randint(0, 8)))
    return (f"<html><head><meta charset=\"{charset}\"><title>{random_text(rng, 10)}</title>"
            f"<meta name=\"keywords\" content=\"{random_text(rng, 15)}\"></head>"
            f"<body><article>{tags}{paragraphs}</article></body></html>")


def sgml_doc(rng: random.Random, newid: int) -> str:
    topics = "".join(f"<D>{rng.choice(['earn', 'acq', 'grain', random_text(rng, 5)])}</D>" for _ in range(rng.randint(0, 3)))
    places = "".join(f"<D>{rng.choice(['usa', 'japan', 'ussr', random_text(rng, 4)])}</D>" for _ in range(rng.randint(0, 2)))
    newid_attr = rng.choice([str(newid), str(newid), "x", "", "99999999999999999999"])
    body = rng.choice([prose(rng, 30), random_text(rng, 100), "&#3;&lt;&#99999999;&amp;"])
    kind = rng.choice(["", ' TYPE="BRIEF"', ' TYPE="UNPROC"', ' TYPE="NORM"'])
    return (f'<REUTERS TOPICS="{rng.choice(["YES", "NO"])}" LEWISSPLIT="{rng.choice(["TRAIN", "TEST", "NOT-USED"])}" '
            f'CGISPLIT="TRAINING-SET" OLDID="1" NEWID="{newid_attr}">\n'
            f"<DATE>{rng.choice(['26-FEB-1987 15:01:01.79', '31-MAR-1987 605:12:19.12', random_text(rng, 12)])}</DATE>\n"
            f"<TOPICS>{topics}</TOPICS>\n<PLACES>{places}</PLACES>\n"
            f"<TEXT{kind}>&#2;\n<TITLE>{random_text(rng, 20)}</TITLE>\n<DATELINE>PARIS, March 3 - </DATELINE>"
            f"<BODY>{body}\n Reuter\n&#3;</BODY></TEXT>\n</REUTERS>\n")


# ---- one round -----------------------------------------------------------------------------------
def valid_document(kind: str, rng: random.Random, i: int) -> bytes:
    body = prose(rng)
    if kind == "scraped":
        return f"{body}.\n\n{prose(rng, 20)}.\n".encode()
    if kind == "html":
        return f"<html><head><title>T{i}</title></head><body><article><p>{body}</p></article></body></html>".encode()
    if kind == "jsonl":
        return (json.dumps({"id": f"anchor{i}", "text": body, "topics": [["earn"], ["acq"]][i % 2]}) + "\n").encode()
    if kind == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows([["id", "text", "topics"], [f"anchor{i}", body, ["earn", "acq"][i % 2]]])
        return buf.getvalue().encode()
    return ('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + sgml_doc(random.Random(i), 100_000 + i)
            .replace('NEWID="x"', f'NEWID="{100_000 + i}"').replace('NEWID=""', f'NEWID="{100_000 + i}"')).encode("latin-1", "replace")


def fuzz_case(kind: str, rng: random.Random) -> bytes:
    """The bytes of one fuzz file for `kind`."""
    choice = rng.randrange(6)
    if choice == 0:
        return random_bytes(rng)
    if choice == 1:
        return encode(rng, random_text(rng))
    if choice == 2:
        return mutate(rng, valid_document(kind, rng, rng.randrange(1000)))
    structured = {"scraped": lambda: f"{random_text(rng, 30)}\n\n{prose(rng, 25)}\n{random_text(rng, 50)}\n",
                  "html": lambda: html_text(rng),
                  "jsonl": lambda: "\n".join(json_line(rng) for _ in range(rng.randint(1, 6))) + "\n",
                  "csv": lambda: csv_text(rng),
                  "reuters": lambda: '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'
                  + "".join(sgml_doc(rng, rng.randrange(1, 10**6)) for _ in range(rng.randint(1, 3)))}[kind]()
    return encode(rng, structured) if choice == 3 else structured.encode("utf-8", "surrogatepass")


def write_round(kind: str, folder: Path, rng: random.Random, n_cases: int) -> int:
    """Write the fuzz cases, odd entries and anchors of one round; return how many entries a
    one-document-per-file reader must account for."""
    entries = 0
    name = (lambda k: f"reut2-{k:03d}.sgm") if kind == "reuters" else (lambda k: f"case{k}{SUFFIX[kind]}")
    for k in range(n_cases):
        (folder / name(k)).write_bytes(fuzz_case(kind, rng))
        entries += 1
    if kind != "reuters":      # odd entries the listing must account for, never follow or open
        odd = rng.sample(["dir", "dot", "fifo", "link_in", "link_out", "broken", "name"], rng.randint(0, 3))
        outside = folder.parent / f"outside{SUFFIX[kind]}"
        outside.write_bytes(valid_document(kind, rng, 999))
        for entry in odd:
            path = folder / f"odd-{entry}{SUFFIX[kind]}"
            {"dir": lambda: path.mkdir(), "dot": lambda: (folder / f".hidden{SUFFIX[kind]}").write_bytes(b"x"),
             "fifo": lambda: os.mkfifo(path), "link_in": lambda: path.symlink_to(folder / name(0)),
             "link_out": lambda: path.symlink_to(outside), "broken": lambda: path.symlink_to(folder / "gone"),
             "name": lambda: (folder / os.fsdecode(rng.choice([b"caf\xe9", b"new\nline", "пробел ü".encode()])
                                                   + SUFFIX[kind].encode())).write_bytes(valid_document(kind, rng, 7)),
             }[entry]()
            entries += 1
    for i in range(12):
        anchor = folder / (f"reut2-{900 + i}.sgm" if kind == "reuters" else f"anchor{i}{SUFFIX[kind]}")
        anchor.write_bytes(valid_document(kind, rng, i))
        entries += 1
    return entries


def config(kind: str, folder: Path, out: Path, rng: random.Random) -> DataConfig:
    source = {"kind": kind, "path": str(folder)}
    if kind in ("scraped", "html"):
        source["encoding"] = rng.choice(["utf-8", "utf-8", "latin-1", "utf-16", "cp1251"])
    if kind in ("jsonl", "csv"):
        source["columns"] = {"id": "id", "title": "title", "body": "text", "published": "date",
                             "section": "section", "topics": "topics", "tags": "tags", "places": "places"}
        if kind == "csv":   # a named column absent from a file rejects that file; anchors have only these
            source["columns"] = {"id": "id", "body": "text", "topics": "topics"}
    return DataConfig.model_validate({
        "source": source, "output": str(out),
        "labels": {"topic": {"field": "topics", "drop_unlabelled": False},
                   "region": {"fields": ["places", "tags"], "from_text": "fallback"}},
        "split": {"kind": "random", "test_size": 0.2, "validation_size": 0.1}})


def one_round(kind: str, rng: random.Random, n_cases: int) -> tuple[dict | None, str | None, Path]:
    """(manifest, None) or (None, failure) for one round; the round's folder is returned for --keep."""
    root = Path(tempfile.mkdtemp(prefix=f"fuzz-{kind}-"))
    folder = root / "in"
    folder.mkdir()
    entries = write_round(kind, folder, rng, n_cases)
    try:
        manifest = build_dataset(config(kind, folder, root / "out", rng)).manifest
    except Exception as exc:   # noqa: BLE001 - any exception is the finding
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return None, f"{type(exc).__name__}: {str(exc)[:300]} ({Path(frame.filename).name}:{frame.lineno})", root
    acc = manifest["accounting"]
    if acc["read"] != acc["kept"] + acc["rejected"] + acc["deduplicated"]:
        return None, f"accounting does not balance: {acc}", root
    if kind in ("scraped", "html") and acc["read"] != entries:
        return None, f"read {acc['read']} of {entries} entries", root
    return manifest, None, root


def reason_key(reason: str) -> str:
    """Group reject reasons: numbers, paths and quoted values made generic."""
    reason = re.sub(r"\d+", "N", reason)
    return re.sub(r"'[^']*'", "'…'", reason)[:110]


def _fresh(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`, ... : the first that does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="run for about this long (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated subset of " + ",".join(READERS))
    parser.add_argument("--cases", type=int, default=8, help="fuzz files per round (default 8)")
    parser.add_argument("--keep", default="fuzz-failures", help="folder for the inputs of failed rounds")
    args = parser.parse_args()
    readers = args.readers.split(",")
    rng = random.Random(args.seed)
    cases, rounds, read, kept = Counter(), Counter(), Counter(), Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    failures: list[str] = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        kind = readers[sum(rounds.values()) % len(readers)]
        manifest, failure, root = one_round(kind, rng, args.cases)
        rounds[kind] += 1
        cases[kind] += args.cases
        if failure is None:
            read[kind] += manifest["accounting"]["read"]
            kept[kind] += manifest["accounting"]["kept"]
            for reason, n in manifest["rejected"].items():
                reasons[kind][reason_key(reason)] += n
            shutil.rmtree(root, ignore_errors=True)
        else:
            keep = _fresh(Path(args.keep) / f"seed{args.seed}-{kind}-{rounds[kind]}")   # never over an older copy
            shutil.copytree(root / "in", keep, symlinks=True, ignore_dangling_symlinks=True,
                            ignore=lambda d, names: [n for n in names if Path(d, n).is_fifo()])
            shutil.rmtree(root, ignore_errors=True)
            failures.append(f"{kind} round {rounds[kind]}: {failure} (input kept in {keep})")
    print(f"fuzzed {args.seconds:.0f} s, seed {args.seed}: {sum(rounds.values())} builds, "
          f"{sum(cases.values())} fuzz cases (+ odd entries and 12 valid documents per build)")
    for kind in readers:
        print(f"  {kind:8} {rounds[kind]:4} builds {cases[kind]:5} cases  documents read {read[kind]:6} "
              f"kept {kept[kind]:6} rejected {sum(reasons[kind].values()):5}")
        for reason, n in reasons[kind].most_common(8):
            print(f"      {n:5}  {reason}")
    print(f"failures: {len(failures)}")
    for line in failures[:20]:
        print("  " + line)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
