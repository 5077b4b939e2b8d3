"""Test PDFs for the system tests, written with pycairo (no downloads, no fixtures on disk).

Every generator writes a real PDF with real, extractable sentences and returns a `MadePdf`
describing what a correct reader must find in it: `toc` is the expected outline in the shape
PyMuPDF's `fitz.open(path).get_toc()` returns (`[level, title, page]`, pages 1-based).

    from pdfs import make_pdf, make_plain_pdf, make_long_pdf, make_blank_pdf, get_toc
    made = make_pdf(tmp_path / "course.pdf",
                    chapters=[("Chapter 1", [("Section 1.1", 2), ("Section 1.2", 1)]),
                              ("Chapter 2", 1, [("Section 2.1", 1, [("Part 2.1.1", 1)])])],
                    use_named_dests=True, title="Biology", author="A. Teacher")
    made.toc   -> [[1, "Chapter 1", 1], [2, "Section 1.1", 1], [2, "Section 1.2", 3], ...]
    made.pages -> 7
    get_toc(made.path) == made.toc   # PyMuPDF in a child process (see get_toc)

Outline nodes are tuples:
    (title, pages)                 a leaf with `pages` pages of its own;
    (title, [children])            no page of its own: it starts on its first child's page;
    (title, pages, [children])     `pages` pages of its own, then its children.
Chapters are level 1, their children level 2, grandchildren level 3, and so on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from typing import Sequence

import cairo

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 56
BODY_SIZE = 11
LINE_H = 15

_WORDS = (
    "the cell membrane controls what enters and leaves every living cell while energy from "
    "sunlight drives photosynthesis in green plants students should compare the two processes "
    "carefully before the next lesson because each step depends on the previous one a careful "
    "reader notices how water moves through tissues and how proteins fold into useful shapes "
    "teachers often ask learners to draw a diagram explain the result in their own words and "
    "check the answer against the textbook the experiment needs a small sample clean glass and "
    "patience since results appear slowly over several days café naïve résumé élève"
).split()


@dataclasses.dataclass
class MadePdf:
    """What a generator wrote: `toc` is the expected outline ([level, title, page] like
    fitz get_toc(); empty for a PDF without outline)."""

    path: str
    pages: int
    toc: list
    title: str | None = None
    author: str | None = None


def sentences(rng: random.Random, count: int) -> list[str]:
    """`count` plain sentences of 8 to 16 words, capitalised and ending with a full stop."""
    out = []
    for _ in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 16))]
        words[0] = words[0].capitalize()
        out.append(" ".join(words) + ".")
    return out


class _Writer:
    """Lays text out on pages of a cairo PDF surface, one page at a time."""

    def __init__(self, path: str, title: str | None, author: str | None, seed: int):
        self.surface = cairo.PDFSurface(os.fspath(path), PAGE_W, PAGE_H)
        if title is not None:
            self.surface.set_metadata(cairo.PDFMetadata.TITLE, title)
        if author is not None:
            self.surface.set_metadata(cairo.PDFMetadata.AUTHOR, author)
        self.ctx = cairo.Context(self.surface)
        self.ctx.select_font_face("DejaVu Sans", cairo.FONT_SLANT_NORMAL,
                                  cairo.FONT_WEIGHT_NORMAL)
        self.rng = random.Random(seed)
        self.page = 1  # the page being drawn
        self.y = MARGIN
        self.dest_count = 0

    def heading(self, text: str, level: int, named_dest: str | None) -> None:
        """A heading line at the current position, optionally a named destination."""
        ctx = self.ctx
        if named_dest is not None:
            ctx.move_to(MARGIN, self.y)
            ctx.tag_begin(cairo.TAG_DEST, f"name='{named_dest}'")
            ctx.tag_end(cairo.TAG_DEST)
        size = {1: 20, 2: 15}.get(level, 13)
        ctx.set_font_size(size)
        self.y += size + 6
        ctx.move_to(MARGIN, self.y)
        ctx.show_text(text)
        self.y += 10

    def fill_page(self, text: bool = True) -> None:
        """Fill the rest of the page with wrapped sentences, then start the next page."""
        if text:
            ctx = self.ctx
            ctx.set_font_size(BODY_SIZE)
            width = PAGE_W - 2 * MARGIN
            line = ""
            while self.y + LINE_H < PAGE_H - MARGIN:
                for word in sentences(self.rng, 1)[0].split():
                    candidate = f"{line} {word}" if line else word
                    if ctx.text_extents(candidate).x_advance <= width:
                        line = candidate
                        continue
                    self.y += LINE_H
                    ctx.move_to(MARGIN, self.y)
                    ctx.show_text(line)
                    line = word
                    if self.y + LINE_H >= PAGE_H - MARGIN:
                        break
            if line and self.y + LINE_H < PAGE_H - MARGIN:
                self.y += LINE_H
                ctx.move_to(MARGIN, self.y)
                ctx.show_text(line)
        self.ctx.show_page()
        self.page += 1
        self.y = MARGIN

    def add_outline(self, parent: int, title: str, page: int, dest: str | None) -> int:
        link = f"dest='{dest}'" if dest is not None else f"page={page}"
        return self.surface.add_outline(parent, title, link, cairo.PDFOutlineFlags.OPEN)

    def finish(self) -> int:
        self.surface.finish()
        return self.page - 1


def _split_node(node: Sequence) -> tuple[str, int, list]:
    if len(node) == 3:
        return node[0], int(node[1]), list(node[2])
    title, rest = node
    if isinstance(rest, int):
        return title, rest, []
    return title, 0, list(rest)


def make_pdf(path, chapters: Sequence, use_named_dests: bool = True,
             title: str | None = "Test course", author: str | None = "ProfAI tests",
             front_pages: int = 0, seed: int = 1) -> MadePdf:
    """A PDF with a nested outline (see the module docstring for `chapters`).

    `front_pages` pages of text without outline entry come first (a title page, a preface).
    With `use_named_dests` every outline entry points at a named destination placed at its
    heading; otherwise at "page=N". Each entry's heading is printed where its pages begin; an
    entry without pages of its own shares its first child's first page (heading above it)."""
    writer = _Writer(path, title, author, seed)
    for _ in range(front_pages):
        writer.heading("Preface", 2, None)
        writer.fill_page()
    toc: list = []

    def emit(node: Sequence, level: int, parent: int) -> None:
        name, own, children = _split_node(node)
        if own == 0 and not children:
            raise ValueError(f"outline entry {name!r} has no pages")
        dest = None
        if use_named_dests:
            writer.dest_count += 1
            dest = f"d{writer.dest_count}"
        writer.heading(name, level, dest)
        start = writer.page
        toc.append([level, name, start])
        oid = writer.add_outline(parent, name, start, dest)
        for _ in range(own):
            writer.fill_page()
        for child in children:
            emit(child, level + 1, oid)

    for chapter in chapters:
        emit(chapter, 1, cairo.PDF_OUTLINE_ROOT)
    pages = writer.finish()
    return MadePdf(os.fspath(path), pages, toc, title, author)


def make_plain_pdf(path, pages: int = 25, title: str | None = None,
                   author: str | None = None, headings: bool = True, seed: int = 2) -> MadePdf:
    """A PDF without outline: `pages` pages of sentences. With `headings` every third page
    starts with a short heading line "Topic N"."""
    writer = _Writer(path, title, author, seed)
    for n in range(1, pages + 1):
        if headings and n % 3 == 1:
            writer.heading(f"Topic {n // 3 + 1}", 2, None)
        writer.fill_page()
    return MadePdf(os.fspath(path), writer.finish(), [], title, author)


def make_long_pdf(path, pages: int = 60, seed: int = 3) -> MadePdf:
    """A long PDF (one chapter per 5 pages) for slow jobs together with a page delay."""
    chapters = [(f"Chapter {c + 1}", [(f"Section {c + 1}.{s + 1}", 1) for s in range(5)])
                for c in range(pages // 5)]
    return make_pdf(path, chapters, use_named_dests=False, title="Long course", seed=seed)


def make_blank_pdf(path, pages: int = 3) -> MadePdf:
    """A PDF whose pages hold no text at all (like a scan without OCR): only a drawn box."""
    writer = _Writer(path, None, None, 0)
    for _ in range(pages):
        writer.ctx.rectangle(100, 100, 200, 200)
        writer.ctx.fill()
        writer.fill_page(text=False)
    return MadePdf(os.fspath(path), writer.finish(), [], None, None)


@dataclasses.dataclass
class RunningPdf(MadePdf):
    """What make_running_pdf wrote, besides MadePdf's fields: the running lines printed on
    every page, the words it split at line ends, and each section's paragraphs."""

    running: list = dataclasses.field(default_factory=list)
    hyphenated: list = dataclasses.field(default_factory=list)
    paragraphs: dict = dataclasses.field(default_factory=dict)


def make_running_pdf(path, chapters: Sequence, title: str = "Cells and energy",
                     seed: int = 5, front: Sequence = (), back: Sequence = (),
                     contents: bool = False, index: bool = False) -> RunningPdf:
    """A PDF without outline, typeset like a book: every page has a running header (the
    book's title, and the chapter's title on the right) and a footer "Page N"; chapters
    ("1 Cells", 18 pt bold) and sections ("1.1 Membranes", 14 pt bold) are numbered headings;
    body text (11 pt) comes in paragraphs with a blank line between them, and long words that
    do not fit at a line end are hyphenated ("mem-" + "brane").

    chapters: [(chapter title, [(section title, paragraphs), ...]), ...], the titles without
    numbers. front, back: [(title, paragraphs), ...], unnumbered chapters in the chapters'
    style before and after the numbered ones ("Preface", "Glossary"); contents: a "Contents"
    page first (one line per chapter with dot leaders and a page number); index: an "Index"
    at the end (terms with page numbers). `toc` lists the headings as an outline would
    ([level, "1.1 Membranes", page])."""
    rng = random.Random(seed)
    surface = cairo.PDFSurface(os.fspath(path), PAGE_W, PAGE_H)
    surface.set_metadata(cairo.PDFMetadata.TITLE, title)
    ctx = cairo.Context(surface)
    made = RunningPdf(os.fspath(path), 0, [], title, None, running=[title])
    state = {"page": 1, "y": MARGIN + 10, "chapter": ""}
    width = PAGE_W - 2 * MARGIN

    def face(bold: bool, size: float) -> None:
        ctx.select_font_face("DejaVu Sans", cairo.FONT_SLANT_NORMAL,
                             cairo.FONT_WEIGHT_BOLD if bold else cairo.FONT_WEIGHT_NORMAL)
        ctx.set_font_size(size)

    def decorate() -> None:
        face(False, 9)
        ctx.move_to(MARGIN, 30)
        ctx.show_text(title)
        chapter = state["chapter"]
        ctx.move_to(PAGE_W - MARGIN - ctx.text_extents(chapter).x_advance, 30)
        ctx.show_text(chapter)
        ctx.move_to(PAGE_W / 2 - 20, PAGE_H - 25)
        ctx.show_text(f"Page {state['page']}")

    def new_page() -> None:
        decorate()
        ctx.show_page()
        state["page"] += 1
        state["y"] = MARGIN + 10

    def room(height: float) -> None:
        if state["y"] + height > PAGE_H - MARGIN:
            new_page()

    def line(text: str) -> None:
        room(LINE_H)
        state["y"] += LINE_H
        ctx.move_to(MARGIN, state["y"])
        ctx.show_text(text)

    def paragraph(text: str) -> None:
        face(False, BODY_SIZE)
        current = ""
        for word in text.split():
            candidate = f"{current} {word}" if current else word
            if ctx.text_extents(candidate).x_advance <= width:
                current = candidate
                continue
            cut = len(word) // 2
            head = f"{current} {word[:cut]}-" if current else f"{word[:cut]}-"
            if len(word) >= 8 and word.isalpha() and word[cut].islower() and \
                    ctx.text_extents(head).x_advance <= width:
                line(head)
                made.hyphenated.append(word)
                current = word[cut:]
            else:
                line(current)
                current = word
        if current:
            line(current)
        state["y"] += LINE_H  # the blank line between paragraphs

    def heading(text: str, size: float, level: int) -> None:
        room(3 * size + 4 * LINE_H)
        face(True, size)
        state["y"] += size + 8
        ctx.move_to(MARGIN, state["y"])
        ctx.show_text(text)
        made.toc.append([level, text, state["page"]])
        state["y"] += 6

    def unnumbered(name: str, count: int) -> None:
        if state["y"] > MARGIN + 10:
            new_page()
        state["chapter"] = name
        heading(name, 18, 1)
        for _ in range(count):
            paragraph(" ".join(sentences(rng, rng.randint(3, 6))))

    def listing(name: str, lines: Sequence) -> None:
        if state["y"] > MARGIN + 10:
            new_page()
        state["chapter"] = name
        heading(name, 18, 1)
        face(False, BODY_SIZE)
        for text in lines:
            line(text)

    if contents:
        listing("Contents", [f"{c} {chapter} " + ". " * 30 + str(2 + 2 * c)
                             for c, (chapter, _) in enumerate(chapters, 1)] +
                [f"{c}.{s} {section} " + ". " * 30 + str(2 + 2 * c)
                 for c, (_, sections) in enumerate(chapters, 1)
                 for s, (section, _) in enumerate(sections, 1)])
    for name, count in front:
        unnumbered(name, count)
    for c, (chapter, sections) in enumerate(chapters, 1):
        if state["y"] > MARGIN + 10:
            new_page()
        state["chapter"] = f"{c} {chapter}"
        heading(f"{c} {chapter}", 18, 1)
        for s, (section, count) in enumerate(sections, 1):
            name = f"{c}.{s} {section}"
            heading(name, 14, 2)
            texts = [" ".join(sentences(rng, rng.randint(3, 6))) for _ in range(count)]
            made.paragraphs[name] = texts
            for text in texts:
                paragraph(text)
    for name, count in back:
        unnumbered(name, count)
    if index:
        terms = sorted({w.strip(".,").lower() for w in " ".join(sentences(rng, 40)).split()
                        if len(w.strip(".,")) > 5})
        listing("Index", [f"{t}, {rng.randint(1, 9)}, {rng.randint(10, 20)}" for t in terms[:45]])
    decorate()
    surface.finish()
    made.pages = state["page"]
    return made


_TOC_SCRIPT = "import fitz, json, sys; print(json.dumps(fitz.open(sys.argv[1]).get_toc()))"


def get_toc(path) -> list:
    """PyMuPDF's `get_toc()` of a PDF ([level, title, page] lists), read in a fresh Python
    process. PyMuPDF 1.21 (Debian 12) breaks after a few dozen outlines were loaded in one
    process ("'SwigPyObject' object has no attribute 'thisown'" from fitz.open), which a whole
    test session easily reaches; a child process per call avoids that."""
    out = subprocess.run([sys.executable, "-c", _TOC_SCRIPT, os.fspath(path)],
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


if __name__ == "__main__":  # quick look: python3 pdfs.py out.pdf
    made = make_pdf(sys.argv[1] if len(sys.argv) > 1 else "sample.pdf",
                    [("Chapter 1", [("Section 1.1", 2), ("Section 1.2", 1)]),
                     ("Chapter 2", 1, [("Section 2.1", 1, [("Part 2.1.1", 1)])])])
    print(made)
