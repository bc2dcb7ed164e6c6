/* guestd-ioerror: G_IO_ERROR for avma-guestd, which does not link gio (issue #20: gio and
 * gobject were 1.4 MB of its resident memory). The common modules it shares with the host agent
 * (fsutil, channel, settings, sign, receipt) report their errors in G_IO_ERROR, and the quark
 * and the errno mapping are all they use of gio: defined here under gio's own names, so their
 * errors keep the same domain and codes. Linked into avma-guestd only, never into a program
 * that links gio. */
#include <errno.h>
#include <gio/gio.h>

GQuark g_io_error_quark(void) {
  /* The name gio registers its domain under: g_error_matches() agrees with gio's. */
  return g_quark_from_static_string("g-io-error-quark");
}

GIOErrorEnum g_io_error_from_errno(gint err_no) {
  switch (err_no) {
  case EEXIST:
    return G_IO_ERROR_EXISTS;
  case EISDIR:
    return G_IO_ERROR_IS_DIRECTORY;
  case EACCES:
  case EPERM:
    return G_IO_ERROR_PERMISSION_DENIED;
  case ENAMETOOLONG:
    return G_IO_ERROR_FILENAME_TOO_LONG;
  case ENOENT:
    return G_IO_ERROR_NOT_FOUND;
  case ENOTDIR:
    return G_IO_ERROR_NOT_DIRECTORY;
  case EROFS:
    return G_IO_ERROR_READ_ONLY;
  case ELOOP:
    return G_IO_ERROR_TOO_MANY_LINKS;
  case ENOSPC:
  case EDQUOT:
    return G_IO_ERROR_NO_SPACE;
  case EINVAL:
    return G_IO_ERROR_INVALID_ARGUMENT;
  case EBUSY:
    return G_IO_ERROR_BUSY;
  case EAGAIN:
    return G_IO_ERROR_WOULD_BLOCK;
  case ETIMEDOUT:
    return G_IO_ERROR_TIMED_OUT;
  case ECANCELED:
    return G_IO_ERROR_CANCELLED;
  case ENOTEMPTY:
    return G_IO_ERROR_NOT_EMPTY;
  case ENOTSUP:
    return G_IO_ERROR_NOT_SUPPORTED;
  case EMFILE:
  case ENFILE:
    return G_IO_ERROR_TOO_MANY_OPEN_FILES;
  case EADDRINUSE:
    return G_IO_ERROR_ADDRESS_IN_USE;
  case EHOSTUNREACH:
    return G_IO_ERROR_HOST_UNREACHABLE;
  case ENETUNREACH:
    return G_IO_ERROR_NETWORK_UNREACHABLE;
  case ECONNREFUSED:
    return G_IO_ERROR_CONNECTION_REFUSED;
  case EPIPE:
  case ECONNRESET:
    return G_IO_ERROR_CONNECTION_CLOSED;
  case ENOTCONN:
    return G_IO_ERROR_NOT_CONNECTED;
  case EMSGSIZE:
    return G_IO_ERROR_MESSAGE_TOO_LARGE;
  default:
    return G_IO_ERROR_FAILED;
  }
}
