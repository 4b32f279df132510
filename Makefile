# compacter: build the library, the `compacter` program and the tests.
#   make            library + program + tests (CUDA too when nvcc is found)
#   make CUDA=0     without the CUDA backend
#   make test       build, then run every test (GPU tests SKIP without a GPU)
#   make asan       the loader/tokenizer and training tests under AddressSanitizer (freed
#                   activation memory is poisoned for it: core/pool.c)
#   make emu        the CUDA backend's tests on the CPU: the .cu files compiled against the CUDA
#                   emulator (tests/cudaemu), no GPU or driver needed
#   make emu-race   the same with the emulator's race, bounds and initialisation checks
#   BUILD=dir       put objects somewhere else (lets several builds share a tree)

BUILD    ?= build
CC       ?= gcc
NVCC     ?= nvcc
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v $(NVCC) 2>/dev/null))
CUDA     ?= $(if $(CUDA_HOME),1,0)
CUDA_EMU ?= 0
OPT      ?= -O2
SAN      ?=

# OpenBLAS: the OpenMP build (Debian libopenblas-openmp-dev) shares our OpenMP thread pool;
# the pthread build's threads fight OpenMP's spinning workers (3x slower on 2 cores).
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null)
OPENBLAS_OMP := $(wildcard /usr/lib/$(MULTIARCH)/openblas-openmp/libopenblas.so)
ifneq ($(OPENBLAS_OMP),)
BLAS_CFLAGS = -I/usr/include/$(MULTIARCH)/openblas-openmp
BLAS_LIBS   = -L$(dir $(OPENBLAS_OMP)) -Wl,-rpath,$(dir $(OPENBLAS_OMP)) -lopenblas
else
BLAS_CFLAGS = $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   = -lopenblas
endif

WARN     = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS  += -std=c11 $(OPT) -g $(WARN) -fopenmp -D_GNU_SOURCE -I. $(SAN) $(BLAS_CFLAGS)
LDLIBS  += -fopenmp $(SAN) $(BLAS_LIBS) -ljansson -lcurl -lcrypto -larchive -lm -lpthread

LIB_SRC  = $(sort $(wildcard core/*.c kernels/cpu/*.c methods/*.c datasets/*.c \
                             experiments/*.c reports/*.c))
CLI_SRC  = $(sort $(wildcard cli/*.c))
TEST_SRC = $(sort $(wildcard tests/test_*.c))
CU_SRC   = $(sort $(wildcard kernels/cuda/*.cu))
# tests/*.cu: kernels of single tests (tests/cuda_semantics_kernels.cu), built like the
# backend's .cu files (nvcc, or cu2c.py under CUDA_EMU) but linked only into their test
TEST_CU_SRC = $(sort $(wildcard tests/*.cu))
BENCH_SRC = $(sort $(wildcard bench/*/bench_*.c))

ifeq ($(CUDA),1)
CFLAGS  += -DHAVE_CUDA=1 -I$(CUDA_HOME)/include
NVFLAGS  = -std=c++17 $(OPT) -g -I. -DHAVE_CUDA=1 -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-Wno-missing-field-initializers \
           -Werror all-warnings \
           -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
           -gencode arch=compute_90,code=compute_90
# nvcc emits C++ host code (kernel launch stubs use guarded statics): link libstdc++
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lcupti -lstdc++
endif

# CUDA_EMU=1 (`make emu`): the backend's .cu files, rewritten by tests/cudaemu/cu2c.py, compiled
# as C against the emulator's headers and linked with its runtime instead of CUDA's; CUPTI is
# replaced by a stand-in that cannot start (the profiler falls back to events).
ifeq ($(CUDA_EMU),1)
EMU_SRC  = $(BUILD)/cudaemu-src
CFLAGS  += -DHAVE_CUDA=1 -DCOMPACTER_CUDA_EMU=1 -Itests/cudaemu/include
LIB_SRC := $(filter-out experiments/profiler_cupti.c,$(LIB_SRC)) $(sort $(wildcard tests/cudaemu/*.c))
EMU_HDR  = $(patsubst %,$(EMU_SRC)/%,$(wildcard kernels/cuda/*.h))
EMU_CFLAGS = -I$(EMU_SRC) $(CFLAGS) -std=gnu11 -D__CUDACC__ -include cudaemu.h -ffp-contract=off \
             -Wno-unknown-pragmas -Wno-unused-function
# EMU_RACE=1 (`make emu-race`): the kernels' memory accesses instrumented by GCC's
# -fsanitize=thread and checked by tests/cudaemu/racecheck.c (ThreadSanitizer's runtime is not used)
ifeq ($(EMU_RACE),1)
CFLAGS  += -DCUDAEMU_RACECHECK=1
EMU_CFLAGS += -fsanitize=thread --param=tsan-instrument-func-entry-exit=0
endif
endif

# the .cu objects, built by nvcc or through the emulator
ifneq ($(filter 1,$(CUDA) $(CUDA_EMU)),)
CU_OBJ   = $(CU_SRC:%.cu=$(BUILD)/%.o)
TEST_CU_OBJ = $(TEST_CU_SRC:%.cu=$(BUILD)/%.o)
endif

# Objects depend on the flags they were built with: switching CUDA=0/1, SAN or OPT in the same
# BUILD directory rebuilds instead of linking stale objects.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW := $(CC) $(CFLAGS) $(NVFLAGS) $(LDLIBS) $(EMU_CFLAGS)
$(shell mkdir -p $(BUILD) && (echo '$(FLAGS_NOW)' | cmp -s - $(FLAGS_STAMP) || echo '$(FLAGS_NOW)' > $(FLAGS_STAMP)))

LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      = $(BUILD)/libcompacter.a
PROG     = $(BUILD)/compacter
BENCH_BIN = $(patsubst bench/%/,$(BUILD)/bench/%,$(dir $(BENCH_SRC)))

# V=1 shows the full commands
Q := $(if $(V),,@)

.PHONY: all test asan emu emu-race clean format bench table1 table2 efficiency lowresource rehearse-paper
all: $(PROG) $(TEST_BIN)

$(LIB): $(LIB_OBJ) $(CU_OBJ)
	@rm -f $@
	@echo "AR  $@"
	$(Q)ar rcs $@ $^

$(PROG): $(CLI_OBJ) $(LIB)
	@echo "LD  $@"
	$(Q)$(CC) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)
	@ln -sf $(BUILD)/compacter compacter 2>/dev/null || true

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(LIB) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC  $@"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(TEST_LINK) $(LIB) $(LDLIBS)

# the kernels of test_cuda_semantics and test_cudaemu_racecheck (none without CUDA: the tests
# SKIP there)
SEM_CU_OBJ  = $(filter %/cuda_semantics_kernels.o,$(TEST_CU_OBJ))
RACE_CU_OBJ = $(filter %/cudaemu_race_kernels.o,$(TEST_CU_OBJ))
$(BUILD)/tests/test_cuda_semantics: TEST_LINK = $(SEM_CU_OBJ)
$(BUILD)/tests/test_cuda_semantics: $(SEM_CU_OBJ)
$(BUILD)/tests/test_cudaemu_racecheck: TEST_LINK = $(RACE_CU_OBJ)
$(BUILD)/tests/test_cudaemu_racecheck: $(RACE_CU_OBJ)

$(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC  $<"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

ifeq ($(CUDA_EMU),1)
.PRECIOUS: $(EMU_SRC)/%
$(EMU_SRC)/%: % tests/cudaemu/cu2c.py
	@mkdir -p $(dir $@)
	$(Q)python3 tests/cudaemu/cu2c.py $< $@
$(BUILD)/%.o: $(EMU_SRC)/%.cu $(EMU_HDR) $(wildcard tests/cudaemu/include/*.h) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "EMU $*.cu"
	$(Q)$(CC) $(EMU_CFLAGS) -MMD -MP -x c -c -o $@ $<
else
$(BUILD)/%.o: %.cu $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "NVCC $<"
	$(Q)$(NVCC) $(NVFLAGS) -MMD -MP -c -o $@ $<
endif

# bench/<name>/bench_<name>.c -> $(BUILD)/bench/<name>; each folder has a run.sh
bench: $(BENCH_BIN)
$(BUILD)/bench/%: $(LIB) $(wildcard bench/*/bench_*.c) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	@echo "CC  $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $(wildcard bench/$*/bench_*.c) $(LIB) $(LDLIBS)

# Paper tables: run an experiment's grid (resumable), then report it.
#   make table1 [PRESET=paper]   -> results/table1.jsonl, reports/out/table1.{md,tex,csv}
#   SET="precision=bf16"         -> `--set` overrides for every run (compacter run --help), and
#                                   the report of those runs only (without SET: the preset's own)
#   JOBS: processes that share the grid side by side, each taking the next run no other
#   process holds (the run's lock) or has finished (the tiny preset: one per core,
#   single-threaded runs; the tiny model is made once, by the first, with every core).
# OpenMP workers sleep when idle (spinning ones slow small models down several times on a
# shared machine); an explicit OMP_WAIT_POLICY in the environment wins.
PRESET ?= tiny
SET ?=
RUN_SET = $(if $(strip $(SET)),--set $(strip $(SET)))
JOBS ?= $(if $(filter tiny,$(PRESET)),$(shell nproc 2>/dev/null || echo 1),1)
efficiency: JOBS = 1
table1 table2 efficiency lowresource: $(PROG)
	@export OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE}; \
	if [ "$(JOBS)" -le 1 ]; then \
	  $(BUILD)/compacter run experiments/$@.json --preset $(PRESET) $(RUN_SET); \
	else \
	  pids=; \
	  for k in $$(seq 1 $(JOBS)); do \
	    $(BUILD)/compacter run experiments/$@.json --preset $(PRESET) $(RUN_SET) --no-progress-bar & \
	    pids="$$pids $$!"; \
	  done; rc=0; for p in $$pids; do wait $$p || rc=1; done; exit $$rc; \
	fi
	$(BUILD)/compacter report results/$@.jsonl --preset $(PRESET) --set $(or $(strip $(SET)),none)
	@echo "tables and figures: reports/out/$@.md (.tex, .csv, .png, .svg); results: results/$@.jsonl"

test: all
	@BUILD=$(BUILD) bash tests/run_tests.sh $(TEST_BIN)

# The paper preset's code path end to end, offline, on the CPU, in seconds: a local mirror of
# the hub (t5-base's layout, a small model) and of the GLUE/SuperGLUE archives built from
# ../shared/data, `compacter run --preset paper` on 2 methods x 2 tasks of Table 1, 1 x 2 of
# Table 2, 3 methods of the efficiency grid (Table 3, the batch search within a small
# budget) and 3 runs of the low-resource grid (Figure 4), shrunk with --set, then `compacter
# report` on each (tests/test_paper_rehearsal.c; also part of `make test`). Prints every
# command and its output; keeps the scratch folder.
rehearse-paper: all
	@OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} BUILD=$(BUILD) COMPACTER_REHEARSAL_VERBOSE=1 \
	  COMPACTER_REHEARSAL_KEEP=1 $(BUILD)/tests/test_paper_rehearsal

# The tests again under AddressSanitizer + UBSan (the training ones catch activations freed
# while backward still reads them), all but the GPU tests and the paper rehearsal (its
# dozens of runs take minutes there; `BUILD=build-asan build-asan/tests/test_paper_rehearsal`).
asan:
	$(MAKE) BUILD=build-asan CUDA=0 OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" all
	@BUILD=build-asan bash tests/run_tests.sh $(filter-out %cuda_ops %profiler %paper_rehearsal, $(patsubst tests/%.c,build-asan/tests/%,$(TEST_SRC)))

# The CUDA backend's tests with every kernel run by the CUDA emulator (tests/cudaemu/README.md):
# kernel logic, barriers and warp exchanges checked against the CPU backend on any machine.
# Not a GPU: timing and the device's own rounding need one (races: `make emu-race`).
EMU_TESTS = test_cuda_semantics test_cuda_ops test_cli_cuda
emu:
	$(MAKE) BUILD=build-emu CUDA=0 CUDA_EMU=1 all
	@BUILD=build-emu bash tests/run_tests.sh $(patsubst %,build-emu/tests/%,$(EMU_TESTS))

# The same tests with the emulator's race detector (tests/cudaemu/racecheck.c): every kernel's
# loads and stores checked for races between blocks and between unsynchronised threads, for
# addresses outside every device allocation and for reads of memory nothing wrote
EMU_RACE_TESTS = test_cudaemu_racecheck $(EMU_TESTS)
emu-race:
	$(MAKE) BUILD=build-race CUDA=0 CUDA_EMU=1 EMU_RACE=1 all
	@BUILD=build-race bash tests/run_tests.sh $(patsubst %,build-race/tests/%,$(EMU_RACE_TESTS))

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) $(TEST_SRC) $(wildcard */*.h kernels/*/*.h) $(CU_SRC) $(TEST_CU_SRC)

clean:
	rm -rf $(BUILD) build-asan build-emu build-race compacter

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
