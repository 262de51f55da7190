// Exit codes of the heartlock executable. Documented in README.md and in `heartlock --help`.
#ifndef HEARTLOCK_CLI_EXIT_CODES_H_
#define HEARTLOCK_CLI_EXIT_CODES_H_

namespace heartlock::cli {

// COMMAND's own status is passed through when it ran (128+N if signal N ended it).
inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;        // bad option, duration, name or missing command
inline constexpr int kExitNoInput = 66;      // an input file cannot be read (EX_NOINPUT)
inline constexpr int kExitUnavailable = 69;  // backend unavailable, permission denied, lock error
inline constexpr int kExitInternal = 70;     // a bug
inline constexpr int kExitCantCreate = 73;   // an output file cannot be written (EX_CANTCREAT)
inline constexpr int kExitBusy = 75;         // the lock is held by someone else (-E changes it)
inline constexpr int kExitLost = 79;         // the lease was lost while COMMAND ran; it was stopped
inline constexpr int kExitTimeout = 124;     // --timeout expired; COMMAND's group was stopped
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_EXIT_CODES_H_
