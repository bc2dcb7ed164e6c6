# packaging/packaging.mk: install, Debian and RPM packages, packaging checks (issue #7).
# Included by the top-level Makefile, which defines BUILD, VERSION, BINS, DEPS_PKGS, CHECK_TARGETS.
#
#   make install [DESTDIR=...] [PREFIX=/usr/local] [SYSCONFDIR=/etc] [LOCALSTATEDIR=/var]
#   make install-host | install-guest | uninstall
#   make deb                 build/deb/*.deb (dpkg-buildpackage -us -uc -b in build/deb-src/)
#   make rpm                 build/rpm/RPMS/*/*.rpm (rpmbuild from a tarball of the tree)
#   make check-packaging     tests/packaging/smoke.sh
#   make packaging-security  systemd-analyze security --offline=true on the installed units

# debhelper and dpkg-dev build the .debs (Rules-Requires-Root: no, so no fakeroot), lintian
# checks them, rpm provides rpmbuild, systemd provides systemd-analyze, systemd-sysusers and
# systemd-tmpfiles for the smoke test, man-db checks the man pages.
DEPS_PKGS += debhelper dpkg-dev lintian rpm systemd man-db

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
SBINDIR ?= $(EXEC_PREFIX)/sbin
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
# bash-completion also reads $(XDG_DATA_DIRS)/bash-completion/completions, so /usr/local works.
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
# systemd and udev only read their own directories, whatever PREFIX is: ask their pkg-config
# files like other projects do (Debian 12: /lib/systemd/system, /lib/udev, /usr/lib/sysusers.d,
# /usr/lib/tmpfiles.d), with those values as fallbacks.
pkg_var = $(or $(shell $(PKG_CONFIG) --variable=$(2) $(1) 2>/dev/null),$(3))
UNITDIR ?= $(call pkg_var,systemd,systemdsystemunitdir,/lib/systemd/system)
UDEVRULESDIR ?= $(call pkg_var,udev,udevdir,/lib/udev)/rules.d
SYSUSERSDIR ?= $(call pkg_var,systemd,sysusersdir,/usr/lib/sysusers.d)
TMPFILESDIR ?= $(call pkg_var,systemd,tmpfilesdir,/usr/lib/tmpfiles.d)
# polkit only reads its own directories (/etc/polkit-1/rules.d and /usr/share/polkit-1/rules.d),
# whatever PREFIX is.
POLKITRULESDIR ?= /usr/share/polkit-1/rules.d
# Groups that give avma-hostd libvirt access and reach the channel sockets. Debian: libvirt and
# libvirt-qemu; Fedora names QEMU's group "qemu" (the spec file passes that).
LIBVIRT_GROUPS ?= libvirt libvirt-qemu
INSTALL ?= install

PKG_DIR := packaging
PKG_OUT := $(BUILD)/packaging

# Units are templates: ExecStart= and --config paths follow SBINDIR and SYSCONFDIR.
gen_unit = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
               -e 's|@LIBVIRT_GROUPS@|$(LIBVIRT_GROUPS)|g' $(PKG_DIR)/systemd/$(1).service.in

.PHONY: install install-host install-guest install-verify uninstall

# A config file is installed only when absent, so a reinstall never overwrites an operator's
# edits (packages get the same guarantee from dpkg conffiles and rpm %config(noreplace)).
define install_conf
	if [ -e "$(DESTDIR)$(2)" ]; then echo "keeping existing $(DESTDIR)$(2)"; \
	else $(INSTALL) -D -m 0644 $(1) "$(DESTDIR)$(2)"; fi
endef

install: install-host install-guest install-verify install-fleet

install-host: $(BUILD)/avma-hostd $(BUILD)/avma-host
	$(INSTALL) -D -m 0755 $(BUILD)/avma-hostd "$(DESTDIR)$(SBINDIR)/avma-hostd"
	$(INSTALL) -D -m 0755 $(BUILD)/avma-host "$(DESTDIR)$(BINDIR)/avma-host"
	$(INSTALL) -d "$(DESTDIR)$(UNITDIR)"
	$(call gen_unit,avma-hostd) > "$(DESTDIR)$(UNITDIR)/avma-hostd.service"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/avma-hostd.service"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/systemd/avma-host.sysusers "$(DESTDIR)$(SYSUSERSDIR)/avma-host.conf"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/systemd/avma-host.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/avma-host.conf"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/polkit/60-avma-host.rules "$(DESTDIR)$(POLKITRULESDIR)/60-avma-host.rules"
	$(call install_conf,$(PKG_DIR)/config/host.conf,$(SYSCONFDIR)/avma/host.conf)
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-hostd.8 "$(DESTDIR)$(MANDIR)/man8/avma-hostd.8"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-host.1 "$(DESTDIR)$(MANDIR)/man1/avma-host.1"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-host.conf.5 "$(DESTDIR)$(MANDIR)/man5/avma-host.conf.5"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/bash-completion/avma "$(DESTDIR)$(BASHCOMPDIR)/avma-host"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/libvirt/avma-channel.xml "$(DESTDIR)$(DATADIR)/avma/avma-channel.xml"
	@[ -n "$(DESTDIR)" ] || echo "install-host: now run: systemd-sysusers; systemd-tmpfiles --create" \
	  "$(TMPFILESDIR)/avma-host.conf; systemctl daemon-reload; systemctl enable --now avma-hostd"

install-guest: $(BUILD)/avma-guestd $(BUILD)/avma-guest
	$(INSTALL) -D -m 0755 $(BUILD)/avma-guestd "$(DESTDIR)$(SBINDIR)/avma-guestd"
	$(INSTALL) -D -m 0755 $(BUILD)/avma-guest "$(DESTDIR)$(BINDIR)/avma-guest"
	$(INSTALL) -d "$(DESTDIR)$(UNITDIR)"
	$(call gen_unit,avma-guestd) > "$(DESTDIR)$(UNITDIR)/avma-guestd.service"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/avma-guestd.service"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/udev/60-avma-guest.rules "$(DESTDIR)$(UDEVRULESDIR)/60-avma-guest.rules"
	$(call install_conf,$(PKG_DIR)/config/guest.conf,$(SYSCONFDIR)/avma/guest.conf)
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-guestd.8 "$(DESTDIR)$(MANDIR)/man8/avma-guestd.8"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-guest.1 "$(DESTDIR)$(MANDIR)/man1/avma-guest.1"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-guest.conf.5 "$(DESTDIR)$(MANDIR)/man5/avma-guest.conf.5"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/bash-completion/avma "$(DESTDIR)$(BASHCOMPDIR)/avma-guest"
	@[ -n "$(DESTDIR)" ] || echo "install-guest: now run: systemctl daemon-reload; udevadm control" \
	  "--reload; udevadm trigger --subsystem-match=virtio-ports --action=add"

# The offline verifier (issue #18): its own package, so an auditor installs no daemon.
install-verify: $(BUILD)/avma-verify
	$(INSTALL) -D -m 0755 $(BUILD)/avma-verify "$(DESTDIR)$(BINDIR)/avma-verify"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-verify.1 "$(DESTDIR)$(MANDIR)/man1/avma-verify.1"

# The fleet collector (issue #19): its own package, for a collector machine; hypervisors never
# need libpq. The pull timer is installed, not enabled (hosts must be configured first).
install-fleet: $(BUILD)/avma-fleet
	$(INSTALL) -D -m 0755 $(BUILD)/avma-fleet "$(DESTDIR)$(BINDIR)/avma-fleet"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-fleet.1 "$(DESTDIR)$(MANDIR)/man1/avma-fleet.1"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/man/avma-fleet.conf.5 "$(DESTDIR)$(MANDIR)/man5/avma-fleet.conf.5"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/systemd/avma-fleet-pull.service "$(DESTDIR)$(UNITDIR)/avma-fleet-pull.service"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/systemd/avma-fleet-pull.timer "$(DESTDIR)$(UNITDIR)/avma-fleet-pull.timer"
	$(INSTALL) -D -m 0644 $(PKG_DIR)/systemd/avma-fleet.sysusers "$(DESTDIR)$(SYSUSERSDIR)/avma-fleet.conf"
	$(call install_conf,$(PKG_DIR)/config/fleet.conf,$(SYSCONFDIR)/avma/fleet.conf)
	chmod 0640 "$(DESTDIR)$(SYSCONFDIR)/avma/fleet.conf"

# Removes programs, units, rules and man pages; keeps configuration and state (operator data).
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/avma-hostd" "$(DESTDIR)$(BINDIR)/avma-host" \
	      "$(DESTDIR)$(SBINDIR)/avma-guestd" "$(DESTDIR)$(BINDIR)/avma-guest" \
	      "$(DESTDIR)$(BINDIR)/avma-verify" "$(DESTDIR)$(BINDIR)/avma-fleet" \
	      "$(DESTDIR)$(UNITDIR)/avma-fleet-pull.service" "$(DESTDIR)$(UNITDIR)/avma-fleet-pull.timer" \
	      "$(DESTDIR)$(SYSUSERSDIR)/avma-fleet.conf" \
	      "$(DESTDIR)$(UNITDIR)/avma-hostd.service" "$(DESTDIR)$(UNITDIR)/avma-guestd.service" \
	      "$(DESTDIR)$(UDEVRULESDIR)/60-avma-guest.rules" \
	      "$(DESTDIR)$(SYSUSERSDIR)/avma-host.conf" "$(DESTDIR)$(TMPFILESDIR)/avma-host.conf" \
	      "$(DESTDIR)$(POLKITRULESDIR)/60-avma-host.rules" \
	      "$(DESTDIR)$(DATADIR)/avma/avma-channel.xml" \
	      "$(DESTDIR)$(BASHCOMPDIR)/avma-host" "$(DESTDIR)$(BASHCOMPDIR)/avma-guest" \
	      $(foreach m,man8/avma-hostd.8 man1/avma-host.1 man5/avma-host.conf.5 man8/avma-guestd.8 \
	                  man1/avma-guest.1 man5/avma-guest.conf.5 man1/avma-verify.1 \
	                  man1/avma-fleet.1 man5/avma-fleet.conf.5, \
	        "$(DESTDIR)$(MANDIR)/$(m)")
	-rmdir "$(DESTDIR)$(DATADIR)/avma" 2>/dev/null

# ---- packages ----------------------------------------------------------------------------------
# Both build in a scratch directory outside $(BUILD) (see packaging/tools/build-deb.sh) from a
# snapshot of the tree: every file git tracks or would add, never build output.
DEB_OUT := $(BUILD)/deb
RPM_OUT := $(BUILD)/rpm
DEB_JOBS ?= auto
.PHONY: deb rpm check-packaging packaging-security
deb:
	BUILD_DIR=$(BUILD) bash $(PKG_DIR)/tools/build-deb.sh $(DEB_OUT) $(VERSION) $(DEB_JOBS)

rpm:
	BUILD_DIR=$(BUILD) bash $(PKG_DIR)/tools/build-rpm.sh $(RPM_OUT) $(VERSION)

# ---- checks ----------------------------------------------------------------------------------
# About 16 s on a 2-core machine (the package build recompiles the tree), so it runs in
# `make check`.
CHECK_TARGETS += check-packaging
check-packaging:
	BUILD=$(BUILD) VERSION=$(VERSION) MAKE="$(MAKE)" bash tests/packaging/smoke.sh

# The packages under a real systemd: boots Debian 12 with both .debs installed in QEMU (software
# emulation) and checks the units as systemd and udev start them (tests/packaging/systemd-boot.sh).
# Needs root and Debian's mirror; the first run debootstraps (about 1 minute, cached in
# $(BUILD)/boot-cache), each run then takes about 80 s. Like `make e2e`, AVMA_SKIP_E2E=1 leaves it
# out of `make check`.
BOOT_PKGS := debootstrap qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs cpio kmod \
             socat file xz-utils binutils
.PHONY: check-systemd
check-systemd: deb
	@bash tests/tools/install-deps.sh $(BOOT_PKGS)
	BUILD=$(BUILD) bash tests/packaging/systemd-boot.sh
ifneq ($(AVMA_SKIP_E2E),1)
DEPS_PKGS += $(BOOT_PKGS)
CHECK_TARGETS += check-systemd
endif

# Exposure scores of our units (as installed with PREFIX=/usr) and, when its unit file is at
# hand, of Debian's qemu-guest-agent for comparison. Recorded in packaging/README.md.
# QGA_UNIT: Debian's qemu-guest-agent.service for comparison, e.g. extracted with
#   apt-get download qemu-guest-agent && dpkg -x qemu-guest-agent_*.deb x
QGA_UNIT ?= /lib/systemd/system/qemu-guest-agent.service
packaging-security:
	rm -rf $(PKG_OUT)/sec && mkdir -p $(PKG_OUT)/sec
	$(call gen_unit,avma-hostd) > $(PKG_OUT)/sec/avma-hostd.service
	$(call gen_unit,avma-guestd) > $(PKG_OUT)/sec/avma-guestd.service
	if [ -e $(QGA_UNIT) ]; then cp $(QGA_UNIT) $(PKG_OUT)/sec/; fi
	cd $(PKG_OUT)/sec && for u in *.service; do \
	  systemd-analyze security --offline=true $$u | tail -n 1; done
