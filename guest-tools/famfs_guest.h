/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* famfs-guest: declarations shared by its source files. */
#ifndef FAMFS_GUEST_H
#define FAMFS_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Prints "famfs-guest: WHAT: strerror(errno)" and returns 1. */
int fg_fail(const char *what);
/*
 * Opens PATH read-only into *FD and fills *ST; a path that is not a regular
 * file is refused. Returns 0, or 1 after printing why.
 */
struct stat;
int fg_open_regular(const char *path, int *fd, struct stat *st);
/* Parses a size: decimal or 0x hex, with an optional K, M or G (x1024). */
int fg_parse_size(const char *s, uint64_t *out);

/* copy.c */
int fg_cmd_cp(int argc, char **argv);
int fg_cmd_creat(int argc, char **argv);

/* getmap.c */
int fg_cmd_getmap(int argc, char **argv);

/* cache.c */
int fg_cmd_cache(int argc, char **argv, int invalidate);

#endif /* FAMFS_GUEST_H */
