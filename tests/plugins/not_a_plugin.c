/* not_a_plugin.c -- a shared object without rlvr_plugin_entry: the host must
 * refuse it, saying it is not an rlvr plugin. */
__attribute__((visibility("default"))) int some_function(int x);
__attribute__((visibility("default"))) int some_function(int x) { return x + 1; }
