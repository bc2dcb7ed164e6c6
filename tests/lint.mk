# Static checks of the tree: KVP keys used by code exist in the schema; one clang-format style.
.PHONY: schema-usage check-format error-codes
schema-usage: $(BUILD)/gen/kvp-schema.h
	bash tests/tools/check-schema-usage.sh kvp-schema/avma-kvp.schema
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
# The ERROR codes: one list (the schema's @error lines) for the code and both documents.
error-codes:
	bash tests/tools/check-error-codes.sh kvp-schema/avma-kvp.schema
CHECK_TARGETS += schema-usage check-format error-codes
# 12310 field names only in host-agent/host-event.c's field table (issue 16). A file not yet
# converted can be named here (a glob) to get warnings instead of a failure; keep it empty.
EVENT_FIELDS_TOLERATE :=
.PHONY: event-fields
event-fields:
	bash tests/tools/check-event-fields.sh $(EVENT_FIELDS_TOLERATE:%=--tolerate '%')
CHECK_TARGETS += event-fields
# State-file names only in common/state-files.h. Tolerated: the Windows agent (left as it is, issue #21).
STATE_FILES_TOLERATE := 'guest-agent/win32/*'
# host-event.c's "host-id" is the metadata XML element, not the file.
STATE_FILES_ALLOW := host-agent/host-event.c:host-id
.PHONY: state-files
state-files:
	bash tests/tools/check-state-files.sh $(STATE_FILES_TOLERATE:%=--tolerate %) \
	  $(STATE_FILES_ALLOW:%=--allow %)
CHECK_TARGETS += state-files
# Every setting of host.conf and guest.conf documented with its range and default in
# avma-host.conf(5), avma-guest.conf(5) and avma-fleet.conf(5), from the tables the loaders use.
SETTINGS_DUMP := $(BUILD)/settings-dump
$(SETTINGS_DUMP): tests/tools/settings-dump.c $(BUILD)/libavma-host.a $(GUEST_LIBS) \
                  $(BUILD)/host-agent/fleet/fleet-config.o
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(HOST_PKGS)) -Ihost-agent -Iguest-agent \
	  -Iguest-agent/core -Ihost-agent/fleet -o $@ $< $(BUILD)/host-agent/fleet/fleet-config.o \
	  $(BUILD)/libavma-host.a $(GUEST_LIBS) \
	  $(call pc_libs,$(HOST_PKGS)) $(LDFLAGS_EXTRA)
.PHONY: settings-docs
settings-docs: $(SETTINGS_DUMP)
	bash tests/tools/check-settings.sh $(SETTINGS_DUMP) packaging/man
CHECK_TARGETS += settings-docs
