/*
 * compiler.h - the one spelling of the attributes every module uses.
 *
 * Status convention (STYLE habit 5, docs/architecture.md "Conventions"): actions return 0 on
 * success and -1 on failure; predicates return bool; a function whose result must not be
 * ignored is marked PROFAI_MUST_CHECK. Functions that need more than two outcomes return a
 * commented enum, never another set of small integers.
 */
#ifndef PROFAI_COMPILER_H
#define PROFAI_COMPILER_H

#define PROFAI_MUST_CHECK __attribute__((warn_unused_result))
#define PROFAI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

#endif
