/* tests/fuzz/fuzz_reader.c - libFuzzer target: any bytes as a trace file,
 * through the whole analysis and every report format (to /dev/null).
 *
 * The input is analyzed at its end, then again at half its duration (the
 * --at path). Symbolization stays off: module paths in fuzzed input would
 * make the target open arbitrary files, and symbols.c has its own tests.
 * Built two ways (tests/fuzz/CMakeLists.txt): with clang's libFuzzer under
 * TIDEMARK_FUZZ, and always with standalone.c as a regression runner over
 * the seeds and saved crashers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"
#include "report/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull(void)
{
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    return null;
}

static void render_all(const struct tm_model *m)
{
    FILE *out = devnull();
    struct tm_report_opts o = {0, TM_WEIGHT_RETAINED, 0};
    char line[512];
    tm_verdict_line(m, line, sizeof line);
    tm_report_text(m, &o, out);
    tm_report_json(m, &o, out);
    tm_report_html(m, &o, out);
    tm_report_collapsed(m, &o, out);
    o.weight = TM_WEIGHT_PEAK;
    o.top = 1;
    o.exact = 1;
    tm_report_collapsed(m, &o, out);
    tm_report_text(m, &o, out);
}

static void analyze_at(const uint8_t *data, size_t size, uint64_t at, uint64_t *duration)
{
    struct tm_options o;
    tm_options_default(&o);
    o.symbolize = 0;
    o.at = at;
    struct tm_model m;
    char err[256];
    if (tm_analyze_mem(data, size, "fuzz-input", &o, &m, err, sizeof err) != TM_EXIT_OK) return;
    render_all(&m);
    if (duration) *duration = m.info.duration_ns;
    tm_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t duration = 0;
    analyze_at(data, size, TM_NO_TIME, &duration);
    if (duration > 1) analyze_at(data, size, duration / 2, NULL);
    return 0;
}
