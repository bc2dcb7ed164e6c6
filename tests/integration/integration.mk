# Integration tests: the real binaries against each other over stand-in channels.
PORTSIM := $(BUILD)/avma-portsim
$(PORTSIM): tests/tools/avma-portsim.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(filter-out -Wmissing-prototypes,$(WARN)) $(OPT) $(SAN) -o $@ $< $(LDFLAGS_EXTRA)

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/test-*.sh))
.PHONY: integration
integration: $(BINS) $(PORTSIM)
	BUILD=$(BUILD) bash tests/integration/run.sh $(INTEGRATION_TESTS)
CHECK_TARGETS += integration
