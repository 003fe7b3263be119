/* Writing a whole buffer to a file descriptor, through short writes and
 * signals: what secret files, key files, stdout and configfs all need. */
#ifndef CVMBOOT_FDIO_H
#define CVMBOOT_FDIO_H

#include <stddef.h>

/* 0 when all len bytes were written; -1 with errno set otherwise (EIO if
 * the descriptor stopped taking bytes). */
int fd_write_all(int fd, const void *data, size_t len);

#endif
