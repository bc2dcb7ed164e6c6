/* fileio-win32: the agent's data folder (%ProgramData%\AVMA, SYSTEM and Administrators only),
 * atomic replacement (temp file, FlushFileBuffers, MoveFileExW write-through) and durable
 * appends. Paths are UTF-8. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* SHGetKnownFolderPath(FOLDERID_ProgramData)\AVMA: the same in a service and a user process
 * (%ProgramData% is not: under Wine a service gets C:\users\Public). */
bool avma_data_dir_default(char *out, size_t cap, char *why, size_t why_len);
/* Create dir if missing with a protected DACL for SYSTEM and Administrators; with enforce, also
 * reset an existing folder's DACL to that. */
bool avma_data_dir_ensure(const char *dir, bool enforce, char *why, size_t why_len);
/* dir\name into out. */
bool avma_path_join(char *out, size_t cap, const char *dir, const char *name);

bool avma_write_atomic_file(const char *path, const char *data, size_t len, char *why,
                            size_t why_len);
/* Append and flush: the bytes are on disk when this returns true. */
bool avma_append_file(const char *path, const char *data, size_t len, char *why, size_t why_len);
