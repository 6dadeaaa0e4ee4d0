# banger: Firecracker microVMs behind a privilege-separated daemon.
#
#	make			build bangerd and bangerctl into $(OBJDIR)
#	make check		build and run the whole test suite
#	make check SANITIZE=1	the same under ASan+UBSan (in obj-san/)
#	make deps		install build and test dependencies (root)
#	make install		install under $(DESTDIR)$(PREFIX)

VERSION =	0.1.0

PREFIX ?=	/usr/local
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
SHAREDIR ?=	$(PREFIX)/share/banger
SYSCONFDIR ?=	/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INITDIR ?=	$(SYSCONFDIR)/init.d

CC ?=		cc
YACC =		bison -y
PKG_CONFIG ?=	pkg-config

ifeq ($(SANITIZE),1)
VALGRIND =
OBJDIR ?=	obj-san
SANFLAGS =	-fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer
else
# Unit tests run under valgrind: a leak or memory error fails them.
VALGRIND =	$(shell command -v valgrind >/dev/null 2>&1 && echo \
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=1)
OBJDIR ?=	obj
SANFLAGS =
endif

# The Ed25519 public key built into bangerd (signify format); a build
# without RELEASE_PUBKEY carries a placeholder and refuses to update.
RELEASE_PUBKEY ?=

CFLAGS ?=	-O2 -g
WARNFLAGS =	-Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter \
		-Wno-format-truncation
PKGS_COMMON =	libbsd-overlay
PKGS_BANGERD =	libbsd-overlay libevent_core libcap libseccomp devmapper \
		libnl-route-3.0 libnftables jansson libcurl libsodium ldns ext2fs \
		libarchive openssl
PKGS_CTL =	libbsd-overlay jansson

PKG_CFLAGS_D :=	$(shell $(PKG_CONFIG) --cflags $(PKGS_BANGERD))
PKG_LIBS_D :=	$(shell $(PKG_CONFIG) --libs $(PKGS_BANGERD)) -lcom_err \
		-pthread
PKG_CFLAGS_C :=	$(shell $(PKG_CONFIG) --cflags $(PKGS_CTL))
PKG_LIBS_C :=	$(shell $(PKG_CONFIG) --libs $(PKGS_CTL))
# bangerctl runs once per command: its libraries other than libc are
# linked in, so that starting it loads one shared object, not four.
CTL_LIBS :=	-Wl,-Bstatic $(shell $(PKG_CONFIG) --static --libs-only-l \
		    $(PKGS_CTL)) -Wl,-Bdynamic

ALL_CFLAGS =	$(CFLAGS) $(WARNFLAGS) $(SANFLAGS) -std=gnu11 \
		-D_GNU_SOURCE -DBANGER_VERSION='"$(VERSION)"' \
		-Icommon -Ibangerd/shared -Ibangerd -I$(B) $(PKG_CFLAGS_D) \
		$(PKG_CFLAGS_C)
# Full RELRO: every symbol bound at start and the GOT read-only after;
# no child forked later (a disk's, provision.c) looks symbols up again.
ALL_LDFLAGS =	$(LDFLAGS) $(SANFLAGS) -Wl,-z,relro,-z,now

COMMON_SRCS =	common/log.c common/imsg-buffer.c common/imsg.c common/imgref.c \
		common/validate.c common/wire.c
# bangerd's rooms, one folder per process (README, "Layout"):
#   parent/  the root parent: every root operation, and its validators
#   vm/ net/ update/  the workers, each chrooted with no capability once
#            sandbox_enter() ran; a room's preinit.c runs before that,
#            as root
#   shared/  what every process runs: its start, the imsg channel, the
#            sandbox, the signed manifest's checks
# roles.c is the parent's table of the workers' limits, the one file
# naming every room.  Each process is a program of its own: bangerd (the
# parent), and bangerd-vm, bangerd-net and bangerd-update (each worker
# room's main.c), installed side by side.
PARENT_SRCS =	$(wildcard bangerd/parent/*.c)
VM_SRCS =	$(wildcard bangerd/vm/*.c)
NET_SRCS =	$(wildcard bangerd/net/*.c)
UPDATE_SRCS =	$(wildcard bangerd/update/*.c)
PULL_SRCS =	$(wildcard bangerd/pull/*.c)
SHARED_SRCS =	$(wildcard bangerd/shared/*.c) common/signify.c
BANGERD_SRCS =	bangerd/roles.c $(PARENT_SRCS) $(VM_SRCS) $(NET_SRCS) \
		$(UPDATE_SRCS) $(PULL_SRCS) $(SHARED_SRCS)
WORKER_MAINS =	bangerd/vm/main.c bangerd/net/main.c bangerd/update/main.c \
		bangerd/pull/main.c
WORKER_MAIN_OBJS = $(WORKER_MAINS:%.c=$(B)/%.o)
# Every program, and the unit tests and test helpers, link the modules
# they use from an archive of every object but the ones holding main():
# the linker takes the objects a program calls into and nothing else,
# and --as-needed keeps only the libraries those objects call.
# bangerd/parent/curlurl.c is the parent's alone: its libcurl URL
# functions, loaded at their first use (see the file), would otherwise
# stand in for libcurl's in every program the archive links.
PARENT_ONLY =	bangerd/parent/curlurl.c
# bangerd/vm/curlload.c is bangerd-vm's alone, for the same reason: its
# curl_* functions call libcurl's, loaded once the provisioner is forked.
VM_ONLY =	bangerd/vm/curlload.c
MODULE_SRCS =	$(filter-out bangerd/parent/bangerd.c $(WORKER_MAINS) \
		    $(PARENT_ONLY) $(VM_ONLY), $(BANGERD_SRCS))
CTL_SRCS =	bangerctl/main.c bangerctl/output.c bangerctl/vm.c \
		bangerctl/vmls.c bangerctl/image.c bangerctl/update.c \
		bangerctl/console.c bangerctl/snapshot.c

# Objects live in $(OBJDIR)/build, the programs in $(OBJDIR).
B =		$(OBJDIR)/build
COMMON_OBJS =	$(COMMON_SRCS:%.c=$(B)/%.o)
CTL_OBJS =	$(CTL_SRCS:%.c=$(B)/%.o)
MODULE_OBJS =	$(MODULE_SRCS:%.c=$(B)/%.o) $(B)/bangerd/parent/parse.o
MODULE_LIB =	$(B)/libbangerd.a
COMMON_LIB =	$(B)/libcommon.a
PROGRAM_LINK =	$(MODULE_LIB) $(COMMON_LIB)
WORKER_PROGS =	$(OBJDIR)/bangerd-vm $(OBJDIR)/bangerd-net \
		$(OBJDIR)/bangerd-update $(OBJDIR)/bangerd-pull

# Tests live in the room of the code they test: regress/common,
# regress/parent, regress/vm, regress/net, regress/update,
# regress/bangerctl, and regress/daemon for the whole daemon across
# rooms.  In each, NAME_test.c is a unit test (linked with the modules
# it uses) and NAME.sh a shell test, run with the built binaries named
# in the environment; root tests skip, saying so, without root.
# make check ROOMS="vm net" runs those rooms' tests alone.
TEST_ROOMS =	common parent vm net update pull bangerctl daemon
ROOMS ?=	$(TEST_ROOMS)
ifneq ($(filter-out $(TEST_ROOMS),$(ROOMS)),)
$(error ROOMS names no such room: $(filter-out $(TEST_ROOMS),$(ROOMS)) \
    (the rooms: $(TEST_ROOMS)))
endif
UNIT_SRCS =	$(foreach r,$(ROOMS),$(wildcard regress/$(r)/*_test.c))
UNIT_BINS =	$(UNIT_SRCS:%.c=$(OBJDIR)/%)
UNIT_LINK =	$(MODULE_LIB) $(COMMON_OBJS)
ROOT_TESTS =	$(sort $(wildcard regress/docs/*.sh)) \
		$(foreach r,$(ROOMS),$(sort $(wildcard regress/$(r)/*.sh)))
HELPERS_SRCS =	$(filter-out regress/helpers/fc-standin.c \
		    regress/helpers/jailer-standin.c, \
		    $(wildcard regress/helpers/*.c))
HELPERS_BINS =	$(HELPERS_SRCS:%.c=$(OBJDIR)/%) \
		$(OBJDIR)/regress/helpers/fc-standin-idle \
		$(OBJDIR)/regress/helpers/fc-standin-qemu \
		$(OBJDIR)/regress/helpers/jailer-standin

all: $(OBJDIR)/bangerd $(WORKER_PROGS) $(OBJDIR)/bangerctl

$(OBJDIR)/bangerd: $(B)/bangerd/parent/bangerd.o \
    $(PARENT_ONLY:%.c=$(B)/%.o) $(PROGRAM_LINK)
	$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $^ $(PKG_LIBS_D)

$(OBJDIR)/bangerd-vm: $(B)/bangerd/vm/main.o $(VM_ONLY:%.c=$(B)/%.o) \
    $(PROGRAM_LINK)
	$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $^ $(PKG_LIBS_D)

$(OBJDIR)/bangerd-%: $(B)/bangerd/%/main.o $(PROGRAM_LINK)
	$(CC) $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $^ $(PKG_LIBS_D)
# Not intermediate files to delete: make tcb counts these objects.
.SECONDARY: $(WORKER_MAIN_OBJS) $(PARENT_ONLY:%.c=$(B)/%.o) \
    $(VM_ONLY:%.c=$(B)/%.o)

$(MODULE_LIB): $(MODULE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(COMMON_LIB): $(COMMON_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(OBJDIR)/bangerctl: $(CTL_OBJS) $(COMMON_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CTL_LIBS)

$(B)/bangerd/parent/parse.c: bangerd/parent/parse.y
	@mkdir -p $(@D)
	$(YACC) -o $@ $<

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/bangerd/parent/parse.o: $(B)/bangerd/parent/parse.c
	$(CC) $(ALL_CFLAGS) -Wno-unused-function -Wno-unused-but-set-variable \
	    -c -o $@ $<

$(OBJDIR)/regress/%_test: regress/%_test.c $(UNIT_LINK) regress/regress.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iregress $(ALL_LDFLAGS) -o $@ $< $(UNIT_LINK) \
	    $(PKG_LIBS_D) $(PKG_LIBS_C)

# The parent's late libcurl, linked as bangerd links it: --as-needed,
# and nothing else of libcurl called, so libcurl is not NEEDED.
$(OBJDIR)/regress/parent/curlurl_test: regress/parent/curlurl_test.c \
    $(PARENT_ONLY:%.c=$(B)/%.o) $(UNIT_LINK) regress/regress.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iregress $(ALL_LDFLAGS) -Wl,--as-needed -o $@ $< \
	    $(PARENT_ONLY:%.c=$(B)/%.o) $(UNIT_LINK) $(PKG_LIBS_D) $(PKG_LIBS_C)

# bangerctl's JSON writer, against jansson.
$(OBJDIR)/regress/bangerctl/jsonw_test: regress/bangerctl/jsonw_test.c \
    $(B)/bangerctl/output.o $(COMMON_OBJS) regress/regress.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iregress -I. $(ALL_LDFLAGS) -o $@ $< \
	    $(B)/bangerctl/output.o $(COMMON_OBJS) $(PKG_LIBS_C)

HELPER_LINK =	$(MODULE_LIB) $(COMMON_OBJS)
$(OBJDIR)/regress/helpers/%: regress/helpers/%.c $(HELPER_LINK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iregress $(ALL_LDFLAGS) -o $@ $< $(HELPER_LINK) \
	    $(PKG_LIBS_D) $(PKG_LIBS_C)

# The release key built into bangerd (scripts/embed-pubkey.sh): checked
# on every make, the header rewritten only when the key changes.
$(B)/pubkey.h: FORCE
	@mkdir -p $(@D)
	@sh scripts/embed-pubkey.sh $(RELEASE_PUBKEY) >$@.tmp && \
	    if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(B)/bangerd/shared/manifest.o: $(B)/pubkey.h

# The Firecracker-API stand-in, in its two modes.  Static, like
# Firecracker itself, so that it runs inside a VM's jail; never built
# with the sanitizers (they do not link statically).
STANDIN_FLAGS =	$(CFLAGS) $(WARNFLAGS) -std=gnu11 -D_GNU_SOURCE -static \
		$(shell $(PKG_CONFIG) --cflags libbsd-overlay jansson)
STANDIN_LIBS =	$(shell $(PKG_CONFIG) --static --libs libbsd-overlay jansson)
$(OBJDIR)/regress/helpers/fc-standin-idle: regress/helpers/fc-standin.c \
    regress/helpers/fc-standin-serde.h
	@mkdir -p $(@D)
	$(CC) $(STANDIN_FLAGS) -o $@ $< $(STANDIN_LIBS)

$(OBJDIR)/regress/helpers/fc-standin-qemu: regress/helpers/fc-standin.c \
    regress/helpers/fc-standin-serde.h
	@mkdir -p $(@D)
	$(CC) $(STANDIN_FLAGS) -DSTANDIN_MODE_QEMU -o $@ $< $(STANDIN_LIBS)

# The jailer stand-in: static, like the real jailer, and never built with
# the sanitizers (it runs as root between namespaces and a chroot).
$(OBJDIR)/regress/helpers/jailer-standin: regress/helpers/jailer-standin.c
	@mkdir -p $(@D)
	$(CC) $(STANDIN_FLAGS) -o $@ $< $(STANDIN_LIBS)

check-build: all $(WORKER_MAIN_OBJS) $(UNIT_BINS) $(HELPERS_BINS)

# What runs as root in bangerd, by file, with its lines (scripts/tcb.sh).
tcb: all $(WORKER_MAIN_OBJS)
	@sh scripts/tcb.sh $(OBJDIR)

TEST_ENV =	OBJDIR=$(OBJDIR) BANGERD=$(CURDIR)/$(OBJDIR)/bangerd \
		BANGERCTL=$(CURDIR)/$(OBJDIR)/bangerctl \
		HELPERS=$(CURDIR)/$(OBJDIR)/regress/helpers \
		SANITIZE=$(SANITIZE) TOP=$(CURDIR) VALGRIND="$(VALGRIND)"

check: check-build
	$(TEST_ENV) ./regress/run.sh $(UNIT_BINS) \
	    $(OBJDIR)/regress/helpers/dns-replay $(ROOT_TESTS)

$(OBJDIR)/bench/%: bench/%.c $(COMMON_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(COMMON_OBJS) $(PKG_LIBS_D)

# The long forms of two root tests: make chaos N=500 [W=100] kills the
# parent N times and the workers W times in concurrent lifecycles and
# prints the leftovers by kind; make scale N=4000 runs that many VMs and
# restarts bangerd under them.
N ?=
W ?=
chaos: check-build
	$(TEST_ENV) CHAOS_PARENT_KILLS=$(or $(N),500) \
	    CHAOS_WORKER_KILLS=$(or $(W),100) ./regress/run.sh \
	    regress/daemon/chaos.sh

scale: check-build
	$(TEST_ENV) SCALE_VMS=$(or $(N),4000) ./regress/run.sh \
	    regress/daemon/scale.sh

# Benchmarks print figures and ratios (one table, banger against the
# shell recipe in the same run); they are not part of check.
# BENCH_ONLY, BENCH_RUNS, BENCH_VMS...: see bench/bench.sh.
bench: check-build $(OBJDIR)/bench/imsg_bench $(OBJDIR)/bench/life_bench \
    $(OBJDIR)/bench/proc_bench
	$(TEST_ENV) bash bench/bench.sh

# libFuzzer on the DNS query path (clang); its corpus is replayed by
# dns-replay in make check.
FUZZ_CC ?=	clang
FUZZ_TIME ?=	60
FUZZ_FLAGS =	-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -g -O1 -std=gnu11 -D_GNU_SOURCE \
		-Icommon -Ibangerd/shared -Ibangerd $(shell $(PKG_CONFIG) --cflags \
		libbsd-overlay ldns libevent_core)
FUZZ_LIBS =	$(shell $(PKG_CONFIG) --libs libbsd-overlay ldns libevent_core)
# The responder's files: the answers (the parsers), its table, forwarding
# and serving (dns_free() stops serving, so all four link).
FUZZ_DNS_SRCS =	bangerd/net/dns.c bangerd/net/dnstable.c bangerd/net/dnsfwd.c \
		bangerd/net/dnsserve.c
$(OBJDIR)/fuzz/dns_fuzz: regress/fuzz/dns_fuzz.c $(FUZZ_DNS_SRCS) \
    bangerd/net/dns.h common/log.c common/validate.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ regress/fuzz/dns_fuzz.c \
	    $(FUZZ_DNS_SRCS) common/log.c common/validate.c $(FUZZ_LIBS)

fuzz: $(OBJDIR)/fuzz/dns_fuzz
	@mkdir -p $(OBJDIR)/fuzz/dns-corpus
	$(OBJDIR)/fuzz/dns_fuzz -max_total_time=$(FUZZ_TIME) \
	    -artifact_prefix=$(OBJDIR)/fuzz/ $(OBJDIR)/fuzz/dns-corpus \
	    regress/fuzz/corpus/dns

# From nothing to a shell in a VM and back: a private daemon in its own
# network namespace, the test guest, two VMs, ssh by name (scripts/demo.sh).
demo: all $(OBJDIR)/regress/helpers/fc-standin-qemu \
    $(OBJDIR)/regress/helpers/jailer-standin
	OBJDIR=$(OBJDIR) bash scripts/demo.sh

# The release check: the guest scenarios end to end, JOBS VMs at a time
# (regress/smoke/smoke.sh); real Firecracker and /dev/kvm where they are.
JOBS ?=
smoke: check-build
	$(TEST_ENV) SMOKE_JOBS=$(or $(JOBS),4) ./regress/run.sh \
	    regress/smoke/smoke.sh

# The guest the qemu checks boot (fc_standin.sh builds it when missing),
# cached in /var/cache/banger-guest.  A bash script: regress/docs/lint.sh
# checks that each script is run with its #! interpreter.
guest:
	bash scripts/build-guest.sh

guest-check: guest
	bash scripts/build-guest.sh --check

deps:
	sh scripts/deps.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/banger $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(INITDIR) $(DESTDIR)$(SHAREDIR)/guest
	install -m 0755 $(OBJDIR)/bangerd $(DESTDIR)$(SBINDIR)/bangerd
	install -m 0755 guest/banger-identity $(DESTDIR)$(SHAREDIR)/guest/
	install -m 0644 guest/banger-identity.service \
	    $(DESTDIR)$(SHAREDIR)/guest/
	install -m 0755 $(WORKER_PROGS) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(OBJDIR)/bangerctl $(DESTDIR)$(SBINDIR)/bangerctl
	install -m 0644 man/bangerd.conf.5 man/banger-manifest.5 \
	    $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/banger-privileges.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 man/bangerd.8 man/bangerctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 etc/bangerd.conf \
	    $(DESTDIR)$(SYSCONFDIR)/banger/bangerd.conf.example
	sed 's,/usr/local/sbin/,$(SBINDIR)/,' etc/bangerd.service \
	    >$(DESTDIR)$(SYSTEMDUNITDIR)/bangerd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/bangerd.service
	sed 's,/usr/local/sbin/,$(SBINDIR)/,' etc/rc.bangerd \
	    >$(DESTDIR)$(INITDIR)/bangerd
	chmod 0755 $(DESTDIR)$(INITDIR)/bangerd

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bangerd $(DESTDIR)$(SBINDIR)/bangerctl \
	    $(DESTDIR)$(SBINDIR)/bangerd-vm $(DESTDIR)$(SBINDIR)/bangerd-net \
	    $(DESTDIR)$(SBINDIR)/bangerd-update \
	    $(DESTDIR)$(SBINDIR)/bangerd-pull \
	    $(DESTDIR)$(MANDIR)/man5/bangerd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/banger-manifest.5 \
	    $(DESTDIR)$(MANDIR)/man7/banger-privileges.7 \
	    $(DESTDIR)$(MANDIR)/man8/bangerd.8 \
	    $(DESTDIR)$(MANDIR)/man8/bangerctl.8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/bangerd.service \
	    $(DESTDIR)$(INITDIR)/bangerd \
	    $(DESTDIR)$(SYSCONFDIR)/banger/bangerd.conf.example \
	    $(DESTDIR)$(SHAREDIR)/guest/banger-identity \
	    $(DESTDIR)$(SHAREDIR)/guest/banger-identity.service
	-rmdir $(DESTDIR)$(SYSCONFDIR)/banger $(DESTDIR)$(SHAREDIR)/guest \
	    $(DESTDIR)$(SHAREDIR) 2>/dev/null

clean:
	rm -rf obj obj-san

FORCE:

.PHONY: all bench chaos check check-build demo deps fuzz guest guest-check \
	install scale smoke tcb uninstall clean FORCE

-include $(shell find $(OBJDIR) -name '*.d' 2>/dev/null)
