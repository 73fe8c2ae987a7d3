// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-famfs: the "famfs" file system type.
 *
 * The namespace lives on the device; this file turns its answers into
 * inodes and dentries. famfs nodes never change, move or disappear, so
 * positive dentries and inodes are cached for good. Only negative
 * dentries and directory listings go stale; NAMESPACE_CHANGED
 * notifications bump the device's namespace sequence, which both are
 * checked against.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/backing-dev.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/string.h>
#include <linux/uidgid.h>

#include "famfs.h"

static struct kmem_cache *famfs_inode_cachep;

static const struct inode_operations famfs_dir_inode_operations;
static const struct file_operations famfs_dir_operations;

/* A reply that passed the transport checks but cannot be used. */
static int famfs_bad_node(struct famfs_vdev *fdev, const char *op,
			  const char *why, u64 val)
{
	famfs_stat_inc(fdev, FAMFS_STAT_REQ_ERRORS);
	dev_err_ratelimited(fdev->dev, "%s: invalid %s reply: %s (%llu)\n",
			    fdev->tag, op, why, val);
	return -EIO;
}

/**
 * famfs_check_attr - check attributes a device sent
 * @fdev: the device
 * @attr: the attributes
 * @type: S_IFDIR or S_IFREG if the node must be of that type, else 0
 *
 * Return: 0, or -EIO (logged) if they cannot be used.
 */
int famfs_check_attr(struct famfs_vdev *fdev,
		     const struct virtio_famfs_attr *attr, umode_t type)
{
	u32 mode = le32_to_cpu(attr->mode);

	if (!le64_to_cpu(attr->nodeid))
		return famfs_bad_node(fdev, "attr", "node id 0", 0);
	if (mode & ~(S_IFMT | 07777))
		return famfs_bad_node(fdev, "attr", "mode", mode);
	if (!S_ISDIR(mode) && !S_ISREG(mode))
		return famfs_bad_node(fdev, "attr", "file type", mode);
	if (type && (mode & S_IFMT) != type)
		return famfs_bad_node(fdev, "attr", "unexpected type", mode);
	if (S_ISREG(mode) && le64_to_cpu(attr->size) > MAX_LFS_FILESIZE)
		return famfs_bad_node(fdev, "attr", "size",
				      le64_to_cpu(attr->size));
	return 0;
}

static void famfs_set_times(struct inode *inode)
{
	struct timespec64 t = FAMFS_SB(inode->i_sb)->mount_time;

	inode_set_atime_to_ts(inode, t);
	inode_set_mtime_to_ts(inode, t);
	inode_set_ctime_to_ts(inode, t);
}

/*
 * Another guest, or the host, may have made a file setuid: unless this
 * mount trusts them (allow_suid), such bits are not shown, so they grant
 * nothing here. Setgid without group execute marks no privilege; it stays.
 */
static umode_t famfs_trusted_mode(struct super_block *sb, umode_t mode)
{
	if (S_ISREG(mode) && !FAMFS_SB(sb)->allow_suid) {
		mode &= ~S_ISUID;
		if (mode & 0010)	/* group execute */
			mode &= ~S_ISGID;
	}
	return mode;
}

static void famfs_fill_inode(struct inode *inode,
			     const struct virtio_famfs_attr *attr)
{
	struct famfs_inode *fi = FAMFS_I(inode);
	u32 mode = le32_to_cpu(attr->mode);

	inode->i_mode = famfs_trusted_mode(inode->i_sb, mode);
	inode->i_uid = make_kuid(&init_user_ns, le32_to_cpu(attr->uid));
	inode->i_gid = make_kgid(&init_user_ns, le32_to_cpu(attr->gid));
	set_nlink(inode, max(le32_to_cpu(attr->nlink), 1U));
	inode->i_generation = (u32)le64_to_cpu(attr->generation);
	fi->attr_flags = le32_to_cpu(attr->flags);
	famfs_set_times(inode);

	if (S_ISDIR(mode)) {
		inode->i_op = &famfs_dir_inode_operations;
		inode->i_fop = &famfs_dir_operations;
		return;
	}
	inode->i_op = &famfs_file_inode_operations;
	inode->i_fop = &famfs_file_operations;
	inode->i_mapping->a_ops = &famfs_dax_aops;
	inode->i_flags |= S_DAX;
	if (fi->attr_flags & VIRTIO_FAMFS_ATTR_F_RDONLY)
		inode->i_flags |= S_IMMUTABLE;
	i_size_write(inode, le64_to_cpu(attr->size));
	inode->i_blocks = le64_to_cpu(attr->blocks);
}

static int famfs_inode_test(struct inode *inode, void *data)
{
	return FAMFS_I(inode)->nodeid == *(u64 *)data;
}

static int famfs_inode_set(struct inode *inode, void *data)
{
	FAMFS_I(inode)->nodeid = *(u64 *)data;
	inode->i_ino = *(u64 *)data;
	return 0;
}

/**
 * famfs_iget - the inode of a node, from the cache or new
 * @sb: the super block
 * @attr: the node's attributes, checked with famfs_check_attr()
 *
 * A cached inode must agree with @attr on type and size: famfs nodes never
 * change, so a device that says otherwise is not trusted for this node.
 *
 * Return: the inode with a reference, or an ERR_PTR().
 */
struct inode *famfs_iget(struct super_block *sb,
			 const struct virtio_famfs_attr *attr)
{
	u64 nodeid = le64_to_cpu(attr->nodeid);
	u32 mode = le32_to_cpu(attr->mode);
	struct inode *inode;

	inode = iget5_locked(sb, nodeid, famfs_inode_test, famfs_inode_set,
			     &nodeid);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (inode->i_state & I_NEW) {
		famfs_fill_inode(inode, attr);
		unlock_new_inode(inode);
		return inode;
	}
	if (inode_wrong_type(inode, mode) ||
	    (S_ISREG(mode) && i_size_read(inode) != le64_to_cpu(attr->size))) {
		FAMFS_I(inode)->bad = true;
		famfs_stat_inc(famfs_sb_vdev(sb), FAMFS_STAT_REQ_ERRORS);
		dev_err_ratelimited(famfs_sb_vdev(sb)->dev,
				    "%s: node %llu changed type or size\n",
				    famfs_sb_vdev(sb)->tag, nodeid);
		iput(inode);
		return ERR_PTR(-EIO);
	}
	if (S_ISDIR(mode))
		set_nlink(inode, max(le32_to_cpu(attr->nlink), 1U));
	return inode;
}

/*
 * The inode of a node the device has just created: a node id this super
 * block already has an inode for means the reply is not about a new node,
 * and instantiating it would give that inode a second dentry.
 */
static struct inode *famfs_iget_new(struct super_block *sb,
				    const struct virtio_famfs_attr *attr)
{
	u64 nodeid = le64_to_cpu(attr->nodeid);
	struct inode *inode;

	inode = iget5_locked(sb, nodeid, famfs_inode_test, famfs_inode_set,
			     &nodeid);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW)) {
		iput(inode);
		famfs_stat_inc(famfs_sb_vdev(sb), FAMFS_STAT_REQ_ERRORS);
		pr_err_ratelimited("%s: new node %llu is already known\n",
				   famfs_sb_vdev(sb)->tag, nodeid);
		return ERR_PTR(-EIO);
	}
	famfs_fill_inode(inode, attr);
	unlock_new_inode(inode);
	return inode;
}

/**
 * famfs_hash_inode - give a newly created file its node id
 * @inode: a pending inode that the device has just created
 * @nodeid: the node id the device gave it
 *
 * Return: 0, or -EIO if an inode with that node id is already cached.
 */
int famfs_hash_inode(struct inode *inode, u64 nodeid)
{
	struct inode *other;

	other = ilookup5(inode->i_sb, nodeid, famfs_inode_test, &nodeid);
	if (other) {
		iput(other);
		dev_err_ratelimited(famfs_sb_vdev(inode->i_sb)->dev,
				    "%s: new node %llu is already known\n",
				    famfs_sb_vdev(inode->i_sb)->tag, nodeid);
		return -EIO;
	}
	FAMFS_I(inode)->nodeid = nodeid;
	inode->i_ino = nodeid;
	__insert_inode_hash(inode, nodeid);
	return 0;
}

static int famfs_getattr_req(struct famfs_vdev *fdev, u64 nodeid,
			     struct virtio_famfs_attr *attr, umode_t type)
{
	struct famfs_req *req;
	int err;

	req = famfs_req_alloc(0, sizeof(*attr));
	if (!req)
		return -ENOMEM;
	err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_GETATTR, nodeid,
			     sizeof(*attr));
	if (!err) {
		memcpy(attr, famfs_req_reply(req), sizeof(*attr));
		err = famfs_check_attr(fdev, attr, type);
		if (!err && le64_to_cpu(attr->nodeid) != nodeid)
			err = famfs_bad_node(fdev, "GETATTR", "other node",
					     le64_to_cpu(attr->nodeid));
	}
	famfs_req_put(req);
	return err;
}

/*
 * LOOKUP of @name in directory @dir; @attr is checked. With
 * VIRTIO_FAMFS_F_ENTRY_FMAP the reply is a struct virtio_famfs_entry_out
 * and may carry the node's map: then *@reqp keeps the request, *@fmap and
 * *@fmap_len point into it, and the caller puts it.
 */
static int famfs_lookup_req(struct famfs_vdev *fdev, u64 dir,
			    const struct qstr *name,
			    struct virtio_famfs_attr *attr,
			    struct famfs_req **reqp, const void **fmap,
			    size_t *fmap_len)
{
	const struct virtio_famfs_entry_out *eo;
	struct virtio_famfs_lookup_in *in;
	size_t head = sizeof(*attr), room = 0;
	struct famfs_req *req;
	int err;

	if (fdev->entry_fmap) {
		head = sizeof(*eo);
		room = FAMFS_INLINE_FMAP_MAX;
	}
	req = famfs_req_alloc(sizeof(*in) + name->len, head + room);
	if (!req)
		return -ENOMEM;
	in = famfs_req_body(req);
	in->namelen = cpu_to_le32(name->len);
	memcpy(in + 1, name->name, name->len);

	err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_LOOKUP, dir, head);
	if (err)
		goto out;
	memcpy(attr, famfs_req_reply(req), sizeof(*attr));
	err = famfs_check_attr(fdev, attr, 0);
	if (err || !fdev->entry_fmap)
		goto out;
	eo = famfs_req_reply(req);
	if (le32_to_cpu(eo->fmap_len) > famfs_req_reply_len(req) - head) {
		err = famfs_bad_node(fdev, "LOOKUP", "map beyond the reply",
				     le32_to_cpu(eo->fmap_len));
		goto out;
	}
	if (reqp && eo->fmap_len) {
		*fmap = eo + 1;
		*fmap_len = le32_to_cpu(eo->fmap_len);
		*reqp = req;
		return 0;
	}
out:
	famfs_req_put(req);
	return err;
}

/* ---- dentries ---------------------------------------------------------- */

static bool famfs_dentry_current(struct dentry *dentry, u64 seq)
{
	return famfs_sb_vdev(dentry->d_sb)->notify &&
	       READ_ONCE(dentry->d_time) == (unsigned long)seq;
}

/*
 * A file created here and not yet sized exists only in this guest. Once
 * the namespace changed, another guest may have created a file of that
 * name on the device, which this dentry would hide: if so, drop it (the
 * pending file's own opener then fails to create it, EEXIST).
 */
static int famfs_revalidate_pending(struct dentry *dentry, unsigned int flags)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(dentry->d_sb);
	u64 seq = famfs_ns_seq(fdev);
	struct virtio_famfs_attr attr;
	struct name_snapshot name;
	struct dentry *parent;
	int err;

	if (famfs_dentry_current(dentry, seq))
		return 1;
	if (flags & LOOKUP_RCU)
		return -ECHILD;

	parent = dget_parent(dentry);
	take_dentry_name_snapshot(&name, dentry);
	err = famfs_lookup_req(fdev, FAMFS_I(d_inode(parent))->nodeid,
			       &name.name, &attr, NULL, NULL, NULL);
	release_dentry_name_snapshot(&name);
	dput(parent);
	if (!err && famfs_inode_pending(FAMFS_I(d_inode(dentry))))
		return 0;
	/* Not there (or the device cannot say now): keep the local file. */
	if (err == -ENOENT)
		WRITE_ONCE(dentry->d_time, seq);
	return 1;
}

/*
 * Positive dentries of device nodes stay valid for good. A negative one,
 * or one of a file not yet on the device, is checked again after the
 * namespace changes; without notifications, every time.
 */
static int famfs_d_revalidate(struct dentry *dentry, unsigned int flags)
{
	struct inode *inode;

	if (d_really_is_negative(dentry))
		return famfs_dentry_current(dentry,
					    famfs_ns_seq(famfs_sb_vdev(dentry->d_sb)));
	inode = d_inode_rcu(dentry);
	if (!inode || !famfs_inode_pending(FAMFS_I(inode)))
		return 1;
	return famfs_revalidate_pending(dentry, flags);
}

static const struct dentry_operations famfs_dentry_operations = {
	.d_revalidate	= famfs_d_revalidate,
};

/* ---- directories ------------------------------------------------------- */

static bool famfs_valid_name(const char *name, size_t len)
{
	if (!len || len > VIRTIO_FAMFS_NAME_MAX)
		return false;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return false;
	return true;
}

static struct dentry *famfs_lookup(struct inode *dir, struct dentry *dentry,
				   unsigned int flags)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(dir->i_sb);
	const struct qstr *name = &dentry->d_name;
	struct virtio_famfs_attr attr;
	struct famfs_req *req = NULL;
	struct inode *inode = NULL;
	const void *fmap = NULL;
	size_t fmap_len = 0;
	u64 seq;
	int err;

	if (name->len > VIRTIO_FAMFS_NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);

	/* Taken first: a change during the request makes the answer stale. */
	seq = famfs_ns_seq(fdev);
	err = famfs_lookup_req(fdev, FAMFS_I(dir)->nodeid, name, &attr,
			       &req, &fmap, &fmap_len);
	if (!err) {
		inode = famfs_iget(dir->i_sb, &attr);
		/* A map that fails its check fails the lookup. */
		if (!IS_ERR(inode) && famfs_fmap_inline(inode, fmap, fmap_len)) {
			iput(inode);
			inode = ERR_PTR(-EIO);
		}
	}
	if (req)
		famfs_req_put(req);

	if (err == -ENOENT)
		dentry->d_time = seq;
	else if (err)
		return ERR_PTR(err);
	return d_splice_alias(inode, dentry);
}

static int famfs_dir_reserve(struct famfs_vdev *fdev,
			     struct famfs_dir_cache *dc, u32 more)
{
	struct famfs_dirent *ents;
	u32 cap;

	if (more > FAMFS_DIR_MAX_ENTRIES - dc->nr)
		return famfs_bad_node(fdev, "READDIR", "too many entries",
				      (u64)dc->nr + more);
	if (dc->nr + more <= dc->cap)
		return 0;
	cap = max3(dc->nr + more, dc->cap * 2, 16U);
	cap = min(cap, FAMFS_DIR_MAX_ENTRIES);
	ents = kvrealloc(dc->ents, array_size(cap, sizeof(*ents)), GFP_KERNEL);
	if (!ents)
		return -ENOMEM;
	dc->ents = ents;
	dc->cap = cap;
	return 0;
}

/* One entry of a READDIR or READDIRPLUS reply, as the device laid it out. */
struct famfs_wire_dirent {
	u64 nodeid;
	u64 cookie;
	u32 type;
	u32 namelen;
	const char *name;
	const struct virtio_famfs_attr *attr;	/* READDIRPLUS only */
	const void *fmap;			/* inline map, or NULL */
	u32 fmap_len;
	size_t rec;				/* bytes the entry takes */
};

/*
 * Decodes the entry at @buf (@len bytes left) and checks its framing.
 * Return: NULL, or why it cannot be used.
 */
static const char *famfs_wire_dirent(struct famfs_vdev *fdev, bool plus,
				     const void *buf, size_t len,
				     struct famfs_wire_dirent *w)
{
	size_t hdr, padded;

	if (plus) {
		const struct virtio_famfs_direntplus *dp = buf;

		hdr = sizeof(*dp);
		if (len < hdr)
			return "entry does not fit";
		w->attr = &dp->attr;
		w->nodeid = le64_to_cpu(dp->attr.nodeid);
		w->cookie = le64_to_cpu(dp->cookie);
		w->type = le32_to_cpu(dp->type);
		w->namelen = le32_to_cpu(dp->namelen);
		w->fmap_len = le32_to_cpu(dp->fmap_len);
	} else {
		const struct virtio_famfs_dirent *de = buf;

		hdr = sizeof(*de);
		if (len < hdr)
			return "entry does not fit";
		w->attr = NULL;
		w->nodeid = le64_to_cpu(de->nodeid);
		w->cookie = le64_to_cpu(de->cookie);
		w->type = le32_to_cpu(de->type);
		w->namelen = le32_to_cpu(de->namelen);
		w->fmap_len = 0;
	}
	if (!w->namelen || w->namelen > VIRTIO_FAMFS_NAME_MAX)
		return "bad name length";
	if (w->fmap_len && !fdev->entry_fmap)
		return "map without VIRTIO_FAMFS_F_ENTRY_FMAP";
	if (w->fmap_len > FAMFS_INLINE_FMAP_MAX || w->fmap_len % 8)
		return "bad map length";
	padded = VIRTIO_FAMFS_DIRENT_ALIGN(w->namelen);
	w->rec = hdr + padded + w->fmap_len;
	if (len < w->rec)
		return "entry does not fit";
	w->name = buf + hdr;
	w->fmap = w->fmap_len ? buf + hdr + padded : NULL;
	if (!famfs_valid_name(w->name, w->namelen))
		return "invalid name";
	if (memchr_inv(w->name + w->namelen, 0, padded - w->namelen))
		return "padding not zero";
	if (w->type != VIRTIO_FAMFS_DT_DIR && w->type != VIRTIO_FAMFS_DT_REG)
		return "unknown type";
	return NULL;
}

/*
 * A READDIRPLUS entry's attributes agree with its type, and its inline
 * map passes the checks of a GET_FMAP reply.
 */
static int famfs_check_dirent_attr(struct famfs_vdev *fdev,
				   const struct famfs_wire_dirent *w)
{
	umode_t type = w->type == VIRTIO_FAMFS_DT_DIR ? S_IFDIR : S_IFREG;
	int err;

	err = famfs_check_attr(fdev, w->attr, type);
	if (err || !w->fmap_len)
		return err;
	return famfs_fmap_check_inline(fdev, w->attr, w->fmap, w->fmap_len);
}

/* Appends the entries of one READDIR(PLUS) reply to @dc, or nothing. */
static int famfs_readdir_parse(struct famfs_vdev *fdev,
			       struct famfs_dir_cache *dc, bool plus,
			       const void *buf, size_t len, bool *eof)
{
	const struct virtio_famfs_readdir_out *out = buf;
	const char *op = plus ? "READDIRPLUS" : "READDIR";
	u64 last = dc->nr ? dc->ents[dc->nr - 1].nodeid : 0;
	size_t off = sizeof(*out), min_rec;
	u32 n, i, nr0 = dc->nr;
	struct famfs_wire_dirent w;
	const char *why;
	int err;

	min_rec = plus ? VIRTIO_FAMFS_DIRENTPLUS_SIZE(1, 0) :
			 VIRTIO_FAMFS_DIRENT_SIZE(1);
	n = le32_to_cpu(out->nentries);
	*eof = le32_to_cpu(out->flags) & VIRTIO_FAMFS_READDIR_F_EOF;
	if (!n && !*eof)
		return famfs_bad_node(fdev, op, "no entries, no EOF", 0);
	if (n > (len - off) / min_rec)
		return famfs_bad_node(fdev, op, "entries do not fit", n);
	err = famfs_dir_reserve(fdev, dc, n);
	if (err)
		return err;

	for (i = 0; i < n; i++) {
		struct famfs_dirent *e = &dc->ents[dc->nr];

		why = famfs_wire_dirent(fdev, plus, buf + off, len - off, &w);
		if (why)
			goto bad;
		why = "node ids not ascending";
		if (w.nodeid <= last)
			goto bad;
		/* Section 7.14: bad attributes or map reject the whole reply. */
		if (plus) {
			err = famfs_check_dirent_attr(fdev, &w);
			if (err) {
				dc->nr = nr0;
				return err;
			}
		}

		last = w.nodeid;
		e->nodeid = w.nodeid;
		e->cookie = w.cookie;
		e->type = w.type;
		e->namelen = w.namelen;
		memcpy(e->name, w.name, w.namelen);
		dc->nr++;
		off += w.rec;
	}
	return 0;
bad:
	dc->nr = nr0;
	return famfs_bad_node(fdev, op, why, i);
}

/*
 * Instantiates the dentry and inode of one READDIRPLUS entry, checked by
 * famfs_readdir_parse(), as a LOOKUP of it would, so that stat() and
 * open() of a listed name send nothing. An entry that names the root or
 * the directory itself, or a node whose cached inode it contradicts, is
 * not instantiated (the name stays listed; a later LOOKUP decides); a
 * dentry already in the dcache is kept, not replaced.
 */
static void famfs_prime_dentry(struct dentry *parent,
			       const struct famfs_wire_dirent *w)
{
	struct super_block *sb = parent->d_sb;
	struct famfs_vdev *fdev = famfs_sb_vdev(sb);
	DECLARE_WAIT_QUEUE_HEAD_ONSTACK(wq);
	struct qstr name = QSTR_INIT(w->name, w->namelen);
	struct dentry *dentry, *alias;
	struct inode *inode;
	bool retried = false;

	/* A listing cannot hold the root or the directory itself. */
	if (w->nodeid == fdev->root_nodeid ||
	    w->nodeid == FAMFS_I(d_inode(parent))->nodeid) {
		famfs_bad_node(fdev, "READDIRPLUS", "entry is an ancestor",
			       w->nodeid);
		return;
	}

	name.hash = full_name_hash(parent, name.name, name.len);
	dentry = d_lookup(parent, &name);
	for (;;) {
		if (!dentry) {
			dentry = d_alloc_parallel(parent, &name, &wq);
			if (IS_ERR(dentry))
				return;
		}
		if (d_in_lookup(dentry))
			break;
		inode = d_inode(dentry);
		if (inode) {
			/* Known: famfs nodes never move; add a missing map. */
			if (FAMFS_I(inode)->nodeid == w->nodeid)
				famfs_fmap_inline(inode, w->fmap, w->fmap_len);
			dput(dentry);
			return;
		}
		/* A negative dentry the listing contradicts: drop it. */
		d_invalidate(dentry);
		dput(dentry);
		dentry = NULL;
		if (retried)
			return;
		retried = true;
	}

	inode = famfs_iget(sb, w->attr);
	if (!IS_ERR(inode) && famfs_fmap_inline(inode, w->fmap, w->fmap_len)) {
		iput(inode);
		inode = ERR_PTR(-EIO);
	}
	if (IS_ERR(inode)) {
		d_lookup_done(dentry);
		dput(dentry);
		return;
	}
	alias = d_splice_alias(inode, dentry);
	d_lookup_done(dentry);
	if (!IS_ERR(alias)) {
		famfs_stat_inc(fdev, FAMFS_STAT_ENTRIES_PRIMED);
		dput(alias);
	}
	dput(dentry);
}

/* Primes the entries of a READDIRPLUS reply that famfs_readdir_parse() took. */
static void famfs_prime_reply(struct dentry *parent, const void *buf,
			      size_t len, u32 n)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(parent->d_sb);
	size_t off = sizeof(struct virtio_famfs_readdir_out);
	struct famfs_wire_dirent w;
	u32 i;

	for (i = 0; i < n; i++) {
		if (famfs_wire_dirent(fdev, true, buf + off, len - off, &w))
			return;	/* cannot happen: parsed already */
		famfs_prime_dentry(parent, &w);
		off += w.rec;
	}
}

/*
 * Fetches the entries after the last cached one; with READDIRPLUS, also
 * instantiates their dentries under @parent.
 */
static int famfs_readdir_fetch(struct famfs_vdev *fdev, struct famfs_inode *fi,
			       struct dentry *parent)
{
	struct famfs_dir_cache *dc = &fi->dir;
	struct virtio_famfs_readdir_in *in;
	bool plus = fdev->readdirplus;
	u64 seq = famfs_ns_seq(fdev);
	struct famfs_req *req;
	u32 nr0 = dc->nr;
	bool eof;
	int err;

	req = famfs_req_alloc(sizeof(*in),
			      sizeof(struct virtio_famfs_readdir_out) +
			      fdev->readdir_bytes);
	if (!req)
		return -ENOMEM;
	in = famfs_req_body(req);
	in->cookie = cpu_to_le64(dc->nr ? dc->ents[dc->nr - 1].cookie : 0);
	err = famfs_req_send(fdev, req, plus ? VIRTIO_FAMFS_OP_READDIRPLUS :
			     VIRTIO_FAMFS_OP_READDIR, fi->nodeid,
			     sizeof(struct virtio_famfs_readdir_out));
	if (!err)
		err = famfs_readdir_parse(fdev, dc, plus, famfs_req_reply(req),
					  famfs_req_reply_len(req), &eof);
	if (!err && plus)
		famfs_prime_reply(parent, famfs_req_reply(req),
				  famfs_req_reply_len(req), dc->nr - nr0);
	famfs_req_put(req);
	if (err)
		return err;
	dc->eof = eof;
	dc->seq = seq;
	return 0;
}

/*
 * The listing is cached on the directory and only ever grows at its end
 * (the device returns entries in node-id order and new nodes get larger
 * ids), so ctx->pos is simply an index into it.
 */
static int famfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct famfs_vdev *fdev = famfs_sb_vdev(dir->i_sb);
	struct famfs_inode *fi = FAMFS_I(dir);
	struct famfs_dir_cache *dc = &fi->dir;
	int err = 0, refetch = 0;

	if (famfs_vdev_gone(fdev))
		return -ENODEV;
	if (mutex_lock_killable(&fi->dir_lock))
		return -EINTR;
	/* Without notifications every new listing asks the device. */
	if (!fdev->notify && ctx->pos <= 2)
		dc->eof = false;
	/* A listing that cannot be read fails before "." and "..". */
	if (ctx->pos == 0 && !dc->nr && !dc->eof) {
		err = famfs_readdir_fetch(fdev, fi, file->f_path.dentry);
		if (err)
			goto out;
	}
	if (!dir_emit_dots(file, ctx))
		goto out;
	for (;;) {
		while (ctx->pos - 2 < dc->nr) {
			struct famfs_dirent *e = &dc->ents[ctx->pos - 2];

			if (!dir_emit(ctx, e->name, e->namelen, e->nodeid,
				      e->type))
				goto out;
			ctx->pos++;
		}
		if (dc->eof && (dc->seq == famfs_ns_seq(fdev) ||
				refetch++ >= FAMFS_READDIR_REFETCH))
			break;
		err = famfs_readdir_fetch(fdev, fi, file->f_path.dentry);
		if (err)
			break;
	}
out:
	mutex_unlock(&fi->dir_lock);
	return err;
}

/**
 * famfs_dir_changed - forget that a directory's listing is complete
 * @dir: a directory that got an entry from this driver
 */
void famfs_dir_changed(struct inode *dir)
{
	struct famfs_inode *fi = FAMFS_I(dir);

	mutex_lock(&fi->dir_lock);
	fi->dir.eof = false;
	mutex_unlock(&fi->dir_lock);
}

static int famfs_may_create(struct inode *dir, struct dentry *dentry)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(dir->i_sb);

	if (sb_rdonly(dir->i_sb) || famfs_vdev_read_only(fdev) ||
	    !famfs_vdev_may_create(fdev))
		return -EROFS;
	if (!famfs_valid_name(dentry->d_name.name, dentry->d_name.len))
		return dentry->d_name.len > VIRTIO_FAMFS_NAME_MAX ?
			-ENAMETOOLONG : -EINVAL;
	return 0;
}

/*
 * O_CREAT makes a file that exists only in this guest, of size 0: a famfs
 * file gets its one and only size when it is created on the device, which
 * happens at its first ftruncate() or fallocate() (famfs_file.c).
 */
static int famfs_create(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *dentry, umode_t mode, bool excl)
{
	struct famfs_inode *fi;
	struct inode *inode;
	int err;

	err = famfs_may_create(dir, dentry);
	if (err)
		return err;
	inode = new_inode(dir->i_sb);
	if (!inode)
		return -ENOMEM;
	fi = FAMFS_I(inode);
	fi->pending = true;
	inode->i_ino = get_next_ino();
	inode_init_owner(idmap, inode, dir, S_IFREG | (mode & 07777));
	set_nlink(inode, 1);
	famfs_set_times(inode);
	inode->i_op = &famfs_file_inode_operations;
	inode->i_fop = &famfs_file_operations;
	inode->i_mapping->a_ops = &famfs_dax_aops;
	inode->i_flags |= S_DAX;
	/* What the device's namespace was: see famfs_revalidate_pending(). */
	dentry->d_time = famfs_ns_seq(famfs_sb_vdev(dir->i_sb));
	d_instantiate(dentry, inode);
	return 0;
}

static int famfs_mkdir(struct mnt_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(dir->i_sb);
	const struct qstr *name = &dentry->d_name;
	struct virtio_famfs_mkdir_in *in;
	struct virtio_famfs_attr *attr;
	struct famfs_req *req;
	struct inode *inode;
	kgid_t gid = current_fsgid();
	int err;

	err = famfs_may_create(dir, dentry);
	if (err)
		return err;
	if (dir->i_mode & S_ISGID) {
		gid = dir->i_gid;
		mode |= S_ISGID;
	}

	req = famfs_req_alloc(sizeof(*in) + name->len, sizeof(*attr));
	if (!req)
		return -ENOMEM;
	in = famfs_req_body(req);
	in->mode = cpu_to_le32(mode & 07777);
	in->uid = cpu_to_le32(from_kuid_munged(&init_user_ns, current_fsuid()));
	in->gid = cpu_to_le32(from_kgid_munged(&init_user_ns, gid));
	in->namelen = cpu_to_le32(name->len);
	memcpy(in + 1, name->name, name->len);

	err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_MKDIR,
			     FAMFS_I(dir)->nodeid, sizeof(*attr));
	famfs_dir_changed(dir);
	if (err)
		goto out;
	attr = famfs_req_reply(req);
	err = famfs_check_attr(fdev, attr, S_IFDIR);
	if (err)
		goto out;
	inode = famfs_iget_new(dir->i_sb, attr);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out;
	}
	inc_nlink(dir);
	d_instantiate(dentry, inode);
out:
	famfs_req_put(req);
	return err;
}

/**
 * famfs_getattr - stat a node
 * @idmap: idmap of the mount
 * @path: the node
 * @stat: filled in
 * @request_mask: statx fields asked for
 * @flags: AT_* flags
 *
 * Attributes never change except a directory's link count, which is
 * asked for again after the namespace changed.
 *
 * Return: 0 or a negative errno.
 */
int famfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	struct famfs_inode *fi = FAMFS_I(inode);
	struct virtio_famfs_attr attr;
	u64 seq = famfs_ns_seq(fdev);

	if (famfs_vdev_gone(fdev))
		return -ENODEV;
	if (S_ISDIR(inode->i_mode) && READ_ONCE(fi->attr_seq) != seq &&
	    !(flags & AT_STATX_DONT_SYNC)) {
		if (!famfs_getattr_req(fdev, fi->nodeid, &attr, S_IFDIR)) {
			set_nlink(inode, max(le32_to_cpu(attr.nlink), 1U));
			WRITE_ONCE(fi->attr_seq, seq);
		}
	}
	generic_fillattr(idmap, request_mask, inode, stat);
	return 0;
}

static const struct inode_operations famfs_dir_inode_operations = {
	.lookup		= famfs_lookup,
	.create		= famfs_create,
	.mkdir		= famfs_mkdir,
	/*
	 * No unlink, rmdir, rename, link, symlink or mknod of devices: the
	 * VFS fails them with EPERM, as famfs never removes or renames.
	 */
	.setattr	= famfs_setattr,
	.getattr	= famfs_getattr,
};

static const struct file_operations famfs_dir_operations = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= famfs_readdir,
	.fsync		= noop_fsync,
};

/* ---- super block ------------------------------------------------------- */

static struct inode *famfs_alloc_inode(struct super_block *sb)
{
	struct famfs_inode *fi;

	fi = alloc_inode_sb(sb, famfs_inode_cachep, GFP_KERNEL);
	if (!fi)
		return NULL;
	fi->nodeid = 0;
	fi->attr_flags = 0;
	fi->pending = false;
	fi->bad = false;
	atomic_set(&fi->opens, 0);
	fi->fmap = NULL;
	memset(&fi->dir, 0, sizeof(fi->dir));
	fi->attr_seq = 0;
	return &fi->vfs_inode;
}

static void famfs_free_inode(struct inode *inode)
{
	kmem_cache_free(famfs_inode_cachep, FAMFS_I(inode));
}

static void famfs_evict_inode(struct inode *inode)
{
	struct famfs_inode *fi = FAMFS_I(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	/* An isolated window unmaps the file once the device hears of it. */
	if (fi->fmap && fi->nodeid)
		famfs_forget_queue(famfs_sb_vdev(inode->i_sb), fi->nodeid);
	famfs_fmap_free(fi);
	kvfree(fi->dir.ents);
	fi->dir.ents = NULL;
}

static int famfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(dentry->d_sb);
	const struct virtio_famfs_statfs_out *out;
	u64 au = fdev->alloc_unit, slots, used;
	struct famfs_req *req;
	int err;

	req = famfs_req_alloc(0, sizeof(*out));
	if (!req)
		return -ENOMEM;
	err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_STATFS, 0,
			     sizeof(*out));
	if (err)
		goto out;
	out = famfs_req_reply(req);

	buf->f_type = FAMFS_SUPER_MAGIC;
	buf->f_bsize = au;
	buf->f_frsize = au;
	buf->f_blocks = le64_to_cpu(out->total_bytes) / au;
	buf->f_bfree = min(le64_to_cpu(out->free_bytes) / au, buf->f_blocks);
	buf->f_bavail = buf->f_bfree;
	slots = le64_to_cpu(out->log_slots);
	used = min(le64_to_cpu(out->log_used), slots);
	buf->f_ffree = slots - used;
	buf->f_files = min(le64_to_cpu(out->files), U64_MAX / 4) +
		       min(le64_to_cpu(out->dirs), U64_MAX / 4) +
		       min(buf->f_ffree, U64_MAX / 4);
	buf->f_namelen = VIRTIO_FAMFS_NAME_MAX;
	buf->f_fsid = uuid_to_fsid(fdev->fs_uuid);
out:
	famfs_req_put(req);
	return err;
}

static int famfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct famfs_sb_info *sbi = FAMFS_SB(root->d_sb);
	unsigned int timeout_s = READ_ONCE(sbi->fdev->timeout_s);

	if (sbi->allow_suid)
		seq_puts(m, ",allow_suid");
	if (sbi->pmem_path)
		seq_show_option(m, "pmem", sbi->pmem_path);
	/* The device's, which a later mount or remount may have changed. */
	if (timeout_s)
		seq_printf(m, ",timeout=%u", timeout_s);
	return 0;
}

static const struct super_operations famfs_super_operations = {
	.alloc_inode	= famfs_alloc_inode,
	.free_inode	= famfs_free_inode,
	.evict_inode	= famfs_evict_inode,
	.statfs		= famfs_statfs,
	.show_options	= famfs_show_options,
};

static int famfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct famfs_sb_info *sbi = FAMFS_SB(sb);
	struct famfs_vdev *fdev = sbi->fdev;
	struct virtio_famfs_attr attr;
	struct inode *root;
	int err;

	sbi->sb = sb;
	sb->s_magic = FAMFS_SUPER_MAGIC;
	sb->s_op = &famfs_super_operations;
	sb->s_d_op = &famfs_dentry_operations;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_time_gran = 1;
	super_set_uuid(sb, fdev->fs_uuid, sizeof(fdev->fs_uuid));
	ktime_get_real_ts64(&sbi->mount_time);

	/* A bdi that writes back, so that fsync() reaches writepages. */
	err = super_setup_bdi(sb);
	if (err)
		return err;
	sb->s_bdi->ra_pages = 0;
	sb->s_bdi->capabilities &= ~BDI_CAP_WRITEBACK_ACCT;

	err = famfs_getattr_req(fdev, fdev->root_nodeid, &attr, S_IFDIR);
	if (err) {
		errorfc(fc, "tag %s: cannot get the root directory: %d",
			fdev->tag, err);
		return err;
	}
	root = famfs_iget(sb, &attr);
	if (IS_ERR(root))
		return PTR_ERR(root);
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

/**
 * famfs_sb_shutdown - cut every regular file of @sb off the window
 * @sb: a mounted super block whose device is being removed
 *
 * Called with the device marked removed, so no new mapping can appear;
 * inodes being evicted are skipped, their eviction truncates them.
 */
void famfs_sb_shutdown(struct super_block *sb)
{
	struct inode *inode, *done = NULL;

	spin_lock(&sb->s_inode_list_lock);
	list_for_each_entry(inode, &sb->s_inodes, i_sb_list) {
		spin_lock(&inode->i_lock);
		if ((inode->i_state & (I_FREEING | I_WILL_FREE | I_NEW)) ||
		    !S_ISREG(inode->i_mode)) {
			spin_unlock(&inode->i_lock);
			continue;
		}
		__iget(inode);
		spin_unlock(&inode->i_lock);
		spin_unlock(&sb->s_inode_list_lock);

		/* Dropped here, not under the list lock: iput() may evict. */
		iput(done);
		famfs_inode_shutdown(inode);
		done = inode;
		cond_resched();
		spin_lock(&sb->s_inode_list_lock);
	}
	spin_unlock(&sb->s_inode_list_lock);
	iput(done);
}

static int famfs_test_super(struct super_block *sb, struct fs_context *fc)
{
	struct famfs_sb_info *new = fc->s_fs_info;

	return FAMFS_SB(sb)->fdev == new->fdev;
}

static int famfs_get_tree(struct fs_context *fc)
{
	struct famfs_sb_info *sbi = fc->s_fs_info;
	struct famfs_vdev *fdev;
	struct super_block *sb;
	int err;

	if (!fc->source)
		return invalfc(fc, "no device tag given");
	fdev = famfs_vdev_get_by_tag(fc->source);
	if (!fdev) {
		errorfc(fc, "no virtio-famfs device with tag \"%s\"", fc->source);
		return -ENOENT;
	}
	sbi->fdev = fdev;	/* famfs_free_fc() drops it if unused */
	if (sbi->timeout_s)
		WRITE_ONCE(fdev->timeout_s, sbi->timeout_s);

	if (fdev->no_window && !sbi->pmem_path) {
		errorfc(fc,
			"tag %s: %s (a pmem device holding the file system can be given with -o pmem=)",
			fdev->tag, fdev->no_window);
		return -ENXIO;
	}
	if (!fdev->no_window && sbi->pmem_path) {
		errorfc(fc, "tag %s: pmem= given, but the device has its own window",
			fdev->tag);
		return -EINVAL;
	}
	sbi->dax_dev = fdev->dax_dev;	/* the pmem window replaces it */
	sbi->window_len = fdev->window_len;
	err = famfs_vdev_start(fdev);
	if (err == -EINTR)
		return err;
	if (err == -ETIMEDOUT) {
		errorfc(fc, "tag %s: no reply to INIT in time; the next mount waits again",
			fdev->tag);
		return err;
	}
	if (err) {
		errorfc(fc, "tag %s: the device failed to initialize: %d",
			fdev->tag, err);
		return err;
	}
	if (famfs_vdev_read_only(fdev) && !(fc->sb_flags & SB_RDONLY)) {
		infofc(fc, "tag %s: read-only device, mounting read-only", fdev->tag);
		fc->sb_flags |= SB_RDONLY;
	}

	sb = sget_fc(fc, famfs_test_super, set_anon_super_fc);
	if (IS_ERR(sb))
		return PTR_ERR(sb);
	if (!sb->s_root) {
		err = sbi->pmem_path ? famfs_pmem_attach(sb, fc) : 0;
		if (!err)
			err = famfs_fill_super(sb, fc);
		if (err) {
			deactivate_locked_super(sb);
			return err;
		}
		sb->s_flags |= SB_ACTIVE;
		famfs_vdev_add_sb(fdev, sb);
	} else if ((fc->sb_flags ^ sb->s_flags) & SB_RDONLY) {
		deactivate_locked_super(sb);
		errorfc(fc, "tag %s: already mounted %s", fdev->tag,
			sb_rdonly(sb) ? "read-only" : "read-write");
		return -EBUSY;
	} else if (sbi->pmem_path && (!FAMFS_SB(sb)->pmem_path ||
		   strcmp(sbi->pmem_path, FAMFS_SB(sb)->pmem_path))) {
		deactivate_locked_super(sb);
		errorfc(fc, "tag %s: already mounted with another window",
			fdev->tag);
		return -EBUSY;
	} else if (FAMFS_SB(sb)->allow_suid != sbi->allow_suid) {
		/* Mounts of one tag share their inodes, and so their modes. */
		deactivate_locked_super(sb);
		errorfc(fc, "tag %s: already mounted %s allow_suid", fdev->tag,
			sbi->allow_suid ? "without" : "with");
		return -EBUSY;
	}
	fc->root = dget(sb->s_root);
	return 0;
}

static int famfs_reconfigure(struct fs_context *fc)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(fc->root->d_sb);
	struct famfs_sb_info *opts = fc->s_fs_info;
	struct famfs_sb_info *cur = FAMFS_SB(fc->root->d_sb);

	if (!(fc->sb_flags & SB_RDONLY) && famfs_vdev_read_only(fdev)) {
		errorfc(fc, "tag %s: the device is read-only", fdev->tag);
		return -EROFS;
	}
	/* The pmem device was opened for reading only: mount anew. */
	if (!(fc->sb_flags & SB_RDONLY) && cur->pmem_bdev &&
	    !(cur->pmem_bdev->f_mode & FMODE_WRITE)) {
		errorfc(fc, "tag %s: pmem=%s is open read-only; unmount and mount read-write",
			fdev->tag, cur->pmem_path);
		return -EROFS;
	}
	if (opts->pmem_path && strcmp(opts->pmem_path, cur->pmem_path ?: "")) {
		errorfc(fc, "tag %s: pmem= cannot change on remount",
			fdev->tag);
		return -EINVAL;
	}
	if (opts->allow_suid != cur->allow_suid) {
		errorfc(fc, "tag %s: allow_suid cannot change on remount",
			fdev->tag);
		return -EINVAL;
	}
	if (opts->timeout_s)
		WRITE_ONCE(fdev->timeout_s, opts->timeout_s);
	return 0;
}

static void famfs_free_fc(struct fs_context *fc)
{
	struct famfs_sb_info *sbi = fc->s_fs_info;

	if (sbi) {
		if (sbi->fdev)
			famfs_vdev_put(sbi->fdev);
		kfree(sbi->pmem_path);
		kfree(sbi);
	}
}

/* ---- mount options ---------------------------------------------------- */

/*
 * "suid"/"nosuid" never reach a file system (mount(8) turns them into
 * MS_NOSUID), hence a name of our own for allow_suid.
 */
enum famfs_param {
	FAMFS_OPT_ALLOW_SUID,
	FAMFS_OPT_TIMEOUT,
	FAMFS_OPT_PMEM,
};

static const struct fs_parameter_spec famfs_fs_parameters[] = {
	fsparam_flag("allow_suid", FAMFS_OPT_ALLOW_SUID),
	fsparam_u32("timeout", FAMFS_OPT_TIMEOUT),
	fsparam_string("pmem", FAMFS_OPT_PMEM),
	{}
};

/* Parses into the fs_context's famfs_sb_info (famfs_init_fs_context()). */
static int famfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct famfs_sb_info *opts = fc->s_fs_info;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, famfs_fs_parameters, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case FAMFS_OPT_ALLOW_SUID:
		opts->allow_suid = true;
		break;
	case FAMFS_OPT_TIMEOUT:
		/* Seconds without progress before the device is dead. */
		if (result.uint_32 < 1 || result.uint_32 > 3600)
			return invalfc(fc, "timeout must be 1 to 3600 seconds");
		opts->timeout_s = result.uint_32;
		break;
	case FAMFS_OPT_PMEM:
		/* The window's block device, when the device offers none. */
		kfree(opts->pmem_path);
		opts->pmem_path = param->string;
		param->string = NULL;
		break;
	}
	return 0;
}

static const struct fs_context_operations famfs_context_ops = {
	.free		= famfs_free_fc,
	.parse_param	= famfs_parse_param,
	.get_tree	= famfs_get_tree,
	.reconfigure	= famfs_reconfigure,
};

static int famfs_init_fs_context(struct fs_context *fc)
{
	struct famfs_sb_info *sbi;

	/* Holds the options; becomes the super block's if a new one is made. */
	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	INIT_LIST_HEAD(&sbi->node);
	mutex_init(&sbi->pmem_lock);
	fc->s_fs_info = sbi;
	fc->ops = &famfs_context_ops;
	return 0;
}

static void famfs_kill_sb(struct super_block *sb)
{
	struct famfs_sb_info *sbi = FAMFS_SB(sb);
	struct file *pmem = sbi ? sbi->pmem_bdev : NULL;

	/* First, so that a removal under way is done with this sb. */
	if (sbi)
		famfs_vdev_del_sb(sbi->fdev, sb);
	/* A pmem removal waits: the shutdown writes back through it. */
	if (pmem)
		mutex_lock(&sbi->pmem_lock);
	kill_anon_super(sb);
	if (pmem)
		famfs_pmem_detach(sb);
	if (sbi) {
		/* Every inode is gone: the device hears of all before umount ends. */
		famfs_forget_flush(sbi->fdev);
		famfs_vdev_put(sbi->fdev);
		kfree(sbi->pmem_path);
		kfree(sbi);
	}
}

static struct file_system_type famfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= FAMFS_NAME,
	.init_fs_context	= famfs_init_fs_context,
	.parameters		= famfs_fs_parameters,
	.kill_sb		= famfs_kill_sb,
};
MODULE_ALIAS_FS(FAMFS_NAME);

static void famfs_inode_init_once(void *p)
{
	struct famfs_inode *fi = p;

	inode_init_once(&fi->vfs_inode);
	mutex_init(&fi->fmap_lock);
	mutex_init(&fi->dir_lock);
}

static int __init famfs_init(void)
{
	int err;

	famfs_inode_cachep = kmem_cache_create("famfs_inode",
					       sizeof(struct famfs_inode), 0,
					       SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
					       famfs_inode_init_once);
	if (!famfs_inode_cachep)
		return -ENOMEM;
	err = register_filesystem(&famfs_fs_type);
	if (err)
		goto out_cache;
	err = famfs_vio_init();
	if (err)
		goto out_fs;
	return 0;

out_fs:
	unregister_filesystem(&famfs_fs_type);
out_cache:
	kmem_cache_destroy(famfs_inode_cachep);
	return err;
}

static void __exit famfs_exit(void)
{
	famfs_vio_exit();
	unregister_filesystem(&famfs_fs_type);
	/* Inodes are freed after an RCU grace period. */
	rcu_barrier();
	kmem_cache_destroy(famfs_inode_cachep);
}

module_init(famfs_init);
module_exit(famfs_exit);

MODULE_DESCRIPTION("virtio-famfs: famfs over a VIRTIO shared memory window");
MODULE_LICENSE("GPL");
