# tests/e2e/e2e.mk: end-to-end tests with real QEMU (TCG) guests under a private, unprivileged
# libvirt session daemon. Included by the top Makefile. Needs root (creates a throw-away user).
#   make e2e           the product (avma-hostd/avma-host on the host, avma-guestd/avma-guest in
#                      guests); see tests/e2e/run.sh for options, E2E_MODE and E2E_KEEP
#   make e2e-plumbing  the harness alone: placeholder guests, no product binaries needed
#   make e2e-deps      install the packages below (only those missing)

E2E_PKGS := qemu-system-x86 libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients \
            linux-image-amd64 busybox-static cpio kmod libxml2-utils socat jq xz-utils \
            binutils gcc libc6-dev util-linux procps passwd file

.PHONY: e2e e2e-deps e2e-plumbing
e2e-deps:
	@bash tests/tools/install-deps.sh $(E2E_PKGS)

e2e: e2e-deps $(BUILD)/avma-hostd $(BUILD)/avma-host $(BUILD)/avma-guestd $(BUILD)/avma-guest
	BUILD=$(BUILD) bash tests/e2e/run.sh

e2e-plumbing: e2e-deps
	BUILD=$(BUILD) bash tests/e2e/run.sh --plumbing

# Part of `make check` (a full run takes ~3-4 min on 2 cores without KVM); AVMA_SKIP_E2E=1 leaves
# it out, and its packages out of `make deps`.
ifneq ($(AVMA_SKIP_E2E),1)
DEPS_PKGS += $(E2E_PKGS)
CHECK_TARGETS += e2e
endif
