/* SPDX-License-Identifier: MIT */
/* Corpus replay without libFuzzer: runs fuzz_ops on every file named on
 * the command line, or the checked-in corpus by default (directories are
 * walked one level deep), then checks
 * that no fd was leaked. A divergence aborts inside the harness. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static int run_file(const char *path)
{
    static uint8_t buf[1 << 16];
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        perror(path);
        return 1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

static int run_path(const char *path, int *files)
{
    struct stat sb;
    struct dirent **names;
    char full[4096];
    int i, n, err = 0;

    if (stat(path, &sb) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        ++*files;
        return run_file(path);
    }
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        perror(path);
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
            ++*files;
            err |= run_file(full);
        }
        free(names[i]);
    }
    free(names);
    return err;
}

int main(int argc, char **argv)
{
    int i, err = 0, files = 0, before, after;

    LLVMFuzzerInitialize(&argc, &argv);
    before = count_fds();
    for (i = 1; i < argc; i++)
        err |= run_path(argv[i], &files);
#ifdef TPOLL_FUZZ_CORPUS
    if (argc < 2)
        err |= run_path(TPOLL_FUZZ_CORPUS, &files);
#endif
    after = count_fds();
    printf("replayed %d inputs, open fds %d -> %d\n", files, before, after);
    if (files == 0 || before != after)
        return 1;
    return err;
}
