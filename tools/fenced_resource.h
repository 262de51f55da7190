// The fenced resource of heartlock-torture: a process of its own that workers write through, as a
// storage server that checks fencing tokens would be. Each write carries its kind (enter, write,
// exit), the writer's fencing token, the worker and whether the worker still believed it held the
// lease. The resource rejects a write whose token is below the highest it has accepted, and
// appends every decision, accepted or rejected, to the torture log in the order it made them:
//   KIND TOKEN WORKER held|lost accepted|rejected
// (see torture_check.h). With `check_tokens` false it accepts everything: a resource that does
// not fence, which the checker must catch as lost updates.
//
// It is a separate process, reached over a Unix SOCK_SEQPACKET socket, so that a worker stopped
// or killed in the middle of a write can block no one, and a stopped worker's write is judged
// when it arrives (after SIGCONT), as a real server would judge it.
#ifndef HEARTLOCK_TOOLS_FENCED_RESOURCE_H_
#define HEARTLOCK_TOOLS_FENCED_RESOURCE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace heartlock::tools {

// The resource process, owned by the driver. Thread-compatible; not copyable.
class FencedResource {
 public:
  FencedResource() = default;
  ~FencedResource();  // stops the process (after the driver's last worker is gone)
  FencedResource(const FencedResource&) = delete;
  FencedResource& operator=(const FencedResource&) = delete;

  // Forks the resource, listening on `socket_path` and appending to the log file `log_fd` (opened
  // O_APPEND). Returns false if it cannot.
  bool start(const std::string& socket_path, int log_fd, bool check_tokens);
  // Ends the process and waits for it: every write it acknowledged is in the log by then.
  void stop();

 private:
  pid_t pid_ = -1;
  int control_ = -1;  // write end of a pipe; its EOF tells the resource to end
};

// A worker's connection to the resource. Not thread-safe; one per worker process.
class ResourceClient {
 public:
  ResourceClient() = default;
  ~ResourceClient();
  ResourceClient(const ResourceClient&) = delete;
  ResourceClient& operator=(const ResourceClient&) = delete;

  // Connects to the resource at `socket_path`; false if it cannot.
  bool connect(const std::string& socket_path);
  // Sends one write and waits for the verdict: true if accepted. `kind` is "enter", "write" or
  // "exit". False, too, if the resource is gone.
  bool write(const char* kind, std::uint64_t token, long worker, bool believed_held);

 private:
  int fd_ = -1;
};

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_FENCED_RESOURCE_H_
