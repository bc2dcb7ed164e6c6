/* guest-doctor: `avma-guest doctor`, what stands between this guest and its activation. */
#pragma once
#include <glib.h>

#include "guest-config.h"

/* Runs the checks and prints the report (common/doctor.h). Returns the exit status: 0 when
 * nothing stands in the way of activation, 1 when something does. Only reads. */
int avma_guest_doctor(const AvmaGuestConfig *c, gboolean json);
