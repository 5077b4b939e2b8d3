# mk/quality.mk - `make quality`: the course quality report over Debian's PDF manuals
# (tests/quality/course_report.py; docs/course-generation.md, "Measured quality"). Not part of
# `make check`: it prints numbers to record, it asserts nothing.
#
#   make quality                             report on bin/profai-extract
#   make quality QUALITY_EXTRACT=other/bin   the same for another build (a "before" number)

QUALITY_EXTRACT ?= $(BIN)/profai-extract

.PHONY: quality
quality: $(BIN)/profai-extract
	/usr/bin/python3 tests/quality/course_report.py --extract $(QUALITY_EXTRACT)
