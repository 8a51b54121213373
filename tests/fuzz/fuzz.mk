# make fuzz: each libFuzzer target for FUZZ_SECONDS (default 60) with ASan+UBSan, clang.
FUZZ_SECONDS ?= 60
PKGS    := sqlite3 yaml-0.1 lua5.4 libmicrohttpd jansson libsodium
CORE_DIRS := base lang store engine hosts kernel server cli
FCFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE $(CORE_DIRS:%=-Icore/%) -fsanitize=fuzzer,address,undefined $(shell pkg-config --cflags $(PKGS))
FLIBS   := $(shell pkg-config --libs $(PKGS)) -lpthread -lm -ldl
# the web UI's files, embedded by the top Makefile (make fuzz builds it first)
SRC     := $(filter-out core/cli/main.c,$(wildcard $(CORE_DIRS:%=core/%/*.c))) build/ui_assets.c
TARGETS := $(patsubst tests/fuzz/fuzz_%.c,build/fuzz/libfuzzer_%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: run
run: $(TARGETS)
	@for t in $(TARGETS); do name=$${t##*/libfuzzer_}; mkdir -p build/fuzz/corpus/$$name; \
	  echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 build/fuzz/corpus/$$name tests/fuzz/corpus/$$name \
	    || exit 1; done

build/fuzz/libfuzzer_%: tests/fuzz/fuzz_%.c $(SRC) $(wildcard core/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FCFLAGS) -o $@ $< $(SRC) $(FLIBS)
