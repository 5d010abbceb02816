/*
 * main.c -- the `rlvr` program: dispatches to its commands.
 *
 * Only this file and the cmd_* functions it calls decide exit statuses;
 * everything beneath returns status codes with messages.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gpu.h"
#include "isolate.h"
#include "rlvr_plugin.h"


static void help(FILE *f)
{
    fprintf(f,
            "usage: rlvr COMMAND [options]\n"
            "rlvr %s: reinforcement learning with verifiable rewards.\n"
            "\n"
            "commands:\n"
            "  score     score JSONL samples with reward plugins or a Lua reward mix\n"
            "  plugins   list the plugins found, or show one with its configuration\n"
            "  generate  completions from a policy checkpoint, as JSONL samples\n"
            "  sft       supervised fine-tuning of a policy (CONFIG.lua)\n"
            "  train     GRPO with reward plugins: the R1-Zero loop (CONFIG.lua)\n"
            "  eval      pass@1, pass@k and maj@k of a policy on JSONL problems\n"
            "  sample    rejection sampling into SFT data: generate, score, filter, dedupe (CONFIG.lua)\n"
            "  pipeline  the R1 stages chained (sft, train, sample, eval), resumable stage by stage (PIPELINE.lua)\n"
            "  verify    check one answer with a verifier (rlvr verify math --gold G --pred P)\n"
            "  serve     the reward server: a mix over HTTP for verl, OpenRLHF and TRL\n"
            "  exec      run one program in the code sandbox (rlvr exec --lang python FILE)\n"
            "  version   versions of rlvr, its plugin ABI and its GPU backend\n"
            "\n"
            "`rlvr COMMAND --help` describes a command.\n",
            PACKAGE_VERSION);
}

int main(int argc, char **argv)
{
    /* A closed pipe (a worker that died, `| head`) is an error, not a kill. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        help(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "score") == 0) return rlvr_cmd_score(argc - 1, argv + 1);
    if (strcmp(cmd, "plugins") == 0) return rlvr_cmd_plugins(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0) return rlvr_cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "sft") == 0) return rlvr_cmd_sft(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0) return rlvr_cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return rlvr_cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "sample") == 0) return rlvr_cmd_sample(argc - 1, argv + 1);
    if (strcmp(cmd, "pipeline") == 0) return rlvr_cmd_pipeline(argc - 1, argv + 1);
    if (strcmp(cmd, "verify") == 0) return rlvr_cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return rlvr_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "exec") == 0) return rlvr_cmd_exec(argc - 1, argv + 1);
    if (strcmp(cmd, "__worker") == 0) return rlvr_worker_main(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        char gpu[256];
        rlvr_gpu_describe(gpu, sizeof gpu);
        printf("rlvr %s\nplugin ABI %d.%d\nGPU backend: %s\n", PACKAGE_VERSION, RLVR_ABI_MAJOR, RLVR_ABI_MINOR, gpu);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        help(stdout);
        return 0;
    }
    fprintf(stderr, "rlvr: unknown command '%s'\n", cmd);
    help(stderr);
    return 2;
}
