/* history-db: the history store's raw SQLite handle, for tests and tools that inspect or tune the
 * store as an auditor would. Product code reads through history.h; all its SQL is in history.c. */
#pragma once
#include <sqlite3.h>

#include "history.h"

/* Borrowed: valid until avma_history_close. */
sqlite3 *avma_history_db(AvmaHistory *h);
