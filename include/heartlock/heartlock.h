// Umbrella header: everything a user of libheartlock needs.
#ifndef HEARTLOCK_HEARTLOCK_H_
#define HEARTLOCK_HEARTLOCK_H_

#include "heartlock/clock.h"         // IWYU pragma: export
#include "heartlock/cron.h"          // IWYU pragma: export
#include "heartlock/digest.h"        // IWYU pragma: export
#include "heartlock/error.h"         // IWYU pragma: export
#include "heartlock/job_key.h"       // IWYU pragma: export
#include "heartlock/job_wrappers.h"  // IWYU pragma: export
#include "heartlock/leader.h"        // IWYU pragma: export
#include "heartlock/lease.h"         // IWYU pragma: export
#include "heartlock/ledger.h"        // IWYU pragma: export
#include "heartlock/options.h"       // IWYU pragma: export
#include "heartlock/scheduler.h"     // IWYU pragma: export
#include "heartlock/store.h"         // IWYU pragma: export
#include "heartlock/text.h"          // IWYU pragma: export
#include "heartlock/url.h"           // IWYU pragma: export
#include "heartlock/version.h"       // IWYU pragma: export

#endif  // HEARTLOCK_HEARTLOCK_H_
