// SPDX-License-Identifier: GPL-2.0
/*
 * famfs_mmap_test: checks a famfs file through mmap() and read()/write()
 * inside a guest. Build static on the host: gcc -O2 -static -o ... this.c
 *
 *   famfs_mmap_test verify FILE SEED [OFF]
 *                                      mmap the file (from byte OFF, a
 *                                      multiple of the page size) read-only,
 *                                      check it holds the seeded pattern,
 *                                      checksum it, compare with read(2),
 *                                      print the mapping's smaps entry
 *   famfs_mmap_test write FILE SEED    fill the file with the pattern
 *                                      through a shared writable mapping,
 *                                      then check it with read(2)
 *   famfs_mmap_test pwrite FILE SEED   fill it with write(2), check by mmap
 *   famfs_mmap_test ls DIR             list DIR, failing on a readdir error
 *                                      (busybox ls ignores them)
 *   famfs_mmap_test fallocate FILE LEN open FILE (O_CREAT) and fallocate
 *                                      [0, LEN); prints the errno name on
 *                                      failure
 *
 * The pattern is famfs's (and vhost-famfs's) seeded test pattern:
 * xoroshiro128+ seeded through splitmix64 with the low 32 bits of SEED,
 * each step giving its low 32 bits as 4 little-endian bytes.
 * Exit status 0 on success; every failure prints a line starting "FAIL".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "famfs_pattern.h"

#define PMD_SIZE	(2UL << 20)

static uint64_t fnv1a(uint64_t h, const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= buf[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_INIT	0xcbf29ce484222325ULL

/* Prints the smaps block of the mapping that starts at addr. */
static void print_smaps(void *addr)
{
	char line[512], want[32];
	int in = 0;
	FILE *f;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	f = fopen("/proc/self/smaps", "r");
	if (!f) {
		perror("smaps");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		/* Mapping lines start with a lower-case hex address. */
		int header = (line[0] >= '0' && line[0] <= '9') ||
			     (line[0] >= 'a' && line[0] <= 'f');

		if (header)
			in = !strncmp(line, want, strlen(want));
		if (in)
			printf("smaps: %s", line);
	}
	fclose(f);
}

static int read_all(int fd, unsigned char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + done);

		if (n < 0) {
			printf("FAIL read: %s\n", strerror(errno));
			return -1;
		}
		if (!n)
			break;
		done += n;
	}
	if (done != len) {
		printf("FAIL read: %zu of %zu bytes\n", done, len);
		return -1;
	}
	return 0;
}

static int do_verify(const char *path, uint64_t seed, off_t off)
{
	unsigned char *map, *buf;
	struct pattern p;
	uint64_t hm, hr;
	struct stat st;
	size_t len;
	off_t i;
	long bad;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st)) {
		printf("FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (off < 0 || off >= st.st_size || off % 4096) {
		printf("FAIL offset %lld\n", (long long)off);
		return 1;
	}
	len = st.st_size - off;
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
	if (map == MAP_FAILED) {
		printf("FAIL mmap: %s\n", strerror(errno));
		return 1;
	}
	printf("mapped %s from %lld: %zu bytes at %p (%s)\n", path,
	       (long long)off, len, (void *)map,
	       ((unsigned long)map % PMD_SIZE) ? "not 2 MiB aligned" :
	       "2 MiB aligned");
	pattern_init(&p, seed);
	for (i = 0; i < off; i += 4)
		pattern_step(&p);
	bad = pattern_check(&p, map, len);
	if (bad >= 0) {
		printf("FAIL mmap: pattern %" PRIu64 " differs at byte %ld\n",
		       seed, bad);
		return 1;
	}
	hm = fnv1a(FNV_INIT, map, len);
	print_smaps(map);

	buf = malloc(len);
	if (!buf || read_all(fd, buf, len, off))
		return 1;
	hr = fnv1a(FNV_INIT, buf, len);
	printf("checksum mmap %016" PRIx64 " read %016" PRIx64 "\n", hm, hr);
	if (hm != hr) {
		printf("FAIL mmap and read(2) differ\n");
		return 1;
	}
	printf("OK verify %s seed %" PRIu64 "\n", path, seed);
	free(buf);
	munmap(map, len);
	close(fd);
	return 0;
}

static int do_write(const char *path, uint64_t seed, int use_mmap)
{
	unsigned char *map, *buf;
	struct pattern p;
	struct stat st;
	long bad;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st)) {
		printf("FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	buf = malloc(st.st_size);
	if (!buf)
		return 1;
	pattern_init(&p, seed);
	pattern_fill(&p, buf, st.st_size);
	if (use_mmap) {
		map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			printf("FAIL mmap: %s\n", strerror(errno));
			return 1;
		}
		memcpy(map, buf, st.st_size);
		if (msync(map, st.st_size, MS_SYNC))
			printf("FAIL msync: %s\n", strerror(errno));
		munmap(map, st.st_size);
		if (read_all(fd, buf, st.st_size, 0))
			return 1;
	} else {
		if (pwrite(fd, buf, st.st_size, 0) != st.st_size) {
			printf("FAIL write: %s\n", strerror(errno));
			return 1;
		}
		/* Past the end: a famfs file never grows. */
		if (pwrite(fd, buf, 1, st.st_size) != -1 || errno != ENOSPC) {
			printf("FAIL write at EOF did not fail with ENOSPC\n");
			return 1;
		}
		map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			printf("FAIL mmap: %s\n", strerror(errno));
			return 1;
		}
		memcpy(buf, map, st.st_size);
		munmap(map, st.st_size);
	}
	pattern_init(&p, seed);
	bad = pattern_check(&p, buf, st.st_size);
	if (bad >= 0) {
		printf("FAIL readback: pattern differs at byte %ld\n", bad);
		return 1;
	}
	printf("OK %s %s seed %" PRIu64 " (%lld bytes)\n",
	       use_mmap ? "write" : "pwrite", path, seed,
	       (long long)st.st_size);
	free(buf);
	close(fd);
	return 0;
}

static int do_ls(const char *path)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir(path);
	if (!d) {
		printf("FAIL opendir %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		printf("%s\n", de->d_name);
		n++;
	}
	if (errno) {
		printf("FAIL readdir %s after %d entries: %s\n", path, n,
		       strerror(errno));
		return 1;
	}
	closedir(d);
	return 0;
}

static int do_fallocate(const char *path, long long len)
{
	int fd, err = 0;

	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		printf("FAIL open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (fallocate(fd, 0, 0, len)) {
		err = errno;
		printf("fallocate %s %lld: %s\n", path, len,
		       err == EPERM ? "EPERM" : err == EROFS ? "EROFS" :
		       err == EOPNOTSUPP ? "EOPNOTSUPP" : strerror(err));
	} else {
		printf("fallocate %s %lld: ok\n", path, len);
	}
	close(fd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t seed;

	if (argc == 3 && !strcmp(argv[1], "ls"))
		return do_ls(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "fallocate"))
		return do_fallocate(argv[2], strtoll(argv[3], NULL, 0));
	if (argc != 4 && !(argc == 5 && !strcmp(argv[1], "verify"))) {
		fprintf(stderr, "usage: %s verify FILE SEED [OFF]\n"
			"       %s write|pwrite FILE SEED\n"
			"       %s ls DIR\n", argv[0], argv[0], argv[0]);
		return 2;
	}
	seed = strtoull(argv[3], NULL, 0);
	if (!(uint32_t)seed) {
		fprintf(stderr, "SEED must not be 0 (mod 2^32)\n");
		return 2;
	}
	if (!strcmp(argv[1], "verify"))
		return do_verify(argv[2], seed,
				 argc == 5 ? strtoll(argv[4], NULL, 0) : 0);
	if (!strcmp(argv[1], "write"))
		return do_write(argv[2], seed, 1);
	if (!strcmp(argv[1], "pwrite"))
		return do_write(argv[2], seed, 0);
	fprintf(stderr, "unknown command %s\n", argv[1]);
	return 2;
}
