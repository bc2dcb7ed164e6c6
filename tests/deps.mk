# `make deps`: install the Debian packages listed in DEPS_PKGS that are missing (nothing when all
# are present). Fragments append to DEPS_PKGS; the recipe expands it when it runs.
.PHONY: deps
deps:
	@bash tests/tools/install-deps.sh $(DEPS_PKGS)
