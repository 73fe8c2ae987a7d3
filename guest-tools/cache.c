// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs-guest flush / invalidate: CPU cache maintenance over a file's
 * mapping, for shared memory that is not cache-coherent between hosts
 * (as famfs's own tools do). flush writes dirty lines back and keeps them
 * (clwb), so other hosts can read what this one stored through a
 * mapping; invalidate writes back and evicts them (clflushopt), so this
 * host's next reads fetch what other hosts wrote. Each falls back to the
 * older instruction the CPU has (clflushopt, then clflush), and the walk
 * ends with sfence, which orders clwb and clflushopt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "famfs_guest.h"

#if defined(__x86_64__)
#include <cpuid.h>

enum cache_op { OP_CLFLUSH, OP_CLFLUSHOPT, OP_CLWB };

static const char *const op_name[] = { "clflush", "clflushopt", "clwb" };

struct cpu_cache {
	unsigned int line;	/* bytes per line that the instructions act on */
	int clflushopt, clwb;
};

static void cpu_cache_probe(struct cpu_cache *c)
{
	unsigned int a, b, cx, d;

	c->line = 64;
	c->clflushopt = 0;
	c->clwb = 0;
	if (__get_cpuid(1, &a, &b, &cx, &d) && (b >> 8 & 0xff))
		c->line = (b >> 8 & 0xff) * 8;
	if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
		c->clflushopt = b >> 23 & 1;
		c->clwb = b >> 24 & 1;
	}
}

static void cache_walk(char *p, size_t len, unsigned int line, enum cache_op op)
{
	char *end = p + len;

	for (; p < end; p += line) {
		switch (op) {
		case OP_CLWB:
			asm volatile("clwb %0" : "+m" (*p));
			break;
		case OP_CLFLUSHOPT:
			asm volatile("clflushopt %0" : "+m" (*p));
			break;
		case OP_CLFLUSH:
			asm volatile("clflush %0" : "+m" (*p));
			break;
		}
	}
	asm volatile("sfence" ::: "memory");
}

int fg_cmd_cache(int argc, char **argv, int invalidate)
{
	const char *cmd = invalidate ? "invalidate" : "flush";
	struct cpu_cache c;
	enum cache_op op;
	struct stat st;
	void *m;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: famfs-guest %s FILE\n", cmd);
		return 2;
	}
	cpu_cache_probe(&c);
	if (!invalidate && c.clwb)
		op = OP_CLWB;
	else
		op = c.clflushopt ? OP_CLFLUSHOPT : OP_CLFLUSH;
	if (fg_open_regular(argv[1], &fd, &st))
		return 1;
	if (st.st_size) {
		/* The instructions need only read access to the lines. */
		m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED)
			return fg_fail(argv[1]);
		cache_walk(m, st.st_size, c.line, op);
		munmap(m, st.st_size);
	}
	close(fd);
	printf("%s %s: %llu bytes, %llu lines of %u bytes, %s\n", cmd, argv[1],
	       (unsigned long long)st.st_size,
	       (unsigned long long)((st.st_size + c.line - 1) / c.line), c.line,
	       op_name[op]);
	return 0;
}
#else
int fg_cmd_cache(int argc, char **argv, int invalidate)
{
	(void)argc;
	(void)argv;
	(void)invalidate;
	fprintf(stderr, "famfs-guest: cache maintenance is implemented for x86-64 only\n");
	return 1;
}
#endif
