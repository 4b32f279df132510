/* archive_unpack.h: unpack a downloaded archive (zip, tar, tar.gz ... whatever libarchive
 * reads) into a directory, refusing entries that would land outside it (absolute paths,
 * "..", symlinks escaping), skipping macOS resource-fork junk (__MACOSX/, ._*), and
 * fsync'ing what it wrote. */
#ifndef COMPACTER_ARCHIVE_UNPACK_H
#define COMPACTER_ARCHIVE_UNPACK_H

/* Returns the number of files written, or -1 with an error naming the archive and entry. */
int archive_unpack(const char *archive_path, const char *dest_dir);

#endif
