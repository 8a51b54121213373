# The CRM platform: one Makefile, readable in one sitting.
#   make          build bin/crm
#   make run      build, create var/demo.db with demo data, serve API + UI
#   make test     every test (unit, api, fuzz corpora), ending with "N passed, N failed"
#   make test SAN=1   the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz     libFuzzer targets for a bounded time each (clang)
#   make bench    speed figures beside raw floors measured in the same run
#   make clean

PKGS     := sqlite3 yaml-0.1 lua5.4 libmicrohttpd jansson libsodium libcurl
DEB_PKGS := libsqlite3-dev libyaml-dev liblua5.4-dev libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-openssl-dev tzdata pkg-config python3
CC       ?= cc
# Recursively expanded (=), so that pkg-config runs after `deps` has installed the packages.
# core/ is one folder per layer, bottom up; every layer's headers are on the include path.
CORE_DIRS := base lang store engine hosts kernel server cli
CORE_INC  := $(addprefix -Icore/,$(CORE_DIRS))
CFLAGS    = -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE $(CORE_INC)
LDLIBS    = $(shell pkg-config --libs $(PKGS)) -lpthread -lm -ldl
BUILD    := build

ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build/san
endif

CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

CORE_SRC := $(filter-out core/cli/main.c,$(wildcard $(CORE_DIRS:%=core/%/*.c)))
CORE_HDR := $(wildcard $(CORE_DIRS:%=core/%/*.h))
CORE_OBJ := $(CORE_SRC:core/%.c=$(BUILD)/core/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)
CRM      := $(BUILD)/crm

PLUGIN_DIRS := $(dir $(wildcard plugins/*/Makefile tests/plugins/*/Makefile))

.PHONY: all deps run test unit api fuzz-replay fuzz bench clean plugins test-ui
all: deps $(CRM) plugins
	@mkdir -p bin && ln -sf ../$(CRM) bin/crm

# C plugins build into their own folders (plugins/<name>/<name>.so), against sdk/ only.
plugins:
	@for d in $(PLUGIN_DIRS); do $(MAKE) --no-print-directory -C $$d || exit 1; done

# Installs missing Debian packages ($(1)) when root; otherwise prints the command.
define ensure_packages
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; fi; fi
endef

# Installs missing Debian packages when root; otherwise prints the exact command.
deps: $(BUILD)/.deps
$(BUILD)/.deps:
	$(call ensure_packages,$(DEB_PKGS))
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/core/%.o: core/%.c $(CORE_HDR) | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libcrm.a: $(CORE_OBJ)
	ar rcs $@ $^

# The web UI (core/server/ui/) embedded as byte arrays: build/ui_assets.c, generated, not committed.
UI_DIR   := core/server/ui
UI_FILES := $(wildcard $(UI_DIR)/*.html $(UI_DIR)/*.js $(UI_DIR)/*.css $(UI_DIR)/*.svg $(UI_DIR)/vendor/*)
$(BUILD)/ui_assets.c: $(UI_FILES) $(UI_DIR)/embed.py | $(BUILD)/.deps
	python3 $(UI_DIR)/embed.py $@ $(UI_FILES)
$(BUILD)/ui_assets.o: $(BUILD)/ui_assets.c core/server/ui.h
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/libcrm.a: $(BUILD)/ui_assets.o

$(CRM): $(BUILD)/core/cli/main.o $(BUILD)/libcrm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libcrm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libcrm.a $(LDLIBS)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(BUILD)/libcrm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/driver.c $(BUILD)/libcrm.a $(LDLIBS)

# make run INDUSTRY=pharma|automotive: that industry of metadata/app.yaml, in its own database
INDUSTRY ?= base
DEMO_DB = var/demo$(if $(filter base,$(INDUSTRY)),,-$(INDUSTRY)).db
run: all
	@mkdir -p var
	@if [ ! -f $(DEMO_DB) ]; then echo "creating $(DEMO_DB) with demo data ($(INDUSTRY))..."; \
	  $(CRM) --industry $(INDUSTRY) demo --db $(DEMO_DB) --records 1000 --seed 42 > /dev/null || exit 1; fi
	@echo "demo logins (every password is demo1234):"
	@$(CRM) --industry $(INDUSTRY) user list --db $(DEMO_DB)
	@echo "service console: #/console/case. Other industries: make run INDUSTRY=pharma, make run INDUSTRY=automotive"
	$(CRM) --industry $(INDUSTRY) serve --db $(DEMO_DB) --port $${PORT:-8080}

test: all $(UNIT_BIN) $(FUZZ_BIN)
	@CRM=$(CRM) BUILD=$(BUILD) sh tests/run.sh $(UNIT_BIN)


fuzz: deps build/ui_assets.c
	$(call ensure_packages,clang libclang-rt-14-dev)
	@$(MAKE) --no-print-directory -f tests/fuzz/fuzz.mk run

BENCH_BIN := $(BUILD)/bench/bench_object $(BUILD)/bench/bench_floor_import $(BUILD)/bench/bench_plugin $(BUILD)/bench/bench_workflow $(BUILD)/bench/bench_access $(BUILD)/bench/bench_quote $(BUILD)/bench/bench_report $(BUILD)/bench/bench_kpi $(BUILD)/bench/bench_search $(BUILD)/bench/bench_sla $(BUILD)/bench/bench_geo $(BUILD)/bench/bench_conflict $(BUILD)/bench/bench_points
$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench.h $(BUILD)/libcrm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libcrm.a $(LDLIBS)

bench: all $(BENCH_BIN)
	$(call ensure_packages,wrk curl)
	@CRM=$(CRM) BUILD=$(BUILD) sh tests/bench/run.sh

clean:
	rm -rf build bin
	rm -f plugins/*/*.so
