/* activation: when to activate, renew, retry and expire. The decisions live in the portable
 * core (core/schedule.c); this header keeps the Linux agent's includes working. */
#pragma once
#include <glib.h>

#include "core/schedule.h"
#include "guest-config.h"
