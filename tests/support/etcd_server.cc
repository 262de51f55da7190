#include "etcd_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "heartlock/heartlock.h"

namespace heartlock::testing {

EtcdServer::EtcdServer(std::vector<std::string> extra_args, bool tls)
    : extra_args_(std::move(extra_args)), tls_(tls), port_(free_port()), peer_port_(free_port()) {
  start();
}

EtcdServer::~EtcdServer() { kill(); }

void EtcdServer::start() {
  const std::string scheme = tls_ ? "https" : "http";
  const std::string client = scheme + "://127.0.0.1:" + std::to_string(port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {"etcd",
                                   "--name",
                                   "test",
                                   "--data-dir",
                                   dir_.file("data"),
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   "test=" + peer,
                                   "--unsafe-no-fsync"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = ::open(dir_.file("log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  // Up when a health request is answered (any answer: a server with auth on refuses us).
  bool up = eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        if (!accepts_connections(port_)) {
          return false;
        }
        if (tls_) {
          return true;
        }
        // Answering requests, too (a leader elected): any answer will do, a refusal included.
        auto store = Store::open(url() + "?timeout=500ms");
        if (!store) {
          return false;
        }
        auto info = (*store)->inspect("ready?");
        return info || info.error().code != Errc::unavailable;
      },
      std::chrono::seconds(30));
  if (pid_ < 0 || !up) {
    throw std::runtime_error(
        "etcd did not start on port " + std::to_string(port_) +
        " (is etcd-server installed? scripts/install-deps.sh servers); its log ends:\n" +
        file_tail(dir_.file("log")));
  }
}

void EtcdServer::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

EtcdServer& shared_etcd() {
  static EtcdServer* server = new EtcdServer();
  static const bool registered = [] {
    std::atexit([] { delete server; });  // stops it and removes its data
    return true;
  }();
  (void)registered;
  return *server;
}

}  // namespace heartlock::testing
