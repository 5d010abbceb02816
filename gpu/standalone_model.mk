# gpu/standalone_model.mk: part of gpu/Makefile.standalone -- the policy on
# the GPU: test_gpu_model_host (the graph and the kernels' arithmetic on the
# CPU, needs nvcc but no device), test_gpu_model (the kernels and the model
# on a device; skips without one) and gpu_model_bench (`make bench`, run by
# tests/bench/gpu_model.sh). libc, libm, CUDA and cuBLAS only.
MODEL_CUH = $(TOP)/gpu/model_math.cuh $(TOP)/gpu/model_graph.cuh $(TOP)/gpu/model_ops.cuh
MODEL_REF = $(BUILD)/ref_model.o $(BUILD)/ref_optim.o $(BUILD)/ref_logprob.o $(BUILD)/model_table.o
TESTS += $(BUILD)/test_gpu_model_host $(BUILD)/test_gpu_model
GPU_OBJS += $(BUILD)/model_table.o

$(BUILD)/gpu_model_kernels.o $(BUILD)/gpu_model.o: $(MODEL_CUH)
$(BUILD)/model_table.o: $(TOP)/gpu/model_table.c $(GPU_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
# The CPU references with their plain loops (RLVR_NO_BLAS), as the tests
# of the autotools build compile them.
$(BUILD)/ref_%.o: $(TOP)/host/%.c $(TOP)/host/model.h $(TOP)/host/optim.h $(TOP)/host/grpo.h $(GPU_H) | $(BUILD)
	$(CC) $(ALL_CFLAGS) -DRLVR_NO_BLAS -c -o $@ $<
$(BUILD)/test_gpu_model_host.o: $(TOP)/tests/test_gpu_model_host.cu $(MODEL_CUH) $(GPU_H) $(TOP)/tests/tap.h \
		$(TOP)/tests/test_gpu_model_step.h | $(BUILD)
	$(NVCC) -std=c++17 -O2 -I$(TOP)/gpu -I$(TOP)/host -I$(TOP)/tests -Xcompiler -Wall,-Wextra -c -o $@ $<
$(BUILD)/test_gpu_model_host: $(BUILD)/test_gpu_model_host.o $(BUILD)/ref_model.o $(BUILD)/ref_optim.o \
		$(BUILD)/ref_logprob.o $(BUILD)/model_table.o
	$(CC) $(CFLAGS) -o $@ $^ $(CUDA_LIBS) -lm
$(BUILD)/test_gpu_model.o: $(TOP)/tests/test_gpu_model_step.h
$(BUILD)/test_gpu_model: $(BUILD)/test_gpu_model.o $(MODEL_REF) $(GPU_OBJS) $(BUILD)/advantage_check.o
	$(CC) $(CFLAGS) -o $@ $(filter-out $(BUILD)/model_table.o,$^) $(BUILD)/model_table.o $(CUDA_LIBS) -lm

$(BUILD)/gpu_model_bench.o: $(TOP)/tests/bench/gpu_model_bench.c $(GPU_H) $(TOP)/host/model.h | $(BUILD)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(BUILD)/gpu_model_bench: $(BUILD)/gpu_model_bench.o $(BUILD)/ref_model.o $(GPU_OBJS) $(BUILD)/advantage_check.o
	$(CC) $(CFLAGS) -o $@ $(sort $^) $(CUDA_LIBS) -lm
bench: $(BUILD)/gpu_model_bench
.PHONY: bench
