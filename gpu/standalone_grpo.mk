# gpu/standalone_grpo.mk: part of gpu/Makefile.standalone.
