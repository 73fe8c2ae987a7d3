// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs-guest: the guest-side companion of virtio_famfs.ko. famfs files
 * have one size, fixed when they are created, so ordinary tools cannot
 * copy into a famfs mount (cp creates the file with size 0 and then
 * appends); this program creates each file with its final size first.
 * It also shows a file's extent map (FIEMAP) and writes back or
 * invalidates a file's CPU cache lines for memory that is not coherent
 * between hosts. Built static, so it runs in any guest (even a busybox
 * initramfs). Usage: famfs-guest help.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "famfs_guest.h"

static const char usage[] =
	"usage: famfs-guest COMMAND ARGS\n"
	"\n"
	"  cp [-r] [-v] [-m MODE] SRC... DEST\n"
	"        copy files (and with -r directory trees) into a famfs mount:\n"
	"        each file is created with the source's size, then filled;\n"
	"        DEST is a directory or, for one SRC file, the new file's name\n"
	"  creat -s SIZE [-S SEED] [-m MODE] FILE\n"
	"        create FILE with SIZE bytes (K, M, G suffixes; 0x hex);\n"
	"        -S fills it with famfs's seeded pattern (famfs verify -S)\n"
	"  getmap FILE\n"
	"        print FILE's extent map: device offset (hex) and length of\n"
	"        each extent, in file order\n"
	"  flush FILE\n"
	"        write FILE's cache lines back to memory (clwb), so other hosts\n"
	"        of non-coherent memory see stores made through mappings\n"
	"  invalidate FILE\n"
	"        write back and evict FILE's cache lines (clflushopt), so the\n"
	"        next reads see what other hosts wrote\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error.\n";

int fg_fail(const char *what)
{
	fprintf(stderr, "famfs-guest: %s: %s\n", what, strerror(errno));
	return 1;
}

int fg_open_regular(const char *path, int *fd, struct stat *st)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return fg_fail(path);
	if (fstat(*fd, st)) {
		fg_fail(path);
		close(*fd);
		return 1;
	}
	if (!S_ISREG(st->st_mode)) {
		fprintf(stderr, "famfs-guest: %s: not a regular file\n", path);
		close(*fd);
		return 1;
	}
	return 0;
}

int fg_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	/* Each command parses its own options with getopt from argv[1]. */
	if (!strcmp(cmd, "cp"))
		return fg_cmd_cp(argc - 1, argv + 1);
	if (!strcmp(cmd, "creat"))
		return fg_cmd_creat(argc - 1, argv + 1);
	if (!strcmp(cmd, "getmap"))
		return fg_cmd_getmap(argc - 1, argv + 1);
	if (!strcmp(cmd, "flush"))
		return fg_cmd_cache(argc - 1, argv + 1, 0);
	if (!strcmp(cmd, "invalidate"))
		return fg_cmd_cache(argc - 1, argv + 1, 1);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
