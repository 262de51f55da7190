// Keeping a password given on the command line out of /proc/<pid>/cmdline.
#ifndef HEARTLOCK_CLI_ARGV_SECRETS_H_
#define HEARTLOCK_CLI_ARGV_SECRETS_H_

namespace heartlock::cli {

// Overwrites, in place, the password of every `-b`/`--backend` URL among argv[1..argc) (the
// userinfo password and any `...password=` parameter) with '*', as mysql does with `-p`: the
// kernel reads /proc/<pid>/cmdline, which every local user may read, from this memory. Stops at
// "--". REQUIRES: the arguments were parsed already (CLI11 keeps its own copies).
void hide_backend_passwords(int argc, char** argv) noexcept;

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_ARGV_SECRETS_H_
