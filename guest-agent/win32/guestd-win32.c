/* avma-guestd.exe: the Windows guest agent service. Wiring only: options, config, the service
 * control dispatcher (or --console), and the one wait loop over the stop event, the control
 * pipe and the runtime's handles. */
#include "control-win32.h"
#include "fileio-win32.h"
#include "pipe-win32.h"
#include "runtime-win32.h"
#include "setup-win32.h"
#include "winutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_NAME L"avma-guestd"

typedef struct {
  char *config_path, *state_dir, *port;
  bool console, print_product;
} Options;

static Options opts;
static HANDLE stop_event;
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = {.dwServiceType = SERVICE_WIN32_OWN_PROCESS};

static void set_status(DWORD state, DWORD exit_code) {
  if (!status_handle)
    return;
  status.dwCurrentState = state;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  status.dwWin32ExitCode = exit_code ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
  status.dwServiceSpecificExitCode = exit_code;
  status.dwWaitHint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 5000;
  status.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 1;
  SetServiceStatus(status_handle, &status);
}

static void print_product(void) {
  AvmaWinProductInfo pi;
  avma_win_product_read(&pi);
  printf("version: %s\nedition: %s\nproduct: %s\n",
         pi.known ? avma_version_name(pi.product.version) : "unknown",
         pi.known ? avma_edition_name(pi.product.edition) : "unknown", pi.detail);
}

static BOOL WINAPI on_console_ctrl(DWORD type) {
  (void)type;
  SetEvent(stop_event); /* Ctrl+C, Ctrl+Break, console close */
  return TRUE;
}

static DWORD WINAPI on_service_ctrl(DWORD ctrl, DWORD type, LPVOID data, LPVOID ctx) {
  (void)type;
  (void)data;
  (void)ctx;
  switch (ctrl) {
  case SERVICE_CONTROL_STOP:
  case SERVICE_CONTROL_SHUTDOWN:
    set_status(SERVICE_STOP_PENDING, 0);
    SetEvent(stop_event);
    return NO_ERROR;
  case SERVICE_CONTROL_INTERROGATE:
    return NO_ERROR;
  default:
    return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

static void wait_loop(AvmaWinGuest *g, AvmaPipeServer *pipe) {
  for (;;) {
    HANDLE h[8];
    int kind[8];
    size_t n = 0;
    h[n] = stop_event;
    kind[n++] = 0;
    HANDLE pe = avma_pipe_server_event(pipe);
    if (pe) {
      h[n] = pe;
      kind[n++] = -1;
    }
    n += avma_wg_handles(g, h + n, kind + n, 8 - n);
    DWORD t = avma_wg_timeout(g), pt = avma_pipe_server_timeout(pipe);
    DWORD w = WaitForMultipleObjects((DWORD)n, h, FALSE, pt < t ? pt : t);
    if (w == WAIT_OBJECT_0)
      return;
    if (w > WAIT_OBJECT_0 && w < WAIT_OBJECT_0 + n) {
      int k = kind[w - WAIT_OBJECT_0];
      if (k < 0)
        avma_pipe_server_dispatch(pipe);
      else
        avma_wg_dispatch(g, k);
    } else if (w == WAIT_FAILED) {
      avma_log("wait failed (error %lu)", (unsigned long)GetLastError());
      Sleep(1000); /* never spin on a broken handle */
    }
    avma_wg_tick(g);
    avma_pipe_server_tick(pipe);
  }
}

/* The agent, as a service or in the console. Returns the exit code. */
static int run(void) {
  AvmaWinConfig cfg;
  char why[1024], dir[AVMA_WIN_PATH_MAX];
  AvmaWinLog log;
  bool is_default = false;
  if (!avma_win_setup(&cfg, opts.config_path, opts.state_dir, opts.port, dir, sizeof dir,
                      &is_default, why, sizeof why)) {
    avma_winlog_open(&log, NULL);
    avma_winlog_notice(&log, EVENTLOG_ERROR_TYPE, "%s", why);
    avma_winlog_close(&log);
    return 1;
  }
  avma_winlog_open(&log, *cfg.event_sink ? cfg.event_sink : NULL);
  /* The default folder is ours: its DACL is enforced at every start. */
  if (!avma_data_dir_ensure(dir, is_default, why, sizeof why))
    avma_winlog_notice(&log, EVENTLOG_WARNING_TYPE, "%s", why);
  static AvmaWinGuest g;
  if (!avma_wg_init(&g, &cfg, dir, &log, why, sizeof why)) {
    avma_winlog_notice(&log, EVENTLOG_ERROR_TYPE, "%s", why);
    avma_winlog_close(&log);
    return 1;
  }
  int rc = 0;
  AvmaPipeServer pipe;
  if (!avma_pipe_server_open(&pipe, cfg.pipe, avma_control_request, &g, why, sizeof why)) {
    avma_winlog_notice(&log, EVENTLOG_ERROR_TYPE, "%s", why);
    rc = 1;
    goto out;
  }
  /* Only one process may hold a virtio port: a second agent must leave the first alone. */
  AvmaWPortStatus ps = avma_wg_open_port(&g, why, sizeof why);
  if (ps == AVMA_WPORT_BUSY) {
    avma_winlog_notice(&log, EVENTLOG_ERROR_TYPE, "%s", why);
    rc = 1;
    avma_pipe_server_close(&pipe);
    goto out;
  }
  if (ps != AVMA_WPORT_OK)
    avma_log("%s; will keep looking while an activation is due", why);
  avma_log("product from the registry: %s", g.pinfo.known ? g.pinfo.detail : "unknown");
  if (!g.pinfo.known)
    avma_winlog_notice(&log, EVENTLOG_WARNING_TYPE,
                       "the product is unknown (%s): the installed key decides", g.pinfo.detail);
  avma_log("started: port %s, state %s, pipe %s", cfg.port, dir, cfg.pipe);
  set_status(SERVICE_RUNNING, 0);
  avma_wg_start_daemon(&g);
  wait_loop(&g, &pipe);
  avma_log("stopping");
  avma_pipe_server_close(&pipe);
out:
  avma_wg_free(&g);
  avma_winlog_close(&log);
  return rc;
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  (void)argc;
  (void)argv;
  status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, on_service_ctrl, NULL);
  if (!status_handle)
    return;
  set_status(SERVICE_START_PENDING, 0);
  int rc = run();
  set_status(SERVICE_STOPPED, (DWORD)rc);
}

static void usage(FILE *f) {
  fprintf(f, "Usage: avma-guestd [--console] [--config FILE] [--state-dir DIR] [--port PATH]\n"
             "       avma-guestd --print-product | --version\n"
             "Runs as the avma-guestd service; --console runs in the foreground (Ctrl+C stops).\n"
             "--print-product shows the product read from the registry.\n");
}

static char *arg_utf8(wchar_t *w) {
  char *s = avma_utf8(w);
  if (!s) {
    fprintf(stderr, "avma-guestd: bad argument\n");
    exit(2);
  }
  return s;
}

int wmain(int argc, wchar_t **argv); /* the -municode entry point */
int wmain(int argc, wchar_t **argv) {
  avma_log_init("avma-guestd");
  for (int i = 1; i < argc; i++) {
    const wchar_t *a = argv[i];
    bool has_next = i + 1 < argc;
    if (!wcscmp(a, L"--console"))
      opts.console = true;
    else if (!wcscmp(a, L"--print-product"))
      opts.print_product = true;
    else if (!wcscmp(a, L"--config") && has_next)
      opts.config_path = arg_utf8(argv[++i]);
    else if (!wcscmp(a, L"--state-dir") && has_next)
      opts.state_dir = arg_utf8(argv[++i]);
    else if (!wcscmp(a, L"--port") && has_next)
      opts.port = arg_utf8(argv[++i]);
    else if (!wcscmp(a, L"--version")) {
      printf("avma-guestd %s\n", AVMA_VERSION);
      return 0;
    } else if (!wcscmp(a, L"--help") || !wcscmp(a, L"-h")) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (opts.print_product) {
    print_product();
    return 0;
  }
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (opts.console) {
    SetConsoleCtrlHandler(on_console_ctrl, TRUE);
    return run();
  }
  SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
  if (!StartServiceCtrlDispatcherW(table)) {
    DWORD e = GetLastError();
    if (e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
      fprintf(stderr, "avma-guestd: not started by the service manager; run it as the "
                      "avma-guestd service, or use --console to run in the foreground\n");
    else
      fprintf(stderr, "avma-guestd: StartServiceCtrlDispatcher failed (error %lu)\n",
              (unsigned long)e);
    return 1;
  }
  return 0;
}
