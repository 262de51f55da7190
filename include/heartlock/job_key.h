// The default lock name of a command: what `heartlock run` locks when no --key is given, so that
// anything else running the same command line (a scheduler, another tool) takes the same lock.
//
// Pure functions of their arguments; thread-safe.
#ifndef HEARTLOCK_JOB_KEY_H_
#define HEARTLOCK_JOB_KEY_H_

#include <string>
#include <vector>

#include "heartlock/export.h"

namespace heartlock {

// "run.<program>.<first 16 hex of SHA-256>", where the hash covers every argument with its length
// ("<len>:<bytes>," each), so `sh -c "a b"` and `sh -c a b` are different jobs. <program> is the
// basename of argv[0], reduced to [A-Za-z0-9_.-] and 32 bytes, for humans only. The result is a
// valid lock name (validate_name). This rule is stable: changing it would let two versions run
// the same job at once.
// REQUIRES: !argv.empty().
HEARTLOCK_API std::string job_key(const std::vector<std::string>& argv);

// The command line quoted for a POSIX shell, for display (the `command` of LeaseOptions): plain
// arguments as they are, others in single quotes, so that argument boundaries stay visible.
HEARTLOCK_API std::string shell_quote(const std::vector<std::string>& argv);

}  // namespace heartlock

#endif  // HEARTLOCK_JOB_KEY_H_
