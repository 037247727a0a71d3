#ifndef BERTH_CLAYERARCHIVE_H
#define BERTH_CLAYERARCHIVE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Receives consecutive chunks of the uncompressed tar stream.
typedef void (*berth_layer_bytes_fn)(void *ctx, const void *bytes, size_t count);

/// Unpacks one OCI image layer (tar; plain, gzip, zstd, bzip2 or xz, detected from the content)
/// at `archive_path` into the empty directory `dest_dir`, which becomes an overlayfs lower
/// directory: `DIR/.wh.NAME` becomes a 0:0 character device `DIR/NAME` (unless this layer also has
/// a real `DIR/NAME`, in either order), `DIR/.wh..wh..opq` sets `trusted.overlay.opaque=y` on DIR,
/// other `.wh..wh.*` names are ignored.
///
/// Refused (the call fails): absolute names, names or hard-link targets with a `..` component,
/// entries whose parent path is a symlink or a non-directory (or has a `.wh.` component), hard
/// links to directories or to entries not (yet) in the layer, paths of PATH_MAX bytes or more,
/// uid/gid outside 0...4294967295 (4294967295 leaves the owner root), a non-empty destination.
/// Nothing is ever written through a symlink; a later entry replaces an earlier one of the same
/// name (a directory is kept, its metadata updated, when both are directories).
/// Ownership, mode (incl. setuid, setgid, sticky), xattrs (skipped only on EOPNOTSUPP;
/// `trusted.overlay.*` and `user.overlay.*` from the archive are dropped, as they would steer
/// overlayfs) and atime/mtime are restored; hard links get no metadata of their own (they share
/// the inode). Directory times are set last.
/// Ownership errors are ignored when not running as root.
///
/// `on_tar_bytes` (may be NULL) receives every byte of the uncompressed stream, in order, exactly
/// once, including the tar trailer and anything after it, so sha256 of them is the diff_id.
/// Bytes are passed on before they are unpacked: after a failure the digest is meaningless.
///
/// Thread-safe (no global state; the thread's locale is switched to C.UTF-8 during the call so
/// that UTF-8 pax names keep their bytes). Returns 0 on success; on failure -1 with a
/// NUL-terminated message in `error` (when `error` is non-NULL and `error_len` > 0); the
/// destination then holds a partial tree, which the caller removes.
int berth_unpack_layer(const char *archive_path, const char *dest_dir,
                       berth_layer_bytes_fn on_tar_bytes, void *ctx,
                       char *error, size_t error_len);

#ifdef __cplusplus
}
#endif
#endif
