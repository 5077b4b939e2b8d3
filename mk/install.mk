# mk/install.mk - `make install` and `make uninstall` (docs/operations.md, "Installing").
#
# Included by the top-level Makefile, which defines BIN and builds the programs (`all`).
#
#   make install                       into /usr/local, configuration into /etc/profai
#   make install PREFIX=/usr           Debian's own layout
#   make install DESTDIR=/tmp/stage    the same tree under a staging root (packaging, tests)
#
# Layout (PREFIX = /usr/local unless given):
#   $(PREFIX)/bin/                     profai-broker profai-worker profai-frontend profaictl
#   $(PREFIX)/libexec/profai/          profai-extract (run by profai-worker only, which finds
#                                      it there from its own path: ../libexec/profai/)
#   /etc/profai/                       broker.conf worker.conf frontend.conf
#   $(PREFIX)/share/doc/profai/        README.md, docs/*.md, examples/*.conf (the defaults)
#   $(PREFIX)/lib/systemd/system/      profai.target and the three service units
#   $(PREFIX)/lib/sysusers.d/          profai.conf: the profai user (systemd-sysusers)
# Both /usr/local/lib/systemd/system and /usr/local/lib/sysusers.d are on systemd's search
# paths. The units name the installed paths: their /usr/local is replaced by PREFIX.
#
# Configuration is never overwritten once edited: a file in /etc/profai equal to the default
# the previous install left in examples/ is replaced by the new default; any other (edited) is
# kept, and the new default is put beside it as NAME.conf.new, which install says.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec
SYSCONFDIR  ?= /etc
DOCDIR      ?= $(PREFIX)/share/doc/profai
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install

INSTALL_BIN   := profai-broker profai-worker profai-frontend profaictl
INSTALL_CONF  := $(wildcard conf/*.conf)
# docs/README.md only describes the directory, and its name is taken by the top README.md.
INSTALL_DOCS  := README.md $(filter-out docs/README.md,$(wildcard docs/*.md))
INSTALL_UNITS := $(wildcard systemd/*.service systemd/*.target)
# The units as written name /usr/local and /etc: point them at this install's directories.
INSTALL_SED   := -e 's|/usr/local/bin/|$(BINDIR)/|g' \
                 -e 's|/usr/local/share/doc/profai/|$(DOCDIR)/|g' \
                 -e 's|/etc/profai/|$(SYSCONFDIR)/profai/|g'

.PHONY: install uninstall

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR)/profai \
	    $(DESTDIR)$(SYSCONFDIR)/profai $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 755 $(addprefix $(BIN)/,$(INSTALL_BIN)) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 755 $(BIN)/profai-extract $(DESTDIR)$(LIBEXECDIR)/profai/
	@set -e; for f in $(INSTALL_CONF); do \
	    name=$$(basename $$f); dest=$(DESTDIR)$(SYSCONFDIR)/profai/$$name; \
	    old=$(DESTDIR)$(DOCDIR)/examples/$$name; \
	    if [ ! -e $$dest ] || cmp -s $$dest $$f || { [ -e $$old ] && cmp -s $$dest $$old; }; then \
	        echo "$(INSTALL) -m 644 $$f $$dest"; $(INSTALL) -m 644 $$f $$dest; \
	        rm -f $$dest.new; \
	    else \
	        $(INSTALL) -m 644 $$f $$dest.new; \
	        echo "install: kept $$dest (edited); the new default is $$dest.new"; \
	    fi; \
	done
	$(INSTALL) -m 644 $(INSTALL_CONF) $(DESTDIR)$(DOCDIR)/examples/
	$(INSTALL) -m 644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	@set -e; for u in $(INSTALL_UNITS); do \
	    echo "sed ... $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u)"; \
	    sed $(INSTALL_SED) $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp; \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp; \
	    mv $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	done
	$(INSTALL) -m 644 systemd/profai.sysusers $(DESTDIR)$(SYSUSERSDIR)/profai.conf
	@if [ -z "$(DESTDIR)" ]; then \
	    echo "install: next: systemd-sysusers; systemctl daemon-reload;" \
	         "edit $(SYSCONFDIR)/profai/*.conf; then see $(DOCDIR)/operations.md (systemd)"; \
	fi

# Leaves $(SYSCONFDIR)/profai alone: it holds the operator's settings.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_BIN)) \
	    $(DESTDIR)$(LIBEXECDIR)/profai/profai-extract \
	    $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(INSTALL_UNITS))) \
	    $(DESTDIR)$(SYSUSERSDIR)/profai.conf
	rm -rf $(DESTDIR)$(DOCDIR)
	-rmdir $(DESTDIR)$(LIBEXECDIR)/profai
	@echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/profai kept"
