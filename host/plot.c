/*
 * plot.c -- SVG line charts (see plot.h).
 *
 * Layout: a 760-pixel-wide page; each panel is 180 pixels of plot area with
 * its title above, the y range (padded by 5%) labelled at both ends and the
 * middle, and the x range labelled under the last panel. Colours cycle
 * through a fixed palette; the legend sits at the panel's top right.
 */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
enum { WIDTH = 760, LEFT = 70, RIGHT = 20, TOP = 40, PANEL_H = 180, GAP = 50, BOTTOM = 50 };

static void xml_text(rlvr_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '<') rlvr_buf_adds(b, "&lt;");
        else if (*s == '>') rlvr_buf_adds(b, "&gt;");
        else if (*s == '&') rlvr_buf_adds(b, "&amp;");
        else rlvr_buf_addc(b, *s);
    }
}

static void range_of(const struct rlvr_plot_panel *p, int use_x, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->series[s].n; i++) {
            double v = use_x ? p->series[s].x[i] : p->series[s].y[i];
            if (isfinite(v) && isfinite(p->series[s].x[i]) && isfinite(p->series[s].y[i])) {
                if (v < *lo) *lo = v;
                if (v > *hi) *hi = v;
            }
        }
}

int rlvr_plot_svg(const char *path, const char *title, const char *x_label, const struct rlvr_plot_panel *panels,
                  size_t n, char *err, size_t err_len)
{
    double xlo = INFINITY, xhi = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        double lo, hi;
        range_of(&panels[k], 1, &lo, &hi);
        if (lo < xlo) xlo = lo;
        if (hi > xhi) xhi = hi;
    }
    if (!(xlo <= xhi)) xlo = 0, xhi = 1;
    if (xhi == xlo) xhi = xlo + 1;
    int height = TOP + (int)n * (PANEL_H + GAP) + BOTTOM - GAP;
    int plot_w = WIDTH - LEFT - RIGHT;
    rlvr_buf b = {0};
    rlvr_buf_printf(&b,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                    "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">",
                    WIDTH, height, WIDTH, height, LEFT);
    xml_text(&b, title);
    rlvr_buf_adds(&b, "</text>\n");
    for (size_t k = 0; k < n; k++) {
        const struct rlvr_plot_panel *p = &panels[k];
        int y0 = TOP + (int)k * (PANEL_H + GAP) + 16;
        double lo, hi;
        range_of(p, 0, &lo, &hi);
        if (!(lo <= hi)) lo = 0, hi = 1;
        double pad = hi > lo ? 0.05 * (hi - lo) : (fabs(hi) > 0 ? 0.05 * fabs(hi) : 0.5);
        lo -= pad, hi += pad;
        rlvr_buf_printf(&b, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", LEFT, y0 - 6);
        xml_text(&b, p->title);
        rlvr_buf_adds(&b, "</text>\n");
        rlvr_buf_printf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n",
                        LEFT, y0, plot_w, PANEL_H);
        for (int t = 0; t <= 2; t++) {
            double v = lo + (hi - lo) * t / 2.0;
            int y = y0 + PANEL_H - (int)lround(PANEL_H * t / 2.0);
            rlvr_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>\n", LEFT - 6, y + 4, v);
            if (t == 1)
                rlvr_buf_printf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n", LEFT, y,
                                LEFT + plot_w, y);
        }
        for (size_t s = 0; s < p->n_series; s++) {
            const struct rlvr_plot_series *sr = &p->series[s];
            const char *colour = PALETTE[s % (sizeof PALETTE / sizeof PALETTE[0])];
            int open = 0, points = 0;
            double lx = 0, ly = 0;
            for (size_t i = 0; i < sr->n; i++) {
                if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) {
                    if (open) rlvr_buf_adds(&b, "\"/>\n");
                    open = 0;
                    continue;
                }
                double px = LEFT + plot_w * (sr->x[i] - xlo) / (xhi - xlo);
                double py = y0 + PANEL_H - PANEL_H * (sr->y[i] - lo) / (hi - lo);
                if (!open)
                    rlvr_buf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"",
                                    colour);
                rlvr_buf_printf(&b, "%.1f,%.1f ", px, py);
                open = 1, points++, lx = px, ly = py;
            }
            if (open) rlvr_buf_adds(&b, "\"/>\n");
            if (points == 1)
                rlvr_buf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", lx, ly, colour);
            int ly_leg = y0 + 14 + 14 * (int)s;
            rlvr_buf_printf(&b,
                            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                            LEFT + plot_w - 24, ly_leg - 4, LEFT + plot_w - 8, ly_leg - 4, colour,
                            LEFT + plot_w - 28, ly_leg);
            xml_text(&b, sr->name);
            rlvr_buf_adds(&b, "</text>\n");
        }
    }
    int ylab = TOP + (int)(n ? n - 1 : 0) * (PANEL_H + GAP) + 16 + PANEL_H + 16;
    rlvr_buf_printf(&b, "<text x=\"%d\" y=\"%d\">%.6g</text>\n", LEFT, ylab, xlo);
    rlvr_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.6g</text>\n", LEFT + plot_w, ylab, xhi);
    rlvr_buf_printf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", LEFT + plot_w / 2, ylab + 16);
    xml_text(&b, x_label);
    rlvr_buf_adds(&b, "</text>\n</svg>\n");
    if (b.oom) {
        rlvr_buf_free(&b);
        rlvr_errf(err, err_len, "out of memory drawing %s", path);
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(b.ptr, 1, b.len, f) == b.len;
    if (f && fclose(f)) ok = 0;
    rlvr_buf_free(&b);
    if (!ok || rename(tmp, path)) {
        remove(tmp);
        rlvr_errf(err, err_len, "cannot write %s", path);
        return -1;
    }
    return 0;
}
