// The job key rule moved into the library (heartlock/job_key.h), where the scheduler uses it too.
// This forwarding header remains only for cli/run_command.cc, which is being moved out of cli/ by
// another change; delete it when that change includes heartlock/job_key.h instead.
#ifndef HEARTLOCK_CLI_JOB_KEY_H_
#define HEARTLOCK_CLI_JOB_KEY_H_

#include "heartlock/job_key.h"  // IWYU pragma: export

#endif  // HEARTLOCK_CLI_JOB_KEY_H_
