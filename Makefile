# Makefile - rcptsync's Unix programs, tests, demo and benchmarks.
#
#   make            rcptsync-agent and rcptsync-receiver (installs deps once)
#   make check      every test; ends with "N passed, N failed"
#   make check SAN=1   the same, built with ASan + UBSan
#   make check-long the longer fault-injection runs
#   make check-san  unit tests and a receiver/agent subset under ASan+UBSan
#   make check-fresh  the README's commands in a throwaway Debian 12 root
#   make demo       the whole pipeline on local stand-ins
#   make bench      benchmarks (prints ratios; never asserts times)
#   make fuzz FUZZ_SECONDS=N
#   make install PREFIX=/usr/local DESTDIR=
#   make deb        rcptsync-receiver and rcptsync-agent .deb in build/deb/
#
# Each directory's *.c is built, except the other platform's (*_win.c);
# Makefile.mingw builds the Windows agent.

VERSION	= 0.1.0
PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	= $(PREFIX)/sbin
MANDIR	= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	?= $(PREFIX)/lib/systemd/system
UNITS	= installer/rcptsync-receiver.service installer/rcptsync-receiver@.service \
	  installer/rcptsync-receiver.path installer/rcptsync-receiver.timer \
	  installer/rcptsync-receiver.socket \
	  installer/rcptsync-postfix-reload.path \
	  installer/rcptsync-postfix-reload.service

CC	?= cc
B	= build
DEPS	= $(B)/unix-deps
OBJ	= $(B)/obj$(if $(SAN),-san)

CFLAGS	?= -O2 -g
WARN	= -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith \
	  -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
HARDEN	= -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
comma	:= ,
SANFLAGS = $(if $(SAN),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
ALLCFLAGS = -std=c11 $(CFLAGS) $(WARN) $(HARDEN) $(SANFLAGS)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	   -DRS_VERSION=\"$(VERSION)\" -Icommon $(AGENT_INC) -I$(DEPS)/include
LDFLAGS	+= -pie -Wl,-z,relro,-z,now $(SANFLAGS)

# The agent's layers, each a folder of agent-win/ (docs/HACKING.md).
AGENT_DIRS   = core dir ldap push platform
AGENT_INC    = $(AGENT_DIRS:%=-Iagent-win/%)

COMMON_SRC   = $(sort $(filter-out %_win.c,$(wildcard common/*.c)))
AGENT_SRC    = $(sort $(filter-out %_win.c,$(wildcard agent-win/*/*.c)))
RECEIVER_SRC = $(sort $(filter-out %_win.c,$(wildcard receiver-unix/*.c)))
UNIT_SRC     = $(sort $(wildcard tests/unit/test_*.c))

COMMON_OBJ   = $(COMMON_SRC:%.c=$(OBJ)/%.o)
AGENT_OBJ    = $(AGENT_SRC:%.c=$(OBJ)/%.o)
RECEIVER_OBJ = $(RECEIVER_SRC:%.c=$(OBJ)/%.o)
UNIT_BIN     = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)

LIBSSH2	= $(DEPS)/lib/libssh2.a
AGENT_LIBS    = $(LIBSSH2) -lldap -llber -lssl -lcrypto -lz
RECEIVER_LIBS = -lcrypto -lz
COMMON_LIBS   = -lcrypto -lz

PROGS	= rcptsync-agent rcptsync-receiver

# Programs and unit tests are relinked when the build flavour changes
# (SAN=1 or not), even if the other flavour's objects are older.
FLAVOR	= $(if $(SAN),san,plain)
STAMP	= $(B)/flavor.stamp

.PHONY: all deps win check check-long check-san check-fresh unit demo bench fuzz \
	install deb clean banned FORCE

all: $(PROGS)

# Dependencies: tools/deps.sh is idempotent; the stamp only saves its
# dpkg queries on every make.
$(B)/deps-unix.stamp: tools/deps.sh
	tools/deps.sh apt unix
	@mkdir -p $(B) && touch $@
$(LIBSSH2): $(B)/deps-unix.stamp

$(STAMP): FORCE
	@mkdir -p $(B)
	@[ "$$(cat $@ 2>/dev/null)" = "$(FLAVOR)" ] || echo "$(FLAVOR)" >$@
deps: $(B)/deps-unix.stamp
	tools/deps.sh win

$(OBJ)/%.o: %.c | $(B)/deps-unix.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

rcptsync-agent: $(AGENT_OBJ) $(COMMON_OBJ) $(LIBSSH2) $(STAMP)
	$(CC) $(LDFLAGS) -o $@ $(AGENT_OBJ) $(COMMON_OBJ) $(AGENT_LIBS)

rcptsync-receiver: $(RECEIVER_OBJ) $(COMMON_OBJ) $(STAMP)
	$(CC) $(LDFLAGS) -o $@ $(RECEIVER_OBJ) $(COMMON_OBJ) $(RECEIVER_LIBS)

# For t-accepted-domains only: the receiver as one that reads format 1
# alone, as before format 2 (FORMAT.md 2.1), built from the same sources.
RECEIVER_V1  = $(B)/receiver-v1/rcptsync-receiver
$(B)/receiver-v1/bundle_read.o: common/bundle_read.c | $(B)/deps-unix.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DBUNDLE_READ_MAX=1 $(ALLCFLAGS) -MMD -MP -c -o $@ $<
$(RECEIVER_V1): $(RECEIVER_OBJ) $(COMMON_OBJ) $(B)/receiver-v1/bundle_read.o \
	    $(STAMP)
	$(CC) $(LDFLAGS) -o $@ $(RECEIVER_OBJ) \
	    $(filter-out %/bundle_read.o,$(COMMON_OBJ)) \
	    $(B)/receiver-v1/bundle_read.o $(RECEIVER_LIBS)

# Unit tests: one program per common/ module, linked with all of common/.
$(B)/tests/unit/%: tests/unit/%.c $(COMMON_OBJ) tests/unit/unit.h $(STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(ALLCFLAGS) $(LDFLAGS) -o $@ $< \
	    $(COMMON_OBJ) $(COMMON_LIBS)

# Unit tests of agent modules: test_M links agent-win/LAYER/M.o, the
# platform file the core calls for files (sys_unix.o: only libssh2.h's
# socket type, no libssh2 code) and all of common/.
AGENT_UNIT     = dir/dircache push/hostkey push/verdict ldap/ldap_page ldap/ldap_bind
SYS_UNIX_OBJ   = $(OBJ)/agent-win/platform/sys_unix.o
# ...and what else a module's test needs: the held entries of a page.
UNIT_EXTRA_ldap_page = $(OBJ)/agent-win/ldap/ldap_held.o
define agent_unit
$(B)/tests/unit/test_$(notdir $(1)): tests/unit/test_$(notdir $(1)).c \
	    $(OBJ)/agent-win/$(1).o $(SYS_UNIX_OBJ) $(COMMON_OBJ) \
	    $(UNIT_EXTRA_$(notdir $(1))) tests/unit/unit.h $(STAMP)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) -Itests/unit $$(ALLCFLAGS) $$(LDFLAGS) -o $$@ $$< \
	    $(OBJ)/agent-win/$(1).o $(UNIT_EXTRA_$(notdir $(1))) \
	    $(SYS_UNIX_OBJ) $$(COMMON_OBJ) $$(COMMON_LIBS)
endef
$(foreach u,$(AGENT_UNIT),$(eval $(call agent_unit,$(u))))

unit: $(UNIT_BIN)

win:
	$(MAKE) -f Makefile.mingw

banned:
	tools/check-banned.sh

check: deps banned all unit win $(RECEIVER_V1)
	tests/run

check-long: deps all unit win
	RS_LONG=1 tests/run

# The sanitizer subset CI runs after make check: the unit tests and the
# tests that push the most hostile and most varied input through the
# receiver and the agent, all built with ASan + UBSan (any report aborts).
# `make check SAN=1` runs the whole suite that way.
SAN_TESTS = tests/t-receiver.sh tests/t-receiver-kill.sh tests/t-hostile.sh \
	    tests/t-agent-export.sh tests/t-agent-sync.sh tests/t-fault-upload.sh
check-san: deps
	$(MAKE) SAN=1 all unit
	tests/run $(UNIT_BIN) $(SAN_TESTS)
	$(MAKE) all

# Not in CI (30-45 minutes): run it before resolving anything that
# touches set-up, dependencies or the harness.
check-fresh:
	tools/deps.sh apt
	tools/check-fresh.sh

demo: deps all
	tests/demo.sh

bench: deps all win
	tests/bench.sh

FUZZ_SECONDS ?= 60
fuzz: $(B)/deps-unix.stamp
	tests/fuzz/run.sh $(FUZZ_SECONDS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	for m in docs/*.8; do [ -f "$$m" ] && \
	    install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man8/; done; true
	for m in docs/*.5; do [ -f "$$m" ] && \
	    install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man5/; done; true
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(SYSCONFDIR)/rcptsync
	for u in $(UNITS); do \
	    sed 's|/usr/sbin/rcptsync-|$(SBINDIR)/rcptsync-|' "$$u" \
	        >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	install -m 0644 installer/rcptsync.sysusers \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/rcptsync.conf
	install -m 0644 installer/rcptsync.tmpfiles \
	    $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/rcptsync.conf
	[ -f $(DESTDIR)$(SYSCONFDIR)/rcptsync/receiver.conf ] || \
	    install -m 0644 installer/receiver.conf \
	        $(DESTDIR)$(SYSCONFDIR)/rcptsync/receiver.conf

# Packages (debian/, docs/ADMIN.md 10): dpkg-buildpackage in a copy of the
# tracked files, so the tree stays clean; the .deb files land in build/deb.
DEBDIR	= $(B)/deb
deb: $(B)/deps-unix.stamp
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/src/$(B)
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C $(DEBDIR)/src
	ln -s $(abspath $(DEPS)) $(DEBDIR)/src/$(DEPS)
	touch $(DEBDIR)/src/$(B)/deps-unix.stamp
	cd $(DEBDIR)/src && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
	    { tail -n 30 ../build.log; exit 1; }
	@ls $(DEBDIR)/*.deb

clean:
	rm -rf $(B)/obj $(B)/obj-san $(B)/tests $(PROGS)
	$(MAKE) -f Makefile.mingw clean

-include $(COMMON_OBJ:.o=.d) $(AGENT_OBJ:.o=.d) $(RECEIVER_OBJ:.o=.d)
