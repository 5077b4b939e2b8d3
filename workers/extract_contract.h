/*
 * extract_contract.h - the contract between profai-worker and its profai-extract children.
 *
 * docs/worker.md ("The extractor process") states it in full. In short: the worker starts
 * `profai-extract [options]` with the PDF on stdin (a sealed memfd), an empty memfd on stdout
 * and a pipe on fd 3 for progress lines; exit 0 leaves the course JSON on stdout, exit 2 leaves
 * "<error_code>\n<sentence>\n"; anything else is a crash. Both programs include this header so
 * the numbers cannot drift apart.
 */
#ifndef PROFAI_EXTRACT_CONTRACT_H
#define PROFAI_EXTRACT_CONTRACT_H

/* Exit statuses of profai-extract. */
#define EXTRACT_EXIT_OK 0      /* stdout holds the course JSON (with --pages: that part) */
#define EXTRACT_EXIT_REFUSED 2 /* stdout holds "<error_code>\n<sentence>\n" */
#define EXTRACT_EXIT_SPLIT 3   /* only with --split-above: stdout holds "split <pages>\n" */

/* Large documents (docs/worker.md, "Large documents: split across processes"): started with
 * --split-above N, an extractor that finds more than N pages reads nothing and exits
 * EXTRACT_EXIT_SPLIT; the worker then starts one extractor per page range (--pages A-B,
 * stdout: that range of the document model, course/docmodel_wire.h) and, once every one of
 * them exited 0, one more with --merge whose stdin is their outputs in page order and whose
 * stdout is the course, as for an unsplit document. */
#define EXTRACT_SPLIT_LINE_MAX 32
/* The most processes that read one document's ranges at once. */
#define EXTRACT_SPLIT_PARTS_MAX 16
/* The merged parts a --merge extractor accepts on stdin: the text of a course (32 MiB at
 * most) with its lines' positions comes to less than this. */
#define EXTRACT_MODEL_MAX (128u * 1024 * 1024)

/* The progress pipe: the extractor writes "progress <0-100> <stage> <page> <pages>\n". */
#define EXTRACT_PROGRESS_FD 3
#define EXTRACT_PROGRESS_LINE_MAX 128

/* With --meet (two readers share one page range, extract/page_meet.h): the 8-byte memfd they
 * share. The worker makes one per pair of readers, holding page_meet_initial(A, B). */
#define EXTRACT_MEET_FD 4

/* Largest PDF read from stdin and largest result written to stdout (bytes). They equal the
 * protocol's PROTO_PDF_MAX and PROTO_COURSE_MAX; the worker checks that at compile time. */
#define EXTRACT_INPUT_MAX (64u * 1024 * 1024)
#define EXTRACT_OUTPUT_MAX (32u * 1024 * 1024)

/* Largest refusal written on exit 2: a code, a newline, a sentence, a newline. */
#define EXTRACT_REFUSAL_MAX 2048

#endif
