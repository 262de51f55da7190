#include "lock_metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "exit_codes.h"
#include "prometheus_text.h"

namespace heartlock::cli {
namespace {

// Holder ages are shown as `status` shows them: a free or dead lock has no holder to speak of,
// and a foreign holder (flock(1), cronlock) wrote no record to read them from.
bool has_live_holder(const LockInfo& info) {
  return info.holder && !info.holder->foreign && info.state != LockState::free &&
         info.state != LockState::dead;
}

// Ages to the millisecond, as the store measures heartbeats.
double seconds(std::chrono::milliseconds d) {
  return std::max(0.0, std::chrono::duration<double>(d).count());
}

// The labels of lock_state: name, backend, state, and who holds it when known.
std::string state_labels(const LockInfo& info, const std::string& common) {
  std::string labels = common + "," + prometheus_label("state", to_string(info.state));
  if (info.holder && info.state != LockState::free) {
    if (!info.holder->host.empty()) {
      labels += "," + prometheus_label("host", info.holder->host);
    }
    if (info.holder->pid > 0) {
      labels += "," + prometheus_label("pid", std::to_string(info.holder->pid));
    }
  }
  return labels;
}

void render_locks(std::string& out, const std::vector<const LockInfo*>& locks,
                  const std::string& backend, std::chrono::system_clock::time_point now) {
  auto labels = [&](const LockInfo& info) {
    return prometheus_label("name", info.name) + "," + backend;
  };
  write_family(out, "heartlock_lock_state", "gauge",
               "Always 1; the state label is the lock's state, host and pid its holder's.");
  for (const LockInfo* info : locks) {
    write_sample(out, "heartlock_lock_state", state_labels(*info, labels(*info)), std::uint64_t{1});
  }
  write_family(out, "heartlock_lock_holder_age_seconds", "gauge",
               "How long the holder has had the lock.");
  for (const LockInfo* info : locks) {
    if (has_live_holder(*info)) {
      write_sample(
          out, "heartlock_lock_holder_age_seconds", labels(*info),
          seconds(std::chrono::floor<std::chrono::milliseconds>(now - info->holder->since)));
    }
  }
  write_family(out, "heartlock_lock_heartbeat_age_seconds", "gauge",
               "Age of the holder's last heartbeat.");
  for (const LockInfo* info : locks) {
    if (has_live_holder(*info) && info->holder->heartbeat_age) {
      write_sample(out, "heartlock_lock_heartbeat_age_seconds", labels(*info),
                   seconds(*info->holder->heartbeat_age));
    }
  }
  write_family(out, "heartlock_lock_token", "gauge",
               "Fencing token of the lock's current or last holder.");
  for (const LockInfo* info : locks) {
    if (info->holder && info->holder->token > 0) {
      write_sample(out, "heartlock_lock_token", labels(*info), info->holder->token);
    }
  }
}

// The locks to report: `names`, or every lock; an error of the store as it came.
Result<std::vector<LockInfo>> read_locks(Store& store, const std::vector<std::string>& names) {
  if (names.empty()) {
    return store.list();
  }
  std::vector<LockInfo> locks;
  for (const std::string& name : names) {
    auto info = store.inspect(name);
    if (!info) {
      return std::unexpected(info.error());
    }
    locks.push_back(*std::move(info));
  }
  return locks;
}

Result<void> write_error(std::string_view what, const std::string& path) {
  const int err = errno;
  return fail(
      err == EACCES || err == EPERM || err == EROFS ? Errc::permission_denied : Errc::unavailable,
      std::string(what) + " " + path + ": " + std::system_category().message(err));
}

}  // namespace

std::string render_lock_metrics(const std::vector<LockInfo>* locks, std::string_view backend,
                                std::chrono::system_clock::time_point now) {
  std::vector<const LockInfo*> sorted;
  if (locks != nullptr) {
    for (const LockInfo& info : *locks) {
      sorted.push_back(&info);
    }
    std::ranges::stable_sort(sorted, {}, &LockInfo::name);
    auto dup = std::ranges::unique(sorted, {}, &LockInfo::name);
    sorted.erase(dup.begin(), dup.end());
  }
  const std::string backend_label = prometheus_label("backend", backend);
  std::string out;
  write_family(out, "heartlock_store_up", "gauge", "1 if the lock store answered, else 0.");
  write_sample(out, "heartlock_store_up", backend_label, std::uint64_t{locks != nullptr ? 1U : 0U});
  if (locks == nullptr) {
    return out;
  }
  write_family(out, "heartlock_locks", "gauge", "Locks reported.");
  write_sample(out, "heartlock_locks", backend_label, std::uint64_t{sorted.size()});
  render_locks(out, sorted, backend_label, now);
  return out;
}

Result<void> write_file_atomically(const std::string& path, std::string_view text) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string temp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return write_error("cannot create a temporary file for", path);
  }
  // mkostemp makes the file 0600; a metrics file is read by another user (node_exporter's).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  bool ok = ::fchmod(fd, 0666 & ~mask) == 0;
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  // No fsync: the file is rewritten at the next run, and an empty exposition is a valid one.
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    auto error = write_error("cannot write", path);
    ::unlink(temp.c_str());
    return error;
  }
  return {};
}

int show_metrics(const MetricsArgs& args, const CommonArgs& common) {
  Events events = make_events(common);
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  auto locks = read_locks(*store, args.names);
  if (!locks) {
    events.error(locks.error().message);
    if (locks.error().code == Errc::invalid_argument) {
      return kExitUsage;  // a bad name: nothing about the store to report
    }
    code = exit_code_for(locks.error());
  }
  const std::string text = render_lock_metrics(locks ? &*locks : nullptr, store->url(),
                                               std::chrono::system_clock::now());
  if (args.output.empty()) {
    std::cout << text << std::flush;
  } else if (auto written = write_file_atomically(args.output, text); !written) {
    events.error(written.error().message);
    return kExitCantCreate;
  }
  return code;
}

}  // namespace heartlock::cli
