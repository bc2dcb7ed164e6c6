# Static checks of the tree: KVP keys used by code exist in the schema; one clang-format style.
.PHONY: schema-usage check-format
schema-usage: $(BUILD)/gen/kvp-schema.h
	bash tests/tools/check-schema-usage.sh kvp-schema/avma-kvp.schema
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
CHECK_TARGETS += schema-usage check-format
