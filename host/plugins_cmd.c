/*
 * plugins_cmd.c -- `rlvr plugins [NAME|PATH ...]`: what plugins there are.
 *
 * Without arguments: every plugin found on the search path (RLVR_PLUGIN_PATH,
 * then the built-in folder), one line each: name, version, kind, flags and
 * description; files that fail to load are listed with the reason and make
 * the exit status 1. With arguments: each plugin's card, with its
 * configuration keys, their types, defaults, ranges and meaning.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "registry.h"
#include "util.h"

static int n_failed;

static void report(const char *path, const char *msg)
{
    n_failed++;
    fprintf(stderr, "rlvr plugins: %s\n", msg);
    (void)path;
}

static void card(const rlvr_loaded *p)
{
    const rlvr_plugin *d = &p->desc;
    char flags[128];
    rlvr_flags_text(d->flags, flags, sizeof flags);
    printf("%s %s (%s plugin, ABI %u.%u)\n", d->name, d->version ? d->version : "", p->is_lua ? "Lua" : "C",
           p->raw->abi_major, p->raw->abi_minor);
    printf("  %s\n", d->description ? d->description : "");
    printf("  file:  %s\n", p->path);
    printf("  flags: %s\n", flags);
    if (!d->n_options) {
        printf("  configuration: none\n");
        return;
    }
    printf("  configuration:\n");
    for (size_t i = 0; i < d->n_options; i++) {
        const rlvr_option *o = &d->options[i];
        char range[160] = "";
        if ((o->type == RLVR_OPT_INT || o->type == RLVR_OPT_NUMBER) && o->min < o->max)
            snprintf(range, sizeof range, "  range [%g, %g]", o->min, o->max);
        else if (o->type == RLVR_OPT_STRING && o->choices)
            snprintf(range, sizeof range, "  one of %s", o->choices);
        printf("    %-22s %-7s default %s%s\n", o->name, rlvr_option_type_name(o->type),
               o->default_value ? o->default_value : "(required)", range);
        if (o->help) printf("        %s\n", o->help);
    }
}

int rlvr_cmd_plugins(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: rlvr plugins [NAME|PATH ...]\n"
             "List the plugins found (RLVR_PLUGIN_PATH, then the built-in folder), or show\n"
             "each named plugin with its configuration keys.");
        return 0;
    }
    rlvr_registry reg;
    char err[1024];
    if (rlvr_registry_init(&reg, err, sizeof err)) { fprintf(stderr, "rlvr plugins: %s\n", err); return 2; }
    rlvr_services_set_registry(&reg);
    int rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            rlvr_loaded *p = rlvr_registry_get(&reg, argv[i], err, sizeof err);
            if (!p) {
                fprintf(stderr, "rlvr plugins: %s\n", err);
                rc = 1;
                continue;
            }
            if (i > 1) putchar('\n');
            card(p);
        }
    } else {
        rlvr_registry_load_all(&reg, report);
        printf("%-20s %-10s %-4s %-30s %s\n", "NAME", "VERSION", "KIND", "FLAGS", "DESCRIPTION");
        for (size_t i = 0; i < reg.n; i++) {
            const rlvr_loaded *p = reg.items[i];
            char flags[128];
            rlvr_flags_text(p->desc.flags, flags, sizeof flags);
            printf("%-20s %-10s %-4s %-30s %s\n", p->name, p->desc.version ? p->desc.version : "",
                   p->is_lua ? "Lua" : "C", flags, p->desc.description ? p->desc.description : "");
        }
        printf("\nsearched: ");
        for (size_t d = 0; d < reg.n_dirs; d++) printf("%s%s", d ? ":" : "", reg.dirs[d]);
        putchar('\n');
        if (n_failed) rc = 1;
    }
    rlvr_registry_free(&reg);
    return rc;
}
