# gpu/standalone_model.mk: part of gpu/Makefile.standalone.
