/* cmd_report.c: `compacter report RESULTS.jsonl`: tables (Markdown, LaTeX, CSV) and gnuplot
 * figures from a results file. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "experiments/experiment.h"
#include "reports/report.h"

int cmd_report(int argc, char **argv) {
    struct arg args[] = {
        {"out", 1, "output folder (default reports/out)"},
        {"format", 1, "formats to write: any of md,tex,csv (default all)"},
        {"preset", 1, "report only the lines of this preset (needed when the file mixes presets)"},
        {"set", 1,
         "k=v,... : report only the lines run with these `compacter run --set` overrides "
         "(none: the preset's own runs; needed when the file mixes them)"},
        {"no-figures", 0, "do not run gnuplot"},
    };
    int n = (int)(sizeof args / sizeof args[0]);
    const char *pos[1];
    int n_pos = 0;
    int rc = args_parse(argc, argv, args, n, "compacter report RESULTS.jsonl [options]", pos, 1, &n_pos);
    if (rc) return rc == 1 ? 0 : 2;
    if (n_pos != 1) {
        fprintf(stderr, "compacter: report: expected one results file (see --help)\n");
        return 2;
    }
    struct report_options o;
    report_options_default(&o);
    o.out_dir = args_str(args, n, "out", o.out_dir);
    o.preset = args_str(args, n, "preset", NULL);
    o.figures = !args_has(args, n, "no-figures");
    char canon[256] = "";
    const char *set = args_str(args, n, "set", NULL);
    if (set && strcmp(set, "none")) { /* the canonical "key=value,..." the lines carry */
        struct experiment_sets sets;
        const char *items[1] = {set};
        if (experiment_parse_sets(items, 1, &sets) || experiment_sets_text(&sets, canon, sizeof canon))
            return cli_fail("report");
    }
    if (set) o.overrides = canon;
    if (args_has(args, n, "format") && report_parse_formats(args_str(args, n, "format", ""), &o))
        return cli_fail("report");
    struct report_summary s;
    rc = report_results_file(pos[0], &o, &s);
    for (int i = 0; i < s.n_notes; i++) fprintf(!strncmp(s.notes[i], "wrote ", 6) ? stdout : stderr, "%s\n", s.notes[i]);
    return rc ? cli_fail("report") : 0;
}
