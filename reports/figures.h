/* figures.h: gnuplot figures. A figure is <base>.dat (data) + <base>.gp (script) under the
 * output folder; gnuplot runs there and writes <base>.png (pngcairo, or png when pngcairo is
 * missing) and <base>.svg, renamed into place only when gnuplot succeeded. The gnuplot
 * program is $COMPACTER_GNUPLOT or `gnuplot` on PATH. */
#ifndef COMPACTER_REPORTS_FIGURES_H
#define COMPACTER_REPORTS_FIGURES_H

#include <stddef.h>

/* Write the data and script (`plot_body`: the plot commands, reading "<base>.dat") and
 * render. Returns 0 when both images were written, 1 when gnuplot is not installed (note
 * says so; .dat and .gp are still written), -1 (error set, with gnuplot's first error line
 * and the log path) when gnuplot failed. */
int figure_render(const char *out_dir, const char *base, const char *dat, const char *plot_body,
                  char *note, size_t note_cap);

/* The gnuplot program that will be used, or NULL when none is found. Static buffer. */
const char *figure_gnuplot_path(void);

#endif
