# Integration tests: the real binaries against each other over stand-in channels.
PORTSIM := $(BUILD)/avma-portsim
$(PORTSIM): tests/tools/avma-portsim.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(filter-out -Wmissing-prototypes,$(WARN)) $(OPT) $(SAN) -o $@ $< $(LDFLAGS_EXTRA)

# A hostile guest (test-hostile.sh): valid-but-abusive frames built with the project's encoders.
HOSTILE := $(BUILD)/avma-hostile
$(HOSTILE): tests/tools/avma-hostile.c $(BUILD)/libavma-pure.a $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA)

# test-libvirt*.sh: a private libvirtd (test driver and real QEMU domains, TCG) as an unprivileged
# user; setpriv and useradd come with Debian's base system.
DEPS_PKGS += libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/test-*.sh))
.PHONY: integration
integration: $(BINS) $(PORTSIM) $(HOSTILE)
	BUILD=$(BUILD) bash tests/integration/run.sh $(INTEGRATION_TESTS)
CHECK_TARGETS += integration
CHECK_PREBUILD += $(PORTSIM) $(HOSTILE)
