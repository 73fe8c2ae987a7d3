// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-famfs: the window from a guest pmem device.
 *
 * A VMM that cannot share memory through the virtio-famfs device (the
 * device sets NO_WINDOW) can still hand the guest the same memory as a
 * pmem block device in fsdax mode (virtio-pmem, an nvdimm namespace).
 * Such a device maps the whole DAX device from offset 0, so window offset
 * = device offset, as with shared memory region 0 (spec section 5.3).
 * Before using it the mount proves it is the same memory: the famfs
 * superblock read through it must be valid and name the file system the
 * virtio-famfs device serves, and the device must be large enough.
 */

#include <linux/blkdev.h>
#include <linux/crc32.h>
#include <linux/dax.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#include "famfs.h"

/* The famfs superblock at device offset 0: the fields checked here. */
#define FAMFS_SB_MAGIC		0x87b282ffULL
#define FAMFS_SB_VERSION_MIN	47
#define FAMFS_SB_VERSION_MAX	48
#define FAMFS_SB_CRC_LEN	96	/* crc32 over magic .. system_uuid */

struct famfs_media_sb {
	__le64 magic;
	__le64 version;
	__le64 log_offset;
	__le64 log_len;
	__le64 alloc_unit;
	__le32 omf_major;
	__le32 omf_minor;
	u8 fs_uuid[16];
	u8 dev_uuid[16];
	u8 system_uuid[16];
	__le64 crc;
} __packed;

static_assert(offsetof(struct famfs_media_sb, fs_uuid) == 48);
static_assert(offsetof(struct famfs_media_sb, crc) == FAMFS_SB_CRC_LEN);

/*
 * The pmem device is going away (kill_dax() sends MF_MEM_PRE_REMOVE
 * before its memory goes), or a range of it failed. Removal cuts every
 * file off the window while the memory is still there; a memory failure
 * is left to the generic handler, which signals the mapping processes.
 */
static int famfs_pmem_notify_failure(struct dax_device *dax_dev, u64 offset,
				     u64 len, int mf_flags)
{
	struct super_block *sb = dax_holder(dax_dev);
	struct famfs_sb_info *sbi;

	if (!(mf_flags & MF_MEM_PRE_REMOVE))
		return -EOPNOTSUPP;
	if (!sb)
		return 0;
	sbi = FAMFS_SB(sb);
	mutex_lock(&sbi->pmem_lock);
	if (sbi->dax_dev == dax_dev && !READ_ONCE(sbi->window_gone)) {
		WRITE_ONCE(sbi->window_gone, true);
		pr_warn("%s: pmem window %s removed while mounted; files now fail with ENODEV or SIGBUS\n",
			sbi->fdev->tag, sbi->pmem_path);
		famfs_sb_shutdown(sb);
	}
	mutex_unlock(&sbi->pmem_lock);
	return 0;
}

static const struct dax_holder_operations famfs_pmem_holder_ops = {
	.notify_failure	= famfs_pmem_notify_failure,
};

/* Reads the famfs superblock at device offset 0 of @dax_dev. */
static int famfs_pmem_read_sb(struct dax_device *dax_dev, u64 start,
			      struct famfs_media_sb *msb)
{
	void *kaddr;
	long nr;
	int id, err = 0;

	id = dax_read_lock();
	nr = dax_direct_access(dax_dev, PHYS_PFN(start), 1, DAX_ACCESS,
			       &kaddr, NULL);
	if (nr < 1)
		err = nr < 0 ? nr : -EIO;
	else if (copy_mc_to_kernel(msb, kaddr, sizeof(*msb)))
		err = -EIO;	/* poisoned superblock */
	dax_read_unlock(id);
	return err;
}

/* The superblock must be famfs's, intact, and the device's file system. */
static int famfs_pmem_check_sb(struct fs_context *fc, struct famfs_vdev *fdev,
			       const char *path,
			       const struct famfs_media_sb *msb)
{
	u64 version = le64_to_cpu(msb->version);
	u32 crc = crc32_le(~0U, (const u8 *)msb, FAMFS_SB_CRC_LEN) ^ ~0U;

	if (le64_to_cpu(msb->magic) != FAMFS_SB_MAGIC) {
		errorfc(fc, "pmem=%s: no famfs superblock (magic %#llx)", path,
			le64_to_cpu(msb->magic));
		return -EINVAL;
	}
	if (le64_to_cpu(msb->crc) != crc) {
		errorfc(fc, "pmem=%s: famfs superblock checksum mismatch", path);
		return -EINVAL;
	}
	if (version < FAMFS_SB_VERSION_MIN || version > FAMFS_SB_VERSION_MAX) {
		errorfc(fc, "pmem=%s: unknown famfs superblock version %llu",
			path, version);
		return -EINVAL;
	}
	if (memcmp(msb->fs_uuid, fdev->fs_uuid, sizeof(fdev->fs_uuid))) {
		errorfc(fc, "pmem=%s: holds another file system: fs_uuid %pUb, tag %s serves %pUb",
			path, msb->fs_uuid, fdev->tag, fdev->fs_uuid);
		return -EINVAL;
	}
	return 0;
}

/**
 * famfs_pmem_attach - take the window of @sb from its pmem= device
 * @sb: a new super block whose device offers no window
 * @fc: the mount's context, for messages
 *
 * Return: 0, with the window in FAMFS_SB(@sb), or a negative errno.
 */
int famfs_pmem_attach(struct super_block *sb, struct fs_context *fc)
{
	struct famfs_sb_info *sbi = FAMFS_SB(sb);
	struct famfs_vdev *fdev = sbi->fdev;
	const char *path = sbi->pmem_path;
	blk_mode_t mode = BLK_OPEN_READ;
	struct famfs_media_sb msb;
	struct dax_device *dax_dev;
	struct block_device *bdev;
	struct file *bdev_file;
	u64 start, size;
	int err;

	if (!sb_rdonly(sb))
		mode |= BLK_OPEN_WRITE;
	/* Exclusive: no other file system may use the memory meanwhile. */
	bdev_file = bdev_file_open_by_path(path, mode, sb, NULL);
	if (IS_ERR(bdev_file)) {
		err = PTR_ERR(bdev_file);
		errorfc(fc, "pmem=%s: cannot open the block device%s: %d", path,
			err == -EACCES || err == -EROFS ?
			" writable (mount read-only)" : "", err);
		return err;
	}
	bdev = file_bdev(bdev_file);
	dax_dev = fs_dax_get_by_bdev(bdev, &start, sb, &famfs_pmem_holder_ops);
	if (!dax_dev) {
		errorfc(fc,
			"pmem=%s: not a DAX-capable device (a pmem namespace in fsdax mode), or in use",
			path);
		err = -EINVAL;
		goto out_close;
	}
	size = bdev_nr_bytes(bdev);
	if (size < fdev->device_size) {
		errorfc(fc, "pmem=%s: %llu bytes, smaller than the device's %llu",
			path, size, fdev->device_size);
		err = -EINVAL;
		goto out_put;
	}
	err = famfs_pmem_read_sb(dax_dev, start, &msb);
	if (err) {
		errorfc(fc, "pmem=%s: cannot read the superblock: %d", path,
			err);
		goto out_put;
	}
	err = famfs_pmem_check_sb(fc, fdev, path, &msb);
	if (err)
		goto out_put;

	sbi->pmem_bdev = bdev_file;
	sbi->dax_dev = dax_dev;
	sbi->dax_off = start;
	/* 2 MiB granules, as the shared memory window (famfs_vio.c). */
	sbi->window_len = ALIGN_DOWN(fdev->device_size, SZ_2M);
	return 0;

out_put:
	fs_put_dax(dax_dev, sb);
out_close:
	bdev_fput(bdev_file);
	return err;
}

/**
 * famfs_pmem_detach - let go of the pmem window once @sb is shut down
 * @sb: a super block whose inodes are gone; the caller holds pmem_lock
 *	since before the shutdown, which wrote back through the window,
 *	and this releases it
 */
void famfs_pmem_detach(struct super_block *sb)
{
	struct famfs_sb_info *sbi = FAMFS_SB(sb);
	struct file *bdev_file = sbi->pmem_bdev;

	lockdep_assert_held(&sbi->pmem_lock);
	fs_put_dax(sbi->dax_dev, sb);
	sbi->dax_dev = NULL;
	sbi->pmem_bdev = NULL;
	mutex_unlock(&sbi->pmem_lock);
	bdev_fput(bdev_file);
}
