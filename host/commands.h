/*
 * commands.h -- the commands of the rlvr program, each a main of its own
 * (argv[0] is the command's name). They alone, with main.c, decide exit
 * statuses: 0 success, 1 some samples or plugins failed, 2 nothing started.
 */
#ifndef RLVR_COMMANDS_H
#define RLVR_COMMANDS_H

int rlvr_cmd_score(int argc, char **argv);
int rlvr_cmd_plugins(int argc, char **argv);
int rlvr_cmd_generate(int argc, char **argv);
int rlvr_cmd_sft(int argc, char **argv);
int rlvr_cmd_train(int argc, char **argv);
int rlvr_cmd_eval(int argc, char **argv);
int rlvr_cmd_sample(int argc, char **argv);
int rlvr_cmd_pipeline(int argc, char **argv);
int rlvr_cmd_verify(int argc, char **argv);
int rlvr_cmd_serve(int argc, char **argv);
int rlvr_cmd_exec(int argc, char **argv);
#endif
