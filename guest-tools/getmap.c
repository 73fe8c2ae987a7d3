// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs-guest getmap: a file's extent map through FIEMAP (FS_IOC_FIEMAP),
 * which virtio_famfs answers from the map the device gave it (GET_FMAP).
 * Physical offsets are offsets into the memory device, the same numbers
 * `vhost-famfs getmap` and famfs's getmap print on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "famfs_guest.h"

#define BATCH 64

int fg_cmd_getmap(int argc, char **argv)
{
	struct fiemap_extent *all = NULL;
	struct fiemap *fm;
	unsigned int n = 0, i;
	uint64_t start = 0;
	struct stat st;
	int fd, last = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: famfs-guest getmap FILE\n");
		return 2;
	}
	if (fg_open_regular(argv[1], &fd, &st))
		return 1;
	fm = calloc(1, sizeof(*fm) + BATCH * sizeof(fm->fm_extents[0]));
	if (!fm)
		return fg_fail("calloc");
	while (!last) {
		struct fiemap_extent *grown;

		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_extent_count = BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
			if (errno == EOPNOTSUPP || errno == ENOTTY)
				fprintf(stderr, "famfs-guest: %s: the file system has no extent maps (FIEMAP)\n",
					argv[1]);
			else
				fg_fail(argv[1]);
			return 1;
		}
		if (!fm->fm_mapped_extents)
			break;
		grown = realloc(all, (n + fm->fm_mapped_extents) * sizeof(*all));
		if (!grown)
			return fg_fail("realloc");
		all = grown;
		memcpy(all + n, fm->fm_extents, fm->fm_mapped_extents * sizeof(*all));
		n += fm->fm_mapped_extents;
		last = all[n - 1].fe_flags & FIEMAP_EXTENT_LAST;
		start = all[n - 1].fe_logical + all[n - 1].fe_length;
	}
	close(fd);
	/* The layout of famfs's getmap (and vhost-famfs getmap). */
	printf("File:     %s\n", argv[1]);
	printf("\tsize:    %llu\n", (unsigned long long)st.st_size);
	printf("\textents: %u\n", n);
	for (i = 0; i < n; i++)
		printf("\t\t%llx\t%llu\n", (unsigned long long)all[i].fe_physical,
		       (unsigned long long)all[i].fe_length);
	free(all);
	free(fm);
	if (st.st_size && !n) {
		fprintf(stderr, "famfs-guest: %s: no extents\n", argv[1]);
		return 1;
	}
	return 0;
}
