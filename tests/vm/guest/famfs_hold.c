// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_hold: holds a famfs file across the removal of its device, inside
 * a guest. Build static on the host: gcc -O2 -static -o ... this.c
 *
 *   famfs_hold map FILE DIR    mmap FILE shared and writable, touch every
 *                              page (a read, then the same byte written
 *                              back, so write faults run too), create
 *                              DIR/ready-map, wait for DIR/go, touch the
 *                              mapping again: that must raise SIGBUS
 *   famfs_hold open FILE DIR   open FILE, mmap and touch it, munmap it but
 *                              keep the file open, create DIR/ready-open,
 *                              wait for DIR/go, then read(2) must fail
 *
 * Exit status 0 when the file behaved as a removed device's file must;
 * every failure prints a line starting "FAIL".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, sig);
}

/*
 * Reads one byte of every page, and writes it back unchanged if @write;
 * returns the sum so the reads are not optimized out.
 */
static unsigned long touch(volatile unsigned char *p, size_t len, int write)
{
	unsigned long sum = 0;
	unsigned char c;
	size_t off;

	for (off = 0; off < len; off += 4096) {
		c = p[off];
		sum += c;
		if (write)
			p[off] = c;
	}
	return sum;
}

static void mark(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
}

static void wait_go(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/go", dir);
	while (access(path, F_OK))
		usleep(100 * 1000);
}

static void *map_file(int fd, size_t *len, int prot)
{
	struct stat st;
	void *p;

	if (fstat(fd, &st) || !st.st_size) {
		printf("FAIL hold: fstat: %s\n", strerror(errno));
		exit(1);
	}
	*len = st.st_size;
	p = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("FAIL hold: mmap: %s\n", strerror(errno));
		exit(1);
	}
	return p;
}

static int hold_map(int fd, const char *dir)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	volatile unsigned long sum;
	size_t len;
	void *p;

	p = map_file(fd, &len, PROT_READ | PROT_WRITE);
	sum = touch(p, len, 1);
	printf("hold map: touched %zu bytes (sum %lu)\n", len, sum);
	fflush(stdout);
	sigaction(SIGBUS, &sa, NULL);
	mark(dir, "ready-map");
	wait_go(dir);
	if (sigsetjmp(bus_jmp, 1)) {
		printf("hold map: SIGBUS on the first touch after removal\n");
		return 0;
	}
	sum = touch(p, len, 0);
	printf("FAIL hold map: the mapping is still readable (sum %lu)\n", sum);
	return 1;
}

static int hold_open(int fd, const char *dir)
{
	char buf[4096];
	size_t len;
	ssize_t n;
	void *p;

	p = map_file(fd, &len, PROT_READ);
	printf("hold open: touched %zu bytes (sum %lu), unmapping\n", len,
	       touch(p, len, 0));
	munmap(p, len);
	fflush(stdout);
	mark(dir, "ready-open");
	wait_go(dir);
	n = pread(fd, buf, sizeof(buf), 0);
	if (n >= 0) {
		printf("FAIL hold open: read %zd bytes after removal\n", n);
		return 1;
	}
	printf("hold open: read failed: %s\n", strerror(errno));
	return errno == EIO || errno == ENODEV || errno == ENXIO ? 0 : 1;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 4 || (strcmp(argv[1], "map") && strcmp(argv[1], "open"))) {
		fprintf(stderr, "usage: %s map|open FILE DIR\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], strcmp(argv[1], "map") ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		printf("FAIL hold: open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return !strcmp(argv[1], "map") ? hold_map(fd, argv[3]) :
					 hold_open(fd, argv[3]);
}
