/* analyzer/report_missing.c - stand-ins for report writers whose source is
 * not in this tree yet (see CMakeLists.txt); each says so and fails. */
#include <errno.h>
#include <stdio.h>

#include "report.h"

#ifdef TM_MISSING_report_html
int tm_report_html(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    (void)m; (void)o; (void)out;
    fputs("tidemark: the html report is not built in this tree\n", stderr);
    errno = ENOSYS;
    return -1;
}
#endif

#ifdef TM_MISSING_report_collapsed
int tm_report_collapsed(const struct tm_model *m, const struct tm_report_opts *o, FILE *out)
{
    (void)m; (void)o; (void)out;
    fputs("tidemark: the collapsed report is not built in this tree\n", stderr);
    errno = ENOSYS;
    return -1;
}
#endif

/* ISO C wants a translation unit to declare something. */
typedef int tm_report_missing_unit;
