# gpu/standalone_grpo.mk: part of gpu/Makefile.standalone -- the GRPO kernels.
# test_gpu_grpo_math: grpo_math.cuh's arithmetic replayed on the CPU (host
# code compiled by nvcc -x cu; no device needed) against host/logprob.c and
# host/grpo_loss.c; test_gpu_grpo_linear_host: the loss fused with the LM
# head, its chunk driver (gpu/grpo_linear.cuh) on a host emulation of cuBLAS
# and the loss kernels against the unfused CPU reference (plain C++, no
# device); test_gpu_grpo: the kernels against the same reference;
# test_gpu_grpo_linear: the fused linear loss against the unfused one and
# the CPU (both skip without a device). `make -f gpu/Makefile.standalone bench` builds
# gpu_grpo_bench and runs tests/bench/gpu_grpo.sh (beside PyTorch when
# python3 has torch).
CXX ?= g++
GRPO_CUH = $(TOP)/gpu/grpo_math.cuh $(TOP)/gpu/grpo_kernels.cuh $(TOP)/gpu/grpo_linear.cuh
GRPO_CASES = $(TOP)/tests/gpu_grpo_cases.h $(TOP)/tests/tap.h $(TOP)/host/grpo.h $(GPU_H)
TESTS += $(BUILD)/test_gpu_grpo_math $(BUILD)/test_gpu_grpo_linear_host $(BUILD)/test_gpu_grpo \
	$(BUILD)/test_gpu_grpo_linear
GRPO_LINEAR_CASES = $(GRPO_CASES) $(TOP)/tests/gpu_grpo_linear_cases.h

$(BUILD)/gpu_logprob.o $(BUILD)/gpu_grpo_loss.o $(BUILD)/gpu_grpo_linear.o: $(GRPO_CUH)

# The configuration's check, shared by host/grpo_loss.c and the GPU loss:
# in GPU_OBJS for the GPU programs, and added to the CPU programs that
# compile host/grpo_loss.c (test_grpo's own rule is Makefile.standalone's).
GPU_OBJS += $(BUILD)/grpo_check.o
$(BUILD)/grpo_check.o: $(TOP)/gpu/grpo_check.c $(GPU_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/test_grpo: $(BUILD)/grpo_check.o
# standalone_model.mk's GPU programs read GPU_OBJS before this file adds to
# it (their recipes link $^): grpo_loss.cu calls the check.
$(BUILD)/test_gpu_model $(BUILD)/gpu_model_bench: $(BUILD)/grpo_check.o

$(BUILD)/test_gpu_grpo_math.o: $(TOP)/tests/test_gpu_grpo_math.cc $(GRPO_CUH) $(GRPO_CASES) | $(BUILD)
	$(NVCC) -std=c++17 -O2 -x cu -I$(TOP)/gpu -I$(TOP)/host -I$(TOP)/tests \
		-Xcompiler -Wall,-Wextra -c -o $@ $<
$(BUILD)/test_gpu_grpo_math: $(BUILD)/test_gpu_grpo_math.o $(BUILD)/host_logprob.o $(BUILD)/host_grpo_loss.o \
		$(BUILD)/grpo_check.o
	$(NVCC) -o $@ $^ -lm

$(BUILD)/test_gpu_grpo_linear_host.o: $(TOP)/tests/test_gpu_grpo_linear_host.cc $(GRPO_CUH) $(GRPO_LINEAR_CASES) | $(BUILD)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -I$(TOP)/gpu -I$(TOP)/host -I$(TOP)/tests -c -o $@ $<
$(BUILD)/test_gpu_grpo_linear_host: $(BUILD)/test_gpu_grpo_linear_host.o $(BUILD)/host_logprob.o \
		$(BUILD)/host_grpo_loss.o $(BUILD)/grpo_check.o
	$(CXX) -o $@ $^ -lm

$(BUILD)/test_gpu_grpo.o: $(TOP)/tests/test_gpu_grpo.cc $(GRPO_CASES) | $(BUILD)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -I$(TOP)/gpu -I$(TOP)/host -I$(TOP)/tests -c -o $@ $<
$(BUILD)/test_gpu_grpo: $(BUILD)/test_gpu_grpo.o $(BUILD)/host_logprob.o $(BUILD)/host_grpo_loss.o \
		$(BUILD)/advantage_check.o $(GPU_OBJS)
	$(CXX) -o $@ $^ $(CUDA_LIBS) -lm

$(BUILD)/test_gpu_grpo_linear.o: $(TOP)/tests/test_gpu_grpo_linear.cc $(GRPO_LINEAR_CASES) | $(BUILD)
	$(CXX) -std=c++17 -O2 -Wall -Wextra -I$(TOP)/gpu -I$(TOP)/host -I$(TOP)/tests -c -o $@ $<
$(BUILD)/test_gpu_grpo_linear: $(BUILD)/test_gpu_grpo_linear.o $(BUILD)/host_logprob.o $(BUILD)/host_grpo_loss.o \
		$(BUILD)/advantage_check.o $(GPU_OBJS)
	$(CXX) -o $@ $^ $(CUDA_LIBS) -lm

$(BUILD)/gpu_grpo_bench: $(TOP)/tests/bench/gpu_grpo_bench.c $(BUILD)/advantage_check.o $(GPU_OBJS) $(GPU_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/advantage_check.o $(GPU_OBJS) $(CUDA_LIBS) -lm

bench: bench-grpo
bench-grpo: $(BUILD)/gpu_grpo_bench
	BENCH_BIN=$(abspath $(BUILD)) sh $(TOP)/tests/bench/gpu_grpo.sh
.PHONY: bench bench-grpo
