/* fileio-win32: data folder with its ACL, atomic writes, durable appends. */
#include "fileio-win32.h"

#include "winutil.h"

#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Protected (no inherited ACEs), full control for SYSTEM and BUILTIN\Administrators, inherited by
 * the files inside: the state and the event history are for administrators only. */
#define DATA_DIR_SDDL L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

bool avma_data_dir_default(char *out, size_t cap, char *why, size_t why_len) {
  PWSTR w = NULL;
  HRESULT hr = SHGetKnownFolderPath(&FOLDERID_ProgramData, 0, NULL, &w);
  if (FAILED(hr)) {
    snprintf(why, why_len, "cannot find the ProgramData folder (HRESULT 0x%08lx)",
             (unsigned long)hr);
    return false;
  }
  char *u = avma_utf8(w);
  CoTaskMemFree(w);
  bool ok = u && avma_path_join(out, cap, u, "AVMA");
  free(u);
  if (!ok)
    snprintf(why, why_len, "the ProgramData path is too long");
  return ok;
}

bool avma_path_join(char *out, size_t cap, const char *dir, const char *name) {
  size_t n = strlen(dir);
  bool sep = n > 0 && (dir[n - 1] == '\\' || dir[n - 1] == '/');
  int w = snprintf(out, cap, "%s%s%s", dir, sep ? "" : "\\", name);
  return w > 0 && (size_t)w < cap;
}

bool avma_data_dir_ensure(const char *dir, bool enforce, char *why, size_t why_len) {
  wchar_t *w = avma_wide(dir);
  if (!w) {
    snprintf(why, why_len, "folder name '%s' is not valid UTF-8", dir);
    return false;
  }
  PSECURITY_DESCRIPTOR sd = NULL;
  char msg[160];
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(DATA_DIR_SDDL, SDDL_REVISION_1, &sd,
                                                            NULL)) {
    snprintf(why, why_len, "cannot build the folder's security descriptor: %s",
             avma_win_error(GetLastError(), msg, sizeof msg));
    free(w);
    return false;
  }
  SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .lpSecurityDescriptor = sd};
  bool ok = true;
  if (CreateDirectoryW(w, &sa)) {
    enforce = false; /* created with the right DACL */
  } else if (GetLastError() != ERROR_ALREADY_EXISTS) {
    snprintf(why, why_len, "cannot create %s: %s", dir,
             avma_win_error(GetLastError(), msg, sizeof msg));
    ok = false;
  }
  if (ok && enforce) {
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    DWORD e = ERROR_INVALID_SECURITY_DESCR;
    if (GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present)
      e = SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                NULL, NULL, dacl, NULL);
    if (e != ERROR_SUCCESS) {
      snprintf(why, why_len, "cannot restrict %s to SYSTEM and Administrators: %s", dir,
               avma_win_error(e, msg, sizeof msg));
      ok = false;
    }
  }
  LocalFree(sd);
  free(w);
  return ok;
}

static bool write_all(HANDLE h, const char *data, size_t len) {
  while (len > 0) {
    DWORD n = 0;
    if (!WriteFile(h, data, (DWORD)(len > 1u << 20 ? 1u << 20 : len), &n, NULL) || n == 0)
      return false;
    data += n;
    len -= n;
  }
  return true;
}

bool avma_write_atomic_file(const char *path, const char *data, size_t len, char *why,
                            size_t why_len) {
  char tmp[1100];
  uint32_t r = avma_win_session_id();
  snprintf(tmp, sizeof tmp, "%s.tmp-%08lx", path, (unsigned long)r);
  wchar_t *wp = avma_wide(path), *wt = avma_wide(tmp);
  char msg[160];
  bool ok = false;
  if (!wp || !wt) {
    snprintf(why, why_len, "bad file name %s", path);
    goto out;
  }
  /* CREATE_NEW: never write through a file someone planted under the temp name. */
  HANDLE h = CreateFileW(wt, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    snprintf(why, why_len, "cannot create %s: %s", tmp,
             avma_win_error(GetLastError(), msg, sizeof msg));
    goto out;
  }
  bool written = write_all(h, data, len) && FlushFileBuffers(h);
  DWORD e = GetLastError();
  CloseHandle(h);
  if (!written) {
    snprintf(why, why_len, "cannot write %s: %s", tmp, avma_win_error(e, msg, sizeof msg));
    DeleteFileW(wt);
    goto out;
  }
  if (!MoveFileExW(wt, wp, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    snprintf(why, why_len, "cannot replace %s: %s", path,
             avma_win_error(GetLastError(), msg, sizeof msg));
    DeleteFileW(wt);
    goto out;
  }
  ok = true;
out:
  free(wp);
  free(wt);
  return ok;
}

bool avma_append_file(const char *path, const char *data, size_t len, char *why, size_t why_len) {
  wchar_t *w = avma_wide(path);
  char msg[160];
  if (!w) {
    snprintf(why, why_len, "bad file name %s", path);
    return false;
  }
  HANDLE h = CreateFileW(w, FILE_APPEND_DATA, FILE_SHARE_READ, NULL, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) {
    snprintf(why, why_len, "cannot open %s: %s", path,
             avma_win_error(GetLastError(), msg, sizeof msg));
    return false;
  }
  bool ok = write_all(h, data, len) && FlushFileBuffers(h);
  if (!ok)
    snprintf(why, why_len, "cannot append to %s: %s", path,
             avma_win_error(GetLastError(), msg, sizeof msg));
  CloseHandle(h);
  return ok;
}
