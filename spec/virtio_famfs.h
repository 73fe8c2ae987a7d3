/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause */
/*
 * virtio-famfs: File System Memory Sharing Device.
 *
 * The one definition of the device's wire format; the specification is
 * spec/virtio-famfs.md. Every field is little-endian. Every structure has a
 * size that is a multiple of 8 and no implicit padding: reserved space is an
 * explicit "padding" field that the sender sets to zero.
 */
#ifndef _LINUX_VIRTIO_FAMFS_H
#define _LINUX_VIRTIO_FAMFS_H

#include <linux/types.h>
#include <linux/virtio_types.h>

/*
 * Device ID. PROVISIONAL: not assigned by the VIRTIO TC. Chosen free in the
 * VIRTIO 1.4 device-ID table (1-13, 16-36, 38-50 used), in Linux virtio_ids.h
 * (adds 37) and among well-known non-standard IDs (crosvm: 60-63).
 */
#define VIRTIO_ID_FAMFS			56

/*
 * Stand-in ID for VMMs that refuse IDs they have no name for (QEMU up to
 * at least 11.1.2, section 1 of the spec): ioMemory, reserved in the
 * VIRTIO table and never specified or driven by Linux. A driver that
 * binds to it MUST check config.magic before using the device.
 */
#define VIRTIO_ID_FAMFS_COMPAT		6

/* config.magic: "FAMF" in little-endian byte order */
#define VIRTIO_FAMFS_MAGIC		0x464d4146U

/* Protocol version: config.version and INIT carry major and minor. */
#define VIRTIO_FAMFS_VERSION_MAJOR	1
#define VIRTIO_FAMFS_VERSION_MINOR	0
#define VIRTIO_FAMFS_VERSION \
	((VIRTIO_FAMFS_VERSION_MAJOR << 16) | VIRTIO_FAMFS_VERSION_MINOR)

/* Feature bits */
#define VIRTIO_FAMFS_F_NOTIFY		0	/* notification queue is serviced */
#define VIRTIO_FAMFS_F_INTERLEAVE	1	/* GET_FMAP may reply interleaved */
#define VIRTIO_FAMFS_F_READDIRPLUS	2	/* READDIRPLUS: listings with attrs */
#define VIRTIO_FAMFS_F_ENTRY_FMAP	3	/* small maps inline in LOOKUP and */
						/* READDIRPLUS replies */
#define VIRTIO_FAMFS_F_FORGET		4	/* driver reports dropped nodes */

/* Virtqueues: queue 0 notifications, queues 1..num_request_queues requests */
#define VIRTIO_FAMFS_VQ_NOTIFY		0
#define VIRTIO_FAMFS_VQ_REQUEST_BASE	1

/* Shared memory region ids */
#define VIRTIO_FAMFS_SHM_WINDOW		0	/* window offset == device offset */

/* Fixed values */
#define VIRTIO_FAMFS_TAG_SIZE		36
#define VIRTIO_FAMFS_UUID_SIZE		16
#define VIRTIO_FAMFS_ROOT_NODEID	1
#define VIRTIO_FAMFS_NAME_MAX		79	/* bytes, no NUL */
#define VIRTIO_FAMFS_ALLOC_UNIT		0x200000ULL	/* 2 MiB */
#define VIRTIO_FAMFS_MIN_MAX_EXTENTS	16
#define VIRTIO_FAMFS_MIN_READDIR_BYTES	4096

/* config.flags */
#define VIRTIO_FAMFS_CFG_F_READ_ONLY	(1U << 0) /* window read-only, no writes */
#define VIRTIO_FAMFS_CFG_F_MAY_CREATE	(1U << 1) /* CREATE and MKDIR allowed */
#define VIRTIO_FAMFS_CFG_F_NO_WINDOW	(1U << 2) /* metadata only: cannot mount */

struct virtio_famfs_config {
	__u8 tag[VIRTIO_FAMFS_TAG_SIZE];	/* UTF-8, NUL-padded */
	__le32 num_request_queues;		/* >= 1 */
	__le32 flags;				/* VIRTIO_FAMFS_CFG_F_* */
	__u8 fs_uuid[VIRTIO_FAMFS_UUID_SIZE];	/* famfs superblock fs_uuid */
	__le32 magic;				/* VIRTIO_FAMFS_MAGIC */
	__le64 device_size;	/* bytes of the DAX device */
	__le64 alloc_unit;	/* bytes, power of two */
	__le64 meta_size;	/* superblock + log at offset 0 */
	__le32 max_extents;	/* most extents one GET_FMAP returns */
	__le32 version;		/* major << 16 | minor */
};

/* Opcodes */
#define VIRTIO_FAMFS_OP_INIT		1
#define VIRTIO_FAMFS_OP_STATFS		2
#define VIRTIO_FAMFS_OP_LOOKUP		3
#define VIRTIO_FAMFS_OP_GETATTR		4
#define VIRTIO_FAMFS_OP_READDIR		5
#define VIRTIO_FAMFS_OP_GET_FMAP	6
#define VIRTIO_FAMFS_OP_CREATE		7
#define VIRTIO_FAMFS_OP_MKDIR		8
#define VIRTIO_FAMFS_OP_READDIRPLUS	9	/* with VIRTIO_FAMFS_F_READDIRPLUS */
#define VIRTIO_FAMFS_OP_FORGET		10	/* with VIRTIO_FAMFS_F_FORGET */

/*
 * resp_hdr.error values: Linux errno numbers as asm-generic defines them
 * (x86, arm64, riscv), fixed on the wire whatever the driver's architecture.
 */
#define VIRTIO_FAMFS_ENOENT		2	/* no such name */
#define VIRTIO_FAMFS_EIO		5	/* device or metadata failure */
#define VIRTIO_FAMFS_E2BIG		7	/* GET_FMAP: more extents than fit */
#define VIRTIO_FAMFS_EAGAIN		11	/* CREATE, MKDIR: log busy, retry */
#define VIRTIO_FAMFS_EEXIST		17	/* name exists */
#define VIRTIO_FAMFS_ENOTDIR		20	/* node is not a directory */
#define VIRTIO_FAMFS_EISDIR		21	/* node is a directory */
#define VIRTIO_FAMFS_EINVAL		22	/* malformed request */
#define VIRTIO_FAMFS_ENOSPC		28	/* no space, log full, window full */
#define VIRTIO_FAMFS_EROFS		30	/* not allowed to change */
#define VIRTIO_FAMFS_ERANGE		34	/* writable part below minimum */
#define VIRTIO_FAMFS_ENAMETOOLONG	36	/* name or path too long */
#define VIRTIO_FAMFS_ENOSYS		38	/* unknown opcode */
#define VIRTIO_FAMFS_EPROTO		71	/* request before INIT */
#define VIRTIO_FAMFS_ESTALE		116	/* unknown nodeid */

/* Start of the device-readable part of every request */
struct virtio_famfs_req_hdr {
	__le32 opcode;		/* VIRTIO_FAMFS_OP_* */
	__le32 len;		/* bytes of the readable part, header included */
	__le64 unique;		/* echoed in the response */
	__le64 nodeid;		/* node the request is about, 0 if none */
};

/* Start of the device-writable part of every request */
struct virtio_famfs_resp_hdr {
	__le32 len;		/* bytes the device wrote, header included */
	__le32 error;		/* 0 or a positive Linux errno */
	__le64 unique;		/* copied from the request */
};

/* INIT */
struct virtio_famfs_init_in {
	__le32 major;
	__le32 minor;
	__le32 flags;		/* none defined: 0 */
	__le32 padding;
};

struct virtio_famfs_init_out {
	__le32 major;
	__le32 minor;
	__le32 flags;		/* none defined: 0 */
	__le32 max_readdir_bytes; /* largest READDIR reply the device fills */
	__le64 root_nodeid;	/* VIRTIO_FAMFS_ROOT_NODEID */
	__le64 log_generation;	/* log entries the device has applied */
};

/* STATFS */
struct virtio_famfs_statfs_out {
	__le64 total_bytes;	/* device_size */
	__le64 free_bytes;
	__le64 largest_free;	/* largest contiguous free run */
	__le64 files;
	__le64 dirs;
	__le64 log_slots;	/* log entries the log can hold */
	__le64 log_used;	/* log entries used */
	__le32 bsize;		/* alloc_unit */
	__le32 namelen;		/* VIRTIO_FAMFS_NAME_MAX */
};

/* LOOKUP: followed by namelen bytes of name, no NUL */
struct virtio_famfs_lookup_in {
	__le32 namelen;
	__le32 padding;
};

/* attr.flags */
#define VIRTIO_FAMFS_ATTR_F_RDONLY	(1U << 0) /* file data read-only for all */

/* Reply of LOOKUP, GETATTR, CREATE and MKDIR */
struct virtio_famfs_attr {
	__le64 nodeid;
	__le64 size;		/* bytes; 0 for directories */
	__le64 blocks;		/* allocated bytes / 512 */
	__le64 generation;	/* log_generation the node appeared in; 0 root */
	__le32 mode;		/* S_IFDIR or S_IFREG | permission bits */
	__le32 uid;
	__le32 gid;
	__le32 nlink;
	__le32 flags;		/* VIRTIO_FAMFS_ATTR_F_* */
	__le32 padding;
};

/* READDIR */
struct virtio_famfs_readdir_in {
	__le64 cookie;		/* 0: first entry; else resume after it */
};

#define VIRTIO_FAMFS_READDIR_F_EOF	(1U << 0) /* no entries after these */

struct virtio_famfs_readdir_out {
	__le32 nentries;
	__le32 flags;		/* VIRTIO_FAMFS_READDIR_F_* */
};

/* Directory entry types (Linux DT_* values) */
#define VIRTIO_FAMFS_DT_DIR		4
#define VIRTIO_FAMFS_DT_REG		8

/* Followed by namelen bytes of name, then zeros up to a multiple of 8 */
struct virtio_famfs_dirent {
	__le64 nodeid;
	__le64 cookie;		/* resume after this entry */
	__le32 type;		/* VIRTIO_FAMFS_DT_* */
	__le32 namelen;
};

#define VIRTIO_FAMFS_DIRENT_ALIGN(x)	(((x) + 7) & ~7)
#define VIRTIO_FAMFS_DIRENT_SIZE(namelen) \
	(sizeof(struct virtio_famfs_dirent) + VIRTIO_FAMFS_DIRENT_ALIGN(namelen))
#define VIRTIO_FAMFS_DIRENT_MAX_SIZE \
	VIRTIO_FAMFS_DIRENT_SIZE(VIRTIO_FAMFS_NAME_MAX)

/* fmap_out.kind: how the extents that follow map the file */
#define VIRTIO_FAMFS_FMAP_SIMPLE	0	/* one after another, file order */
#define VIRTIO_FAMFS_FMAP_INTERLEAVED	1	/* chunks round-robin over strips */

/*
 * GET_FMAP: followed, for SIMPLE, by nextents struct virtio_famfs_extent;
 * for INTERLEAVED (only with VIRTIO_FAMFS_F_INTERLEAVE), by one struct
 * virtio_famfs_fmap_interleave and then nextents strips, each a
 * struct virtio_famfs_extent.
 */
struct virtio_famfs_fmap_out {
	__le64 file_size;
	__le32 nextents;	/* extents or strips; on E2BIG: the number needed */
	__le32 kind;		/* VIRTIO_FAMFS_FMAP_* */
};

/* File chunk k is at strips[k % nextents].offset + (k / nextents) * chunk */
struct virtio_famfs_fmap_interleave {
	__le64 chunk_size;	/* bytes, a multiple of alloc_unit */
};

struct virtio_famfs_extent {
	__le64 offset;		/* window offset == device offset */
	__le64 len;
};

/*
 * Inline maps (VIRTIO_FAMFS_F_ENTRY_FMAP). An inline map has exactly the
 * format of a GET_FMAP reply (struct virtio_famfs_fmap_out, for
 * INTERLEAVED the struct virtio_famfs_fmap_interleave, then the extents)
 * and at most VIRTIO_FAMFS_ENTRY_FMAP_MAX extents or strips; a file whose
 * map is larger, or has no map yet, is sent without one (fmap_len 0) and
 * the driver uses GET_FMAP.
 */
#define VIRTIO_FAMFS_ENTRY_FMAP_MAX	16

/*
 * LOOKUP reply when VIRTIO_FAMFS_F_ENTRY_FMAP is negotiated (without it,
 * LOOKUP replies a bare struct virtio_famfs_attr): followed by fmap_len
 * bytes of inline map.
 */
struct virtio_famfs_entry_out {
	struct virtio_famfs_attr attr;
	__le32 fmap_len;	/* bytes of inline map that follow; 0: none */
	__le32 padding;
};

/*
 * READDIRPLUS: the request is a struct virtio_famfs_readdir_in, the reply
 * a struct virtio_famfs_readdir_out and then nentries entries, each a
 * struct virtio_famfs_direntplus, namelen bytes of name, zeros up to a
 * multiple of 8, then (only with VIRTIO_FAMFS_F_ENTRY_FMAP) fmap_len bytes
 * of inline map (a multiple of 8).
 */
struct virtio_famfs_direntplus {
	struct virtio_famfs_attr attr;	/* attr.nodeid: the entry's node */
	__le64 cookie;		/* resume after this entry */
	__le32 type;		/* VIRTIO_FAMFS_DT_* */
	__le32 namelen;
	__le32 fmap_len;	/* bytes of inline map after the name; 0: none */
	__le32 padding;
};

#define VIRTIO_FAMFS_DIRENTPLUS_SIZE(namelen, fmap_len) \
	(sizeof(struct virtio_famfs_direntplus) + \
	 VIRTIO_FAMFS_DIRENT_ALIGN(namelen) + (fmap_len))

/*
 * FORGET (VIRTIO_FAMFS_F_FORGET): req_hdr.nodeid is 0, followed by count
 * __le64 node ids the driver no longer holds an inode for; it will send
 * GET_FMAP (or LOOKUP) again before it uses such a file's memory. The
 * reply is a bare struct virtio_famfs_resp_hdr.
 */
#define VIRTIO_FAMFS_FORGET_MAX		256

struct virtio_famfs_forget_in {
	__le32 count;		/* 1..VIRTIO_FAMFS_FORGET_MAX */
	__le32 padding;
};

/* CREATE: followed by namelen bytes of name, no NUL */
struct virtio_famfs_create_in {
	__le32 mode;		/* permission bits; S_IFREG or no type bits */
	__le32 uid;
	__le32 gid;
	__le32 flags;		/* none defined: 0 */
	__le64 size;		/* bytes, fixed for the life of the file */
	__le32 namelen;
	__le32 padding;
};

/* MKDIR: followed by namelen bytes of name, no NUL */
struct virtio_famfs_mkdir_in {
	__le32 mode;		/* permission bits; S_IFDIR or no type bits */
	__le32 uid;
	__le32 gid;
	__le32 namelen;
};

/* Notification queue */
#define VIRTIO_FAMFS_NOTIFY_NAMESPACE_CHANGED	1

struct virtio_famfs_notify {
	__le32 type;		/* VIRTIO_FAMFS_NOTIFY_* */
	__le32 padding;
	__le64 log_generation;	/* log entries the device has applied */
};

#endif /* _LINUX_VIRTIO_FAMFS_H */
