// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs_datapath_test: guest-side checks of the driver's data path that
 * need more than a shell: privileges, memory failures, write-back and
 * races with file creation. A static program (gcc -static), run by
 * tests/vm/driver/guest-{suid,poison,sync,race}.sh.
 *
 *   write-as UID FILE STRING     as UID (and GID UID), write(2) STRING at 0
 *   run-as UID PROG              as UID, exec PROG euid; PROG prints its
 *                                effective uid
 *   euid                         print the effective uid
 *   poison FILE OFFSET           MADV_HWPOISON the page at OFFSET of FILE
 *                                while two other processes map it; check
 *                                all get SIGBUS (an early-kill one at once,
 *                                the others at their next touch), read(2)
 *                                and write(2) there fail with EIO, the
 *                                pages around it still work
 *   mwrite FILE OFFSET STRING msync|fsync|none
 *                                write STRING through a shared mapping,
 *                                then msync(MS_SYNC) or fsync() or neither
 *   sync FILE msync|fsync        map FILE, write nothing, sync
 *   create-race DIR ROUNDS       per round: O_CREAT DIR/race.N, and while
 *                                reader, writer and mapper threads use it,
 *                                ftruncate it to 2 MiB; none may see EIO, or
 *                                SIGBUS after the size was visible
 *
 * Exit status 0 on success, 1 on a failed check, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define RACE_SIZE (2UL << 20)

static int fail(const char *what)
{
	fprintf(stderr, "famfs_datapath_test: %s: %s\n", what, strerror(errno));
	return 1;
}

static int check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAILED", what);
	return ok ? 0 : 1;
}

static int drop_to(uid_t uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		return fail("dropping privileges");
	return 0;
}

static int cmd_write_as(uid_t uid, const char *path, const char *s)
{
	ssize_t n;
	int fd;

	if (drop_to(uid))
		return 1;
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return fail(path);
	n = pwrite(fd, s, strlen(s), 0);
	if (n != (ssize_t)strlen(s))
		return fail("pwrite");
	close(fd);
	printf("write-as: uid %u wrote %zd bytes\n", (unsigned int)uid, n);
	return 0;
}

static int cmd_run_as(uid_t uid, const char *prog)
{
	char *argv[] = { (char *)prog, "euid", NULL };

	fflush(stdout);
	if (drop_to(uid))
		return 1;
	execv(prog, argv);
	return fail(prog);
}

/* ---- memory failure ---------------------------------------------------- */

static sigjmp_buf bus_env;
static volatile sig_atomic_t bus_code;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	bus_code = si->si_code;
	siglongjmp(bus_env, 1);
}

static void catch_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Reads one byte; returns 1 and the SIGBUS si_code in *code if it faulted. */
static int touch_faults(const volatile uint8_t *p, int *code)
{
	bus_code = 0;
	if (sigsetjmp(bus_env, 1)) {
		*code = bus_code;
		return 1;
	}
	(void)*p;
	return 0;
}

static const char *bus_name(int code)
{
	return code == BUS_MCEERR_AR ? "BUS_MCEERR_AR" :
	       code == BUS_MCEERR_AO ? "BUS_MCEERR_AO" :
	       code == BUS_ADRERR ? "BUS_ADRERR" : "other";
}

/*
 * Another process mapping the page. An early-kill one (PR_MCE_KILL_EARLY)
 * gets SIGBUS when the failure happens; any other only when it touches the
 * page again (after the parent writes to @go_fd), as the kernel's
 * vm.memory_failure_early_kill policy says.
 */
static int poison_child(const char *path, size_t off, int ready_fd, int go_fd,
			int early)
{
	char c;

	volatile uint8_t *m;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		_exit(10);
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(11);
	(void)m[off];
	if (early && prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY, 0, 0))
		_exit(12);
	alarm(60);
	if (sigsetjmp(bus_env, 1)) {
		printf("poison: the %s mapper got SIGBUS (%s)\n",
		       early ? "early-kill" : "other", bus_name(bus_code));
		fflush(stdout);
		_exit(bus_code == BUS_MCEERR_AO || bus_code == BUS_MCEERR_AR ?
		      42 : 13);
	}
	if (write(ready_fd, "R", 1) != 1)
		_exit(14);
	if (early)
		for (;;)
			pause();
	if (read(go_fd, &c, 1) != 1)
		_exit(15);
	(void)m[off];
	_exit(16);
}

static int cmd_poison(const char *path, size_t off)
{
	volatile uint8_t *m;
	int fd, ready[2], go[2], status, code, i, bad = 0;
	char buf[2 * PAGE], c;
	struct stat st;
	pid_t child[2];
	ssize_t n;

	catch_sigbus();
	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return fail(path);
	if (off % PAGE || off < PAGE || off + 2 * PAGE > (size_t)st.st_size) {
		fprintf(stderr, "poison: bad offset\n");
		return 2;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return fail("mmap");
	(void)m[off];
	if (pread(fd, buf, PAGE, off) != PAGE)
		return fail("pread before the failure");

	if (pipe(ready) || pipe(go))
		return fail("pipe");
	for (i = 0; i < 2; i++) {
		child[i] = fork();
		if (child[i] < 0)
			return fail("fork");
		if (!child[i])
			poison_child(path, off, ready[1], go[0], i);
		if (read(ready[0], &c, 1) != 1)
			return fail("child not ready");
	}

	/* This process maps the page too: SIGBUS on the way out of madvise. */
	bus_code = 0;
	if (!sigsetjmp(bus_env, 1)) {
		if (madvise((void *)(m + off), PAGE, MADV_HWPOISON))
			return fail("madvise(MADV_HWPOISON)");
		bad |= check(0, "madvise: this process got SIGBUS");
	} else {
		printf("poison: this process got SIGBUS (%s) from madvise\n",
		       bus_name(bus_code));
		bad |= check(bus_code == BUS_MCEERR_AR,
			     "this process: SIGBUS BUS_MCEERR_AR");
	}

	if (waitpid(child[1], &status, 0) != child[1])
		return fail("waitpid");
	bad |= check(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		     "the early-kill mapper got SIGBUS at once");
	if (write(go[1], "G", 1) != 1)
		return fail("write go");
	if (waitpid(child[0], &status, 0) != child[0])
		return fail("waitpid");
	bad |= check(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		     "the other mapper got SIGBUS at its next touch");

	errno = 0;
	n = pread(fd, buf, PAGE, off);
	printf("poison: pread of the page: %zd (%s)\n", n, strerror(errno));
	bad |= check(n < 0 && errno == EIO, "read(2) of the page: EIO");
	errno = 0;
	n = pread(fd, buf, 2 * PAGE, off - PAGE);
	printf("poison: pread across it: %zd\n", n);
	bad |= check(n == PAGE, "read(2) up to the page: short, the good part");
	errno = 0;
	n = pwrite(fd, "x", 1, off);
	bad |= check(n < 0 && errno == EIO, "write(2) to the page: EIO");
	bad |= check(pread(fd, buf, PAGE, off + PAGE) == PAGE,
		     "read(2) of the next page works");

	bad |= check(touch_faults(m + off, &code) == 1,
		     "the mapping of the page: SIGBUS on the next touch");
	printf("poison: touch: %s\n", bus_name(code));
	bad |= check(touch_faults(m + off + PAGE, &code) == 0,
		     "the next page of the mapping still reads");
	bad |= check(touch_faults(m + off - PAGE, &code) == 0,
		     "the page before it still reads");
	munmap((void *)m, st.st_size);
	close(fd);
	return bad;
}

/* ---- write-back -------------------------------------------------------- */

static int do_sync(int fd, void *m, size_t len, const char *how)
{
	if (!strcmp(how, "msync"))
		return msync(m, len, MS_SYNC) ? fail("msync") : 0;
	if (!strcmp(how, "fsync"))
		return fsync(fd) ? fail("fsync") : 0;
	return strcmp(how, "none") ? 2 : 0;
}

static int cmd_mwrite(const char *path, size_t off, const char *s,
		      const char *how)
{
	struct stat st;
	uint8_t *m;
	int fd, ret;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return fail(path);
	if (off + strlen(s) > (size_t)st.st_size)
		return 2;
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return fail("mmap");
	memcpy(m + off, s, strlen(s));
	ret = do_sync(fd, m, st.st_size, how);
	munmap(m, st.st_size);
	close(fd);
	return ret;
}

static int cmd_sync(const char *path, const char *how)
{
	struct stat st;
	void *m;
	int fd, ret;

	fd = open(path, O_RDWR);
	if (fd < 0 || fstat(fd, &st))
		return fail(path);
	m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return fail("mmap");
	ret = do_sync(fd, m, st.st_size, how);
	munmap(m, st.st_size);
	close(fd);
	return ret;
}

/* ---- races with the creation of a file --------------------------------- */

struct race {
	int fd;
	volatile uint8_t *map;
	atomic_int stop;
	atomic_int errors;		/* EIO, or SIGBUS inside the file */
	atomic_long before, after;	/* operations before/after the size */
};

static void race_error(struct race *r, const char *who, int err)
{
	atomic_fetch_add(&r->errors, 1);
	fprintf(stderr, "create-race: %s: %s\n", who, strerror(err));
}

static off_t race_size(struct race *r)
{
	struct stat st;

	return fstat(r->fd, &st) ? -1 : st.st_size;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;
	char buf[PAGE];
	ssize_t n;

	while (!atomic_load(&r->stop)) {
		n = pread(r->fd, buf, sizeof(buf), 0);
		if (n < 0)
			race_error(r, "pread", errno);
		else
			atomic_fetch_add(n ? &r->after : &r->before, 1);
	}
	return NULL;
}

static void *race_writer(void *arg)
{
	struct race *r = arg;
	ssize_t n;

	while (!atomic_load(&r->stop)) {
		n = pwrite(r->fd, "w", 1, PAGE);
		/* Before the size: the file is empty and cannot grow. */
		if (n < 0 && errno != ENOSPC)
			race_error(r, "pwrite", errno);
		else
			atomic_fetch_add(n > 0 ? &r->after : &r->before, 1);
	}
	return NULL;
}

/* SIGBUS is right before the size is set (beyond EOF), never after. */
static void *race_mapper(void *arg)
{
	struct race *r = arg;
	sigset_t set;
	int code;
	off_t size;

	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!atomic_load(&r->stop)) {
		size = race_size(r);
		if (touch_faults(r->map + 2 * PAGE, &code)) {
			if (size > 0)
				race_error(r, "SIGBUS with the size set",
					   EFAULT);
			atomic_fetch_add(&r->before, 1);
		} else {
			atomic_fetch_add(&r->after, 1);
		}
	}
	return NULL;
}

static int race_round(const char *dir, int round)
{
	void *(*fn[])(void *) = { race_reader, race_writer, race_mapper };
	pthread_t t[3];
	struct race r;
	char path[256];
	unsigned int i;
	void *m;

	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/race.%d", dir, round);
	r.fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (r.fd < 0)
		return fail(path);
	m = mmap(NULL, RACE_SIZE, PROT_READ, MAP_SHARED, r.fd, 0);
	if (m == MAP_FAILED)
		return fail("mmap of the new file");
	r.map = m;
	for (i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, fn[i], &r))
			return fail("pthread_create");
	/* Let them run against the empty file, a little longer each round. */
	usleep(200 + 300 * round);
	if (ftruncate(r.fd, RACE_SIZE))
		return fail("ftruncate");
	/* Until each thread had its chance with the sized file (10 s at most). */
	for (i = 0; atomic_load(&r.after) < 30 && i < 100000; i++)
		usleep(100);
	atomic_store(&r.stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("create-race: round %d: %ld operations before the size, %ld after, %d errors\n",
	       round, atomic_load(&r.before), atomic_load(&r.after),
	       atomic_load(&r.errors));
	munmap(m, RACE_SIZE);
	close(r.fd);
	return atomic_load(&r.errors) ? 1 : 0;
}

static int cmd_create_race(const char *dir, int rounds)
{
	sigset_t set;
	int i, bad = 0;

	catch_sigbus();
	/* Only the mapper thread takes SIGBUS. */
	sigemptyset(&set);
	sigaddset(&set, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (i = 0; i < rounds; i++)
		bad |= race_round(dir, i);
	return bad;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(c, "write-as") && argc == 5)
		return cmd_write_as(strtoul(argv[2], NULL, 0), argv[3], argv[4]);
	if (!strcmp(c, "run-as") && argc == 4)
		return cmd_run_as(strtoul(argv[2], NULL, 0), argv[3]);
	if (!strcmp(c, "euid") && argc == 2)
		return printf("euid %u\n", (unsigned int)geteuid()) < 0;
	if (!strcmp(c, "poison") && argc == 4)
		return cmd_poison(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(c, "mwrite") && argc == 6)
		return cmd_mwrite(argv[2], strtoull(argv[3], NULL, 0), argv[4],
				  argv[5]);
	if (!strcmp(c, "sync") && argc == 4)
		return cmd_sync(argv[2], argv[3]);
	if (!strcmp(c, "create-race") && argc == 4)
		return cmd_create_race(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: see the comment at the top of famfs_datapath_test.c\n");
	return 2;
}
