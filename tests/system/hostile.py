"""The hostile-PDF corpus of the system tests: files made to break a PDF parser, written by the
test itself (no downloads), plus the damaged PDFs of qpdf's regression suite shipped beside the
checkout in ../shared/corpus/hostile/.

    from hostile import build_corpus
    cases = build_corpus(tmp_dir, seed=4)         # [HostilePdf(name, path, kind, expect), ...]

Every case says what a correct pipeline may answer (`expect`): a set of final outcomes, each
"succeeded" or "failed:<error_code>", or the special "rejected:415" when the frontend must refuse
the upload itself (no %PDF- header). Generators:

* truncations and bit flips of real PDFs (cairo-made ones from pdfs.py and a Debian manual);
* garbage, with and without a %PDF- header;
* a password-protected PDF (qpdf --encrypt);
* outlines 1000 levels deep, 20000 entries wide, and one whose /Next chain loops;
* decompression bombs: a content stream that inflates to 4 GiB of zeros (CPU, not memory),
  one that inflates to endless text operators (memory), and a bomb in the document's metadata;
* 6000 tiny pages (over limits/max_pages = 5000), and a page tree whose /Kids loop;
* scanned pages with no text (an image-only PDF drawn with cairo).

PDFs are written object by object (`PdfWriter`) where the structure itself is the attack.
"""

from __future__ import annotations

import dataclasses
import os
import random
import struct
import subprocess
import zlib
from pathlib import Path

import cairo

from pdfs import make_pdf, make_plain_pdf

ROOT = Path(__file__).resolve().parents[2]
SHARED_HOSTILE = ROOT / ".." / "shared" / "corpus" / "hostile"
MANUAL_PACKAGE = "auto-multiple-choice-doc-pdf"


def debian_manual() -> Path | None:
    """The English AMC manual from its Debian package (a real PDF no one here wrote), or None
    when the package is not installed."""
    out = subprocess.run(["dpkg", "-L", MANUAL_PACKAGE], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.endswith("auto-multiple-choice.en.pdf"):
            return Path(line)
    return None

# Outcomes any damaged file may have: repaired (a course) or refused with a reason a teacher
# understands. parser_crashed and timeout are the sandbox doing its job; the test reports them.
DAMAGED_OK = {"succeeded", "failed:damaged", "failed:no_text", "failed:not_pdf",
              "failed:encrypted", "failed:too_large", "failed:parser_crashed", "failed:timeout"}


@dataclasses.dataclass
class HostilePdf:
    name: str
    path: Path
    kind: str          # which generator made it
    expect: set        # acceptable outcomes ("succeeded", "failed:<code>", "rejected:415")


# ---- a PDF written object by object ----------------------------------------------------------

class PdfWriter:
    """A minimal PDF file: numbered objects, a classic xref table and a trailer.

        w = PdfWriter()
        catalog = w.add(b"<< /Type /Catalog /Pages 2 0 R >>")
        w.add(b"<< /Type /Pages /Kids [] /Count 0 >>")
        w.write(path, root=catalog)
    """

    def __init__(self):
        self.objects: list[bytes | None] = []

    def reserve(self) -> int:
        """A new object number whose body is set later with set()."""
        self.objects.append(None)
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def add(self, body: bytes) -> int:
        number = self.reserve()
        self.set(number, body)
        return number

    def add_stream(self, data: bytes, extra: bytes = b"", flate: bool = False) -> int:
        """A stream object; with flate, data is already deflated and /Filter says so."""
        filt = b" /Filter /FlateDecode" if flate else b""
        return self.add(b"<< /Length %d%s %s >>\nstream\n" % (len(data), filt, extra)
                        + data + b"\nendstream")

    def write(self, path: Path, root: int, info: int | None = None) -> Path:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            if body is None:
                raise ValueError(f"object {number} was reserved but never set")
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        trailer = b"<< /Size %d /Root %d 0 R" % (len(self.objects) + 1, root)
        if info is not None:
            trailer += b" /Info %d 0 R" % info
        out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
        Path(path).write_bytes(bytes(out))
        return Path(path)


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _text_page(w: PdfWriter, pages: int, text: bytes, font: int) -> int:
    """A page object (parent `pages`) showing one line of text."""
    content = w.add_stream(b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text)
    return w.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                 b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages, content, font))


def _simple_doc(w: PdfWriter, texts: list[bytes]) -> tuple[int, int]:
    """Pages with one line of text each; returns (pages object, catalog object) numbers, the
    catalog without /Outlines (callers add what they attack)."""
    font = w.add(_FONT)
    pages = w.reserve()
    kids = [_text_page(w, pages, t, font) for t in texts]
    w.set(pages, b"<< /Type /Pages /Kids [%s] /Count %d >>"
          % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    return pages, kids[0]


# ---- deflate bombs ---------------------------------------------------------------------------

def _adler32_repeated(chunk: bytes, times: int) -> int:
    adler = 1
    if chunk.count(0) == len(chunk):  # zeros: A stays 1, B grows by 1 per byte
        return (((len(chunk) * times) % 65521) << 16) | 1
    for _ in range(times):
        adler = zlib.adler32(chunk, adler)
    return adler


def deflate_repeated(chunk: bytes, total: int) -> bytes:
    """A zlib stream that inflates to `chunk` repeated up to `total` bytes, built in
    milliseconds: after a full flush the compressor's output for an identical chunk is identical,
    so one compressed block is repeated instead of compressing gigabytes."""
    c = zlib.compressobj(9)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    steady = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush()  # the final empty block, then the Adler-32 of what c saw
    times = max(2, total // len(chunk))
    adler = _adler32_repeated(chunk, times)
    return first + steady * (times - 1) + tail[:-4] + struct.pack(">I", adler)


# ---- generators ------------------------------------------------------------------------------

def truncations(src: bytes, name: str, out: Path, fractions=(0.02, 0.1, 0.33, 0.5, 0.9, 0.99)):
    cases = []
    for f in fractions:
        cut = max(16, int(len(src) * f))
        path = out / f"{name}-trunc{int(f * 100):02d}.pdf"
        path.write_bytes(src[:cut])
        cases.append(HostilePdf(path.name, path, "truncation", DAMAGED_OK))
    return cases


def bit_flips(src: bytes, name: str, out: Path, rng: random.Random, count: int = 6,
              flips: int = 40):
    """Copies of src with `flips` random bytes changed, the %PDF- header kept (so the file
    reaches the parser: a damaged header is garbage, covered elsewhere)."""
    cases = []
    for i in range(count):
        data = bytearray(src)
        for _ in range(flips):
            pos = rng.randrange(16, len(data))
            data[pos] ^= 1 << rng.randrange(8)
        path = out / f"{name}-flip{i}.pdf"
        path.write_bytes(bytes(data))
        cases.append(HostilePdf(path.name, path, "bit flips", DAMAGED_OK))
    return cases


def garbage(out: Path, rng: random.Random):
    plain = out / "garbage-random.pdf"
    plain.write_bytes(bytes(rng.randrange(256) for _ in range(20000)))
    headed = out / "garbage-with-header.pdf"
    headed.write_bytes(b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(20000)))
    empty_ish = out / "garbage-header-only.pdf"
    empty_ish.write_bytes(b"%PDF-1.7\n%%EOF\n")
    return [
        HostilePdf(plain.name, plain, "garbage", {"rejected:415"}),
        HostilePdf(headed.name, headed, "garbage", {"failed:damaged"}),
        HostilePdf(empty_ish.name, empty_ish, "garbage", {"failed:damaged"}),
    ]


def encrypted(src: Path, out: Path):
    path = out / "encrypted-user-password.pdf"
    subprocess.run(["qpdf", "--encrypt", "secret-user", "secret-owner", "256", "--",
                    os.fspath(src), os.fspath(path)], check=True, capture_output=True)
    owner_only = out / "encrypted-owner-only.pdf"
    subprocess.run(["qpdf", "--encrypt", "", "secret-owner", "256", "--",
                    os.fspath(src), os.fspath(owner_only)], check=True, capture_output=True)
    return [HostilePdf(path.name, path, "encrypted", {"failed:encrypted"}),
            # Only an owner password: anyone may open it (docs/worker.md, Opening).
            HostilePdf(owner_only.name, owner_only, "encrypted", {"succeeded"})]


def deep_outline(out: Path, depth: int = 1000) -> HostilePdf:
    """Each outline entry is the only child of the previous one, `depth` levels down."""
    w = PdfWriter()
    pages, first_page = _simple_doc(w, [b"Deep outline page one", b"Deep outline page two"])
    outlines = w.reserve()
    items = [w.reserve() for _ in range(depth)]
    for level, number in enumerate(items):
        parent = outlines if level == 0 else items[level - 1]
        child = b" /First %d 0 R /Last %d 0 R /Count 1" % ((items[level + 1],) * 2) \
            if level + 1 < depth else b""
        w.set(number, b"<< /Title (Level %d) /Parent %d 0 R /Dest [%d 0 R /Fit]%s >>"
              % (level + 1, parent, first_page, child))
    w.set(outlines, b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
          % (items[0], items[0], depth))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R >>" % (pages, outlines))
    path = w.write(out / f"outline-deep-{depth}.pdf", catalog)
    return HostilePdf(path.name, path, "deep outline", {"succeeded"})


def wide_outline(out: Path, count: int = 20000) -> HostilePdf:
    """`count` level-1 entries (over the extractor's 10,000-entry cap)."""
    w = PdfWriter()
    pages, first_page = _simple_doc(w, [b"Wide outline page one", b"Wide outline page two"])
    outlines = w.reserve()
    items = [w.reserve() for _ in range(count)]
    for i, number in enumerate(items):
        links = b""
        if i > 0:
            links += b" /Prev %d 0 R" % items[i - 1]
        if i + 1 < count:
            links += b" /Next %d 0 R" % items[i + 1]
        w.set(number, b"<< /Title (Entry %d) /Parent %d 0 R /Dest [%d 0 R /Fit]%s >>"
              % (i + 1, outlines, first_page, links))
    w.set(outlines, b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
          % (items[0], items[-1], count))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R >>" % (pages, outlines))
    path = w.write(out / f"outline-wide-{count}.pdf", catalog)
    return HostilePdf(path.name, path, "wide outline", {"succeeded"})


def looping_outline(out: Path) -> HostilePdf:
    """Three entries whose /Next chain comes back to the first, and a child that is its own
    parent's first child: a naive walk never ends."""
    w = PdfWriter()
    pages, first_page = _simple_doc(w, [b"Loop page one", b"Loop page two"])
    outlines = w.reserve()
    a, b, c = w.reserve(), w.reserve(), w.reserve()
    w.set(a, b"<< /Title (A) /Parent %d 0 R /Next %d 0 R /First %d 0 R /Last %d 0 R "
          b"/Count 1 /Dest [%d 0 R /Fit] >>" % (outlines, b, a, a, first_page))
    w.set(b, b"<< /Title (B) /Parent %d 0 R /Next %d 0 R /Dest [%d 0 R /Fit] >>"
          % (outlines, c, first_page))
    w.set(c, b"<< /Title (C) /Parent %d 0 R /Next %d 0 R /Dest [%d 0 R /Fit] >>"
          % (outlines, a, first_page))
    w.set(outlines, b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count 3 >>"
          % (a, c))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R >>" % (pages, outlines))
    path = w.write(out / "outline-loop.pdf", catalog)
    return HostilePdf(path.name, path, "looping outline", {"succeeded", "failed:damaged"})


def _content_bomb(out: Path, name: str, chunk: bytes, size: int, expect: set) -> HostilePdf:
    """One page whose content stream inflates to `size` bytes: `chunk` repeated."""
    w = PdfWriter()
    font = w.add(_FONT)
    pages = w.reserve()
    content = w.add_stream(deflate_repeated(chunk, size), flate=True)
    page = w.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                 b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages, content, font))
    w.set(pages, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    path = w.write(out / name, catalog)
    return HostilePdf(path.name, path, "decompression bomb", expect)


def zero_bomb(out: Path, size: int = 4 << 30) -> HostilePdf:
    """A page whose content stream inflates to `size` bytes of zeros (4 GiB from 4 MiB):
    PDF whitespace, so it costs the parser time rather than memory."""
    return _content_bomb(out, "bomb-zeros-4g.pdf", bytes(1 << 20), size,
                         {"failed:timeout", "failed:no_text", "failed:too_large"})


def text_bomb(out: Path, size: int = 1 << 30) -> HostilePdf:
    """A page whose content stream inflates to `size` bytes of text-showing operators: every
    glyph becomes a character the text extractor keeps, so memory grows until a limit stops it."""
    line = b"BT /F1 4 Tf 10 10 Td (ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789) Tj ET\n"
    return _content_bomb(out, "bomb-text-1g.pdf", line * ((1 << 20) // len(line)), size,
                         {"failed:timeout", "failed:too_large", "failed:parser_crashed"})


def split_bomb(out: Path, pages: int = 40, size: int = 1 << 30) -> HostilePdf:
    """`pages` pages of plain text and, last, a page whose content inflates to `size` bytes of
    text-showing operators: a document long enough to be split across processes
    (worker/split_pages), whose last part's reader meets the bomb while the others read
    harmless pages."""
    w = PdfWriter()
    font = w.add(_FONT)
    pages_obj = w.reserve()
    kids = [_text_page(w, pages_obj, b"Plain page %d of a long and harmless document." % i, font)
            for i in range(1, pages + 1)]
    line = b"BT /F1 4 Tf 10 10 Td (ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789) Tj ET\n"
    content = w.add_stream(deflate_repeated(line * ((1 << 20) // len(line)), size), flate=True)
    kids.append(w.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                      b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_obj, content, font)))
    w.set(pages_obj, b"<< /Type /Pages /Kids [%s] /Count %d >>"
          % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj)
    path = w.write(out / "split-bomb.pdf", catalog)
    return HostilePdf(path.name, path, "bomb in a split part",
                      {"failed:timeout", "failed:too_large", "failed:parser_crashed"})


def metadata_bomb(out: Path, size: int = 2 << 30) -> HostilePdf:
    """An XMP metadata stream that inflates to 2 GiB, on an otherwise good document."""
    w = PdfWriter()
    pages, _ = _simple_doc(w, [b"Metadata bomb page one"])
    meta = w.add_stream(deflate_repeated(b" " * (1 << 20), size), b"/Type /Metadata "
                        b"/Subtype /XML", flate=True)
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R /Metadata %d 0 R >>" % (pages, meta))
    path = w.write(out / "bomb-metadata-2g.pdf", catalog)
    return HostilePdf(path.name, path, "decompression bomb",
                      {"succeeded", "failed:too_large", "failed:timeout"})


def many_pages(out: Path, count: int = 6000) -> HostilePdf:
    """`count` tiny pages sharing one content stream (a 6000-page file of ~400 KB)."""
    w = PdfWriter()
    font = w.add(_FONT)
    content = w.add_stream(b"BT /F1 12 Tf 72 720 Td (A tiny page) Tj ET")
    pages = w.reserve()
    kids = [w.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 200 200] /Contents %d 0 R "
                  b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages, content, font))
            for _ in range(count)]
    w.set(pages, b"<< /Type /Pages /Kids [%s] /Count %d >>"
          % (b" ".join(b"%d 0 R" % k for k in kids), count))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    path = w.write(out / f"pages-{count}.pdf", catalog)
    return HostilePdf(path.name, path, "thousands of pages", {"failed:too_large"})


def page_tree_loop(out: Path) -> HostilePdf:
    """A /Pages node that lists itself among its /Kids, with a /Count that lies."""
    w = PdfWriter()
    font = w.add(_FONT)
    pages = w.reserve()
    page = _text_page(w, pages, b"Page tree loop", font)
    w.set(pages, b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 1000000 >>" % (page, pages))
    catalog = w.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    path = w.write(out / "pages-tree-loop.pdf", catalog)
    return HostilePdf(path.name, path, "page tree loop",
                      {"succeeded", "failed:damaged", "failed:too_large", "failed:no_text"})


def scanned(out: Path, pages: int = 3, seed: int = 5) -> HostilePdf:
    """Pages that are only a picture (noise, like a scan without OCR): no text at all."""
    path = out / "scanned-no-text.pdf"
    rng = random.Random(seed)
    surface = cairo.PDFSurface(os.fspath(path), 595, 842)
    ctx = cairo.Context(surface)
    for _ in range(pages):
        image = cairo.ImageSurface(cairo.FORMAT_RGB24, 200, 280)
        data = image.get_data()
        noise = bytes(rng.randrange(256) for _ in range(len(data)))
        data[:] = noise
        image.mark_dirty()
        ctx.save()
        ctx.scale(2.5, 2.5)
        ctx.set_source_surface(image, 10, 10)
        ctx.paint()
        ctx.restore()
        ctx.show_page()
    surface.finish()
    return HostilePdf(path.name, path, "scanned", {"failed:no_text"})


def shared_corpus() -> list[HostilePdf]:
    """Every file in ../shared/corpus/hostile/ (qpdf's damaged PDFs): each must end in a clear
    state. Fails clearly when the directory is missing."""
    directory = SHARED_HOSTILE.resolve()
    if not directory.is_dir():
        raise FileNotFoundError(
            f"the shared hostile corpus is missing: expected {directory} (a sibling of the "
            f"checkout: ../shared/corpus/hostile/, see its README)")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".pdf")
    if not files:
        raise FileNotFoundError(f"no .pdf file in {directory}")
    cases = []
    for p in files:
        head = p.read_bytes()[:1024]
        expect = DAMAGED_OK if b"%PDF-" in head else {"rejected:415"}
        cases.append(HostilePdf(p.name, p, "qpdf corpus", expect))
    return cases


def build_corpus(out: Path, seed: int = 4) -> list[HostilePdf]:
    """Write the generated corpus into `out` and list it with the shared corpus."""
    manual = debian_manual()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    good = make_pdf(out / "src-outline.pdf",
                    [("Chapter 1", [("Section 1.1", 2), ("Section 1.2", 1)]),
                     ("Chapter 2", 2, [("Section 2.1", 1)])], seed=seed).path
    plain = make_plain_pdf(out / "src-plain.pdf", pages=6, seed=seed).path
    sources = [("cairo-outline", Path(good)), ("cairo-plain", Path(plain))]
    if manual is not None:
        sources.append(("amc-manual", manual))
    cases: list[HostilePdf] = []
    for name, path in sources:
        data = path.read_bytes()
        cases += truncations(data, name, out)
        cases += bit_flips(data, name, out, rng)
    cases += garbage(out, rng)
    cases += encrypted(Path(good), out)
    cases += [deep_outline(out), wide_outline(out), looping_outline(out), zero_bomb(out),
              text_bomb(out), metadata_bomb(out), many_pages(out), page_tree_loop(out),
              scanned(out)]
    return cases + shared_corpus()


if __name__ == "__main__":  # write the corpus somewhere to look at: python3 hostile.py DIR
    import sys
    for case in build_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")):
        print(f"{case.kind:20} {case.name}")
