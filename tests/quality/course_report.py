#!/usr/bin/python3
"""Quality report of the courses profai-extract builds from Debian's PDF manuals (`make quality`).

Not a test: it prints numbers, one row per manual (with its outline, and stripped of it with
`qpdf --empty --pages`), that docs/course-generation.md ("Measured quality") records before and
after a change. Columns:

  recall    level-1 outline titles found as modules at their page once the outline is stripped
            (an index or a table of contents aside: those are left out of courses)
  index     lessons that are an index or a table of contents (by title), which should be none
  same      distractors that say the same as the answer: equal once case, hyphens, spaces and a
            plural ending are left out, or its initials (an abbreviation and its expansion)
  shared    paragraphs (40+ characters) found in two lessons more often than the PDF repeats them
  quiz      questions; dup: prompts equal once case, spaces and digits are left out;
  boiler    questions from licence, copyright, front matter, contents, index or bibliography
  bad-d     distractors that are not in the document, equal the answer, appear in the prompt,
            or are a person's name (two or three Capitalised words never written in lower case
            in the document) offered for an answer that is none
  read      summary readability: share of summary words found in the document's own vocabulary
            (alphabetic words pdftotext finds at least twice; no Debian word list is installed
            by scripts/deps.sh, and pdftotext is an independent reading of the same PDF), and
  long      summary tokens longer than 40 characters (glued words; Chinese and Japanese
            characters, written without spaces, do not count)

Usage: tests/quality/course_report.py [--extract bin/profai-extract]
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "system"))
import pdfs  # noqa: E402

CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
PACKAGES = ["auto-multiple-choice-doc-pdf", "docbook-xsl-doc-pdf"]
BOILER = re.compile(r"(?i)\b(licen|copyright|front matter|contents|bibliograph|acknowledg|"
                    r"index\b|references\b)")


def manuals(tmp: Path) -> list[Path]:
    listing = subprocess.run(["dpkg", "-L", *PACKAGES], capture_output=True,
                             text=True).stdout.split()
    found = {}
    for name in listing:
        p = Path(name)
        if re.search(r"auto-multiple-choice\.\w+\.pdf$|latex/automultiplechoice\.pdf$", name) \
                and p.is_file():
            found[p.name] = p
        elif name.endswith("reference.pdf.gz") and "docbook-xsl-doc-pdf" in name:
            target = tmp / "reference.pdf"
            target.write_bytes(gzip.decompress(p.read_bytes()))
            found[target.name] = target
    return [found[k] for k in sorted(found)]


def extract(binary: str, pdf: Path) -> dict:
    out = subprocess.run([binary], stdin=open(pdf, "rb"), capture_output=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{pdf.name}: {out.stdout[:200]!r}")
    return json.loads(out.stdout)


def pdftotext(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def title_key(title: str) -> str:
    t = title.casefold()
    t = re.sub(r"^\s*((chapter|chapitre|part|section|appendix)\s+)?"
               r"(\d+(\.\d+)*\.?|[ivx]+\.)(\s+|(?=[^\W\d_]))", "", t)
    return re.sub(r"[\W_]+", "", t)


def lessons_of(course: dict) -> list[dict]:
    return [lesson for m in course["modules"] for lesson in m["lessons"]]


INDEX_TITLE = re.compile(r"(?i)^\W*(index|contents|table of contents|table des matières)\W*$")


def measure(course: dict, pdf: Path, toc: list | None) -> dict:
    text = pdftotext(pdf)
    squeezed = "".join(text.split())
    lessons = lessons_of(course)
    row = {"structure": course["structure"], "lessons": len(lessons)}
    if toc:
        expected = {(title_key(t), p) for level, t, p in toc
                    if level == 1 and not INDEX_TITLE.match(t)}
        found = {(title_key(m["title"]), m["page_start"]) for m in course["modules"]
                 if not m["generated"]}
        row["recall"] = f"{len(expected & found)}/{len(expected)}"
    else:
        row["recall"] = "-"
    row["index"] = sum(1 for x in lessons if INDEX_TITLE.match(x["title"]))
    where = collections.Counter()
    for lesson in lessons:
        for para in {"".join(p.split()) for p in lesson["text"].split("\n\n")}:
            if len(para) >= 40:
                where[para] += 1
    row["shared"] = sum(1 for p, n in where.items() if n > 1 and squeezed.count(p) < n)
    quiz = course["quiz"]
    by_id = {lesson["id"]: lesson for lesson in lessons}
    keys = collections.Counter(re.sub(r"[\s\d]+", "", q["prompt"].casefold()) for q in quiz)
    row["quiz"] = len(quiz)
    row["dup"] = sum(n - 1 for n in keys.values())
    row["boiler"] = sum(1 for q in quiz if BOILER.search(by_id[q["lesson"]]["title"])
                        or re.search(r"(?i)licen[cs]e|copyright", q["prompt"]))
    document = " ".join(" ".join(x["text"].split()) for x in lessons).casefold()
    lower_words = set(re.findall(r"\b[a-zà-ÿ]+\b", " ".join(x["text"] for x in lessons)))

    def is_name(term: str) -> bool:
        words = term.split()
        return 2 <= len(words) <= 3 and all(re.fullmatch(r"[A-ZÀ-Þ][a-zà-ÿ'-]+", w) and
                                            w.lower() not in lower_words for w in words)
    bad = 0
    for q in quiz:
        answer = q["choices"][q["answer"]]
        for c in q["choices"]:
            if c is answer:
                continue
            if " ".join(c.casefold().split()) not in document or c.casefold() == answer.casefold() \
                    or c.casefold() in q["prompt"].casefold() or (is_name(c) and not is_name(answer)):
                bad += 1
    row["bad-d"] = bad

    def norm(t: str) -> str:
        t = re.sub(r"[\W_]+", "", t.casefold())
        return re.sub(r"(?<=[sxzh])es$|(?<!s)s$", "", t) if len(t) > 3 else t

    def initials(t: str) -> str:
        return "".join(w[0] for w in re.findall(r"\w+", t.casefold()))

    same = 0
    for q in quiz:
        answer = q["choices"][q["answer"]]
        for c in q["choices"]:
            if c is answer:
                continue
            words_a, words_c = answer.split(), c.split()
            same += norm(c) == norm(answer) or \
                (len(words_a) >= 2 and len(words_c) == 1 and initials(answer) == c.casefold()) or \
                (len(words_c) >= 2 and len(words_a) == 1 and initials(c) == answer.casefold())
    row["same"] = same
    vocabulary = collections.Counter(w.casefold() for w in re.findall(r"[^\W\d_]+", text))
    known = total = long = 0
    for lesson in lessons:
        for token in lesson["summary"].split():
            long += len(CJK.sub("", token)) > 40
            word = token.strip(".,;:!?()[]\"'“”‘’«»—-")
            if not word:
                continue
            total += 1
            known += bool(re.fullmatch(r"[^\W\d_]+", word)) and vocabulary[word.casefold()] >= 2
    row["read"] = f"{known / total:.2f}" if total else "-"
    row["long"] = long
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", default=str(ROOT / "bin" / "profai-extract"))
    args = parser.parse_args()
    columns = ["structure", "lessons", "recall", "index", "shared", "quiz", "dup", "boiler", "bad-d", "same",
               "read", "long"]
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        pdf_list = manuals(tmpdir)
        if not pdf_list:
            print("no Debian PDF manuals installed (scripts/deps.sh installs them)")
            return 1
        print(f"{'manual':34} " + " ".join(f"{c:>9}" for c in columns))
        for pdf in pdf_list:
            toc = pdfs.get_toc(pdf)
            variants = [(pdf.name, pdf, None)]
            if toc:
                stripped = tmpdir / f"{pdf.stem}-stripped.pdf"
                subprocess.run(["qpdf", "--empty", "--pages", str(pdf), "--", str(stripped)],
                               check=True)
                variants.append((pdf.stem + " (no outline)", stripped, toc))
            for name, path, oracle in variants:
                row = measure(extract(args.extract, path), path, oracle)
                print(f"{name:34} " + " ".join(f"{str(row[c]):>9}" for c in columns), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
