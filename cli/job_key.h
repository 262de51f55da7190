// The default lock name of `heartlock run`: derived from the command line.
#ifndef HEARTLOCK_CLI_JOB_KEY_H_
#define HEARTLOCK_CLI_JOB_KEY_H_

#include <string>
#include <vector>

namespace heartlock::cli {

// "run.<program>.<first 16 hex of SHA-256>", where the hash covers every argument with its length
// ("<len>:<bytes>," each), so `sh -c "a b"` and `sh -c a b` are different jobs. <program> is the
// basename of argv[0], reduced to [A-Za-z0-9_.-] and 32 bytes, for humans only.
// REQUIRES: !argv.empty().
std::string job_key(const std::vector<std::string>& argv);

// The command line quoted for a shell, for display.
std::string shell_quote(const std::vector<std::string>& argv);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_JOB_KEY_H_
