// Outcome: how a supervised job ended, free of any exit-code convention (the CLI maps it).
#ifndef HEARTLOCK_EXEC_OUTCOME_H_
#define HEARTLOCK_EXEC_OUTCOME_H_

#include <sys/types.h>

namespace heartlock::exec {

struct Outcome {
  enum class Kind {
    exited,        // COMMAND exited by itself with `code`
    signaled,      // a signal (`signal`) ended COMMAND: its own doing, or one forwarded to it
    timed_out,     // the job's timeout passed; its group was stopped
    lost,          // the lease was lost (or reached its deadline) while COMMAND ran; stopped
    spawn_failed,  // COMMAND could not be started; `error` is the errno (ENOENT: not found)
  };
  Kind kind = Kind::exited;
  int code = 0;    // exited: the exit status
  int signal = 0;  // signaled: the signal number
  int error = 0;   // spawn_failed: the errno of the fork or exec
  pid_t pid = 0;   // COMMAND's pid (and process group), 0 if it never ran
};

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_OUTCOME_H_
