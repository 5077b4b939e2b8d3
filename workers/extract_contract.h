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
#define EXTRACT_EXIT_OK 0      /* stdout holds the course JSON */
#define EXTRACT_EXIT_REFUSED 2 /* stdout holds "<error_code>\n<sentence>\n" */

/* The progress pipe: the extractor writes "progress <0-100> <stage> <page> <pages>\n". */
#define EXTRACT_PROGRESS_FD 3
#define EXTRACT_PROGRESS_LINE_MAX 128

/* Largest PDF read from stdin and largest result written to stdout (bytes). They equal the
 * protocol's PROTO_PDF_MAX and PROTO_COURSE_MAX; the worker checks that at compile time. */
#define EXTRACT_INPUT_MAX (64u * 1024 * 1024)
#define EXTRACT_OUTPUT_MAX (32u * 1024 * 1024)

/* Largest refusal written on exit 2: a code, a newline, a sentence, a newline. */
#define EXTRACT_REFUSAL_MAX 2048

#endif
