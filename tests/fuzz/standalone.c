/* tests/fuzz/standalone.c - runs the fuzz target over files, without
 * libFuzzer: `fuzz_regress FILE|DIR...`. Used by the regular and sanitizer
 * builds to replay the seed corpus and every saved crasher (tests/fuzz/regress). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_regress: cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf ? buf : (const uint8_t *)"", n);
    /* Every prefix too: a trace cut at any byte must not crash. */
    for (size_t cut = 0; cut < n && n <= 4096; cut++) LLVMFuzzerTestOneInput(buf, cut);
    free(buf);
    return 0;
}

static int run_path(const char *path, int *files)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_regress: no such file: %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*files)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d) return 1;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len >= 6 && !strcmp(e->d_name + len - 6, "README"))) continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        bad |= run_path(sub, files);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0, files = 0;
    for (int i = 1; i < argc; i++) bad |= run_path(argv[i], &files);
    printf("fuzz_regress: %d input(s) and their prefixes ran\n", files);
    return bad || files == 0;
}
