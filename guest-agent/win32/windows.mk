# Windows guest agent: avma-guestd.exe (service), avma-guest.exe (CLI) and the MSI, cross-built with
# MinGW-w64 into $(BUILD)/windows/, and `make check-windows`, which runs them under Wine against the
# real Linux avma-hostd. Included by the top Makefile.

DEPS_PKGS += gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 wixl msitools

WIN_DIR := $(BUILD)/windows
WIN_OBJ_DIR := $(WIN_DIR)/obj
WIN_CC := x86_64-w64-mingw32-gcc
WIN_WINDMC := x86_64-w64-mingw32-windmc
WIN_WINDRES := x86_64-w64-mingw32-windres
# Windows 7 / Server 2008 R2 API level and up (Server 2012 R2 is the oldest guest); C99 printf
# formats from mingw's own stdio; no glib, Win32 API only.
WIN_CFLAGS := -std=c11 $(WARN) -O2 -municode -DUNICODE -D_UNICODE -DWIN32_LEAN_AND_MEAN \
              -D_WIN32_WINNT=0x0601 -D__USE_MINGW_ANSI_STDIO=1 -DAVMA_VERSION='"$(VERSION)"' \
              -ffunction-sections -fdata-sections \
              -I$(BUILD)/gen -Icommon -Iguest-agent/core -Iguest-agent/win32 -I$(WIN_OBJ_DIR)
WIN_LDFLAGS := -municode -static-libgcc -s -Wl,--gc-sections
WIN_LIBS := -ladvapi32 -lshell32 -lole32 -luuid -liphlpapi -lws2_32 -lbcrypt

WIN_PURE_SRC := $(PURE_SRC) $(BUILD)/gen/kvp-schema.c $(wildcard guest-agent/core/*.c)
WIN_AGENT_SRC := $(filter-out guest-agent/win32/guestd-win32.c guest-agent/win32/guest-cli-win32.c, \
                   $(wildcard guest-agent/win32/*.c))
WIN_LIB_OBJ := $(patsubst %.c,$(WIN_OBJ_DIR)/%.o,$(subst $(BUILD)/,,$(WIN_PURE_SRC)) $(WIN_AGENT_SRC))
WIN_MC_OBJ := $(WIN_OBJ_DIR)/messages-res.o

$(WIN_OBJ_DIR)/gen/kvp-schema.o: $(BUILD)/gen/kvp-schema.c $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_CFLAGS) -c -o $@ $<
$(WIN_OBJ_DIR)/%.o: %.c $(BUILD)/gen/kvp-schema.h $(WIN_OBJ_DIR)/messages.h
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_CFLAGS) -MMD -MP -c -o $@ $<

# The event message table (Event ID 12309 and the agent's notices), linked into avma-guestd.exe,
# which the event source's EventMessageFile names.
$(WIN_OBJ_DIR)/messages.h $(WIN_OBJ_DIR)/messages.rc: guest-agent/win32/messages.mc
	@mkdir -p $(WIN_OBJ_DIR)
	$(WIN_WINDMC) -h $(WIN_OBJ_DIR) -r $(WIN_OBJ_DIR) $<
$(WIN_MC_OBJ): $(WIN_OBJ_DIR)/messages.rc
	$(WIN_WINDRES) -I$(WIN_OBJ_DIR) -i $< -o $@

$(WIN_DIR)/libavma-win.a: $(WIN_LIB_OBJ)
	@rm -f $@
	x86_64-w64-mingw32-ar rcs $@ $^
$(WIN_DIR)/avma-guestd.exe: $(WIN_OBJ_DIR)/guest-agent/win32/guestd-win32.o $(WIN_MC_OBJ) \
                            $(WIN_DIR)/libavma-win.a
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)
$(WIN_DIR)/avma-guest.exe: $(WIN_OBJ_DIR)/guest-agent/win32/guest-cli-win32.o $(WIN_DIR)/libavma-win.a
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LIBS)

# wixl resolves File sources relative to its working folder only (absolute ones fail).
$(WIN_DIR)/avma-guest.msi: packaging/windows/avma-guest.wxs $(WIN_DIR)/avma-guestd.exe \
                           $(WIN_DIR)/avma-guest.exe
	cd $(WIN_DIR) && wixl -a x64 -D Version=$(VERSION) -D BinDir=. -o avma-guest.msi $(abspath $<)

WIN_EXES := $(WIN_DIR)/avma-guestd.exe $(WIN_DIR)/avma-guest.exe
.PHONY: windows check-windows
windows: $(WIN_EXES) $(WIN_DIR)/avma-guest.msi

# Under Wine (one template prefix cached in $(WIN_DIR)), against the real Linux host agent.
check-windows: windows $(BUILD)/avma-hostd $(BUILD)/avma-host $(BUILD)/avma-portsim
	BUILD=$(BUILD) bash tests/windows/wine-agent.sh
CHECK_TARGETS += check-windows
CHECK_PREBUILD += $(WIN_EXES) $(WIN_DIR)/avma-guest.msi

