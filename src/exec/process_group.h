// Process-group helpers for supervisors and their watchdogs, made of raw system calls only, so
// that a watchdog sharing its supervisor's memory (clone with CLONE_VM, watchdog.h) may call them.
#ifndef HEARTLOCK_EXEC_PROCESS_GROUP_H_
#define HEARTLOCK_EXEC_PROCESS_GROUP_H_

#include <sys/types.h>

namespace heartlock::exec {

// Whether process group `group` still has a member that is not a zombie, from /proc/<pid>/stat
// of every process. Zombies run nothing and must not keep a job (or its lock) alive: a killed
// COMMAND whose supervisor died is reparented to an init that may reap it late or never, and
// orphans of a job are reaped by nobody in a process that is a subreaper but waits only for its
// own children. Raw syscalls only.
bool group_runs(pid_t group) noexcept;

// SIGKILLs the process group (and the process) of every child of thread `thread` of process
// `process` except the caller, read from /proc/<process>/task/<thread>/children. For a watchdog
// whose kill time came while its job's group is not known yet. Raw syscalls only. Returns
// whether it found any.
bool kill_thread_children(pid_t process, pid_t thread) noexcept;

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_PROCESS_GROUP_H_
