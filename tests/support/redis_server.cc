#include "redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <stdexcept>

namespace heartlock::testing {
namespace {

bool answers_ping(int port) {
  int fd = connect_loopback(port);
  bool ok = false;
  if (fd >= 0 && ::write(fd, "PING\r\n", 6) == 6) {
    char buf[16] = {};
    // A server with a password answers -NOAUTH: it is up all the same.
    ok = ::read(fd, buf, sizeof buf - 1) > 0 &&
         (std::string(buf).starts_with("+PONG") || std::string(buf).starts_with("-NOAUTH"));
  }
  ::close(fd);
  return ok;
}

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra_args, bool tls)
    : extra_args_(std::move(extra_args)), tls_(tls), port_(free_port()) {
  start();
}

RedisServer::RedisServer(Deferred) : port_(free_port()) {}

RedisServer::~RedisServer() { kill(); }

std::unique_ptr<RedisServer> RedisServer::sentinel(int master_port, const std::string& name) {
  std::unique_ptr<RedisServer> s(new RedisServer(RedisServer::Deferred{}));
  s->sentinel_config_ = "sentinel monitor " + name + " 127.0.0.1 " + std::to_string(master_port) +
                        " 1\nsentinel down-after-milliseconds " + name +
                        " 1000\nsentinel failover-timeout " + name + " 10000\n";
  s->start();
  return s;
}

void RedisServer::start() {
  if (!sentinel_config_.empty()) {
    {
      std::ofstream conf(dir_.file("sentinel.conf"));  // Sentinel rewrites it: not shared
      conf << sentinel_config_;
    }
    start_with({"redis-server", dir_.file("sentinel.conf"), "--sentinel", "--port",
                std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir_.path(), "--loglevel",
                "warning", "--logfile", dir_.file("log")});
    return;
  }
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   tls_ ? "0" : std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path(),
                                   "--loglevel",
                                   "warning",
                                   "--logfile",
                                   dir_.file("log")};
  if (tls_) {
    args.insert(args.end(), {"--tls-port", std::to_string(port_)});
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  start_with(std::move(args));
}

void RedisServer::start_with(std::vector<std::string> args) {
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test process, however it ends
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  bool up = eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;  // exited: stop waiting
        }
        return tls_ ? accepts_connections(port_) : answers_ping(port_);
      },
      std::chrono::seconds(15));
  if (pid_ < 0 || !up) {
    throw std::runtime_error(
        "redis-server did not start on port " + std::to_string(port_) +
        " (is it installed? scripts/install-deps.sh servers); its log ends:\n" +
        file_tail(dir_.file("log")));
  }
}

void RedisServer::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

void make_test_certificates(const TempDir& dir, const std::string& ca_name) {
  auto run = [&](std::vector<std::string> argv) {
    auto r = run_command(argv);
    if (r.exit_code != 0) {
      throw std::runtime_error("openssl failed: " + r.err);
    }
  };
  run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", dir.file(ca_name + ".key"), "-out", dir.file(ca_name + ".pem"), "-days",
       "2", "-subj", "/CN=heartlock test " + ca_name});
  run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", dir.file("server.key"), "-out", dir.file("server.csr"), "-subj",
       "/CN=127.0.0.1"});
  {
    std::ofstream ext(dir.file("san.ext"));
    ext << "subjectAltName=IP:127.0.0.1\n";
  }
  run({"openssl", "x509", "-req", "-in", dir.file("server.csr"), "-CA", dir.file(ca_name + ".pem"),
       "-CAkey", dir.file(ca_name + ".key"), "-CAcreateserial", "-out", dir.file("server.pem"),
       "-days", "2", "-extfile", dir.file("san.ext")});
}

RedisServer& shared_redis() {
  static RedisServer* server = new RedisServer();
  static const bool registered = [] {
    std::atexit([] { delete server; });  // stops it and removes its directory
    return true;
  }();
  (void)registered;
  return *server;
}

std::string shared_redlock_url() {
  static RedisServer* nodes[3] = {new RedisServer(), new RedisServer(), new RedisServer()};
  static const bool registered = [] {
    std::atexit([] {
      for (auto* n : nodes) {
        delete n;
      }
    });
    return true;
  }();
  (void)registered;
  std::string url = "redis://";
  for (int i = 0; i < 3; ++i) {
    url += (i > 0 ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(nodes[i]->port());
  }
  return url;
}

std::string shared_sentinel_url() {
  static RedisServer* master = new RedisServer();
  static RedisServer* sentinel = RedisServer::sentinel(master->port(), "shared").release();
  static const bool registered = [] {
    std::atexit([] {
      delete sentinel;
      delete master;
    });
    return true;
  }();
  (void)registered;
  return "redis-sentinel://127.0.0.1:" + std::to_string(sentinel->port()) + "/shared";
}

std::string unique_prefix() {
  static std::atomic<int> counter{0};
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ":";
}

}  // namespace heartlock::testing
