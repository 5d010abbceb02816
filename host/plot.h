/*
 * plot.h -- line charts as SVG files, for the end of a training run: one
 * panel per quantity (reward, accuracy, length...), stacked, sharing the x
 * axis (the step). Plain SVG 1.1 text that any browser opens; no library.
 *
 * Points whose y is not finite are gaps in the line. A series with one
 * point is drawn as a dot. Writing is atomic (a temporary file renamed).
 */
#ifndef RLVR_PLOT_H
#define RLVR_PLOT_H

#include <stddef.h>

struct rlvr_plot_series {
    const char *name;            /* for the legend */
    const double *x, *y;         /* [n] each */
    size_t n;
};

struct rlvr_plot_panel {
    const char *title;
    const struct rlvr_plot_series *series;
    size_t n_series;
};

/* Writes panels[0..n) to path, titled `title`, x labelled x_label. Returns 0,
 * or -1 with a message. */
int rlvr_plot_svg(const char *path, const char *title, const char *x_label, const struct rlvr_plot_panel *panels,
                  size_t n, char *err, size_t err_len);

#endif
