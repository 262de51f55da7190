#include "postgres_server.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace heartlock::testing {
namespace {

// The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin).
std::string postgres_bin() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    if (std::filesystem::exists(e.path() / "bin" / "postgres")) {
      found.push_back((e.path() / "bin").string());
    }
  }
  if (found.empty()) {
    throw std::runtime_error(
        "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres); "
        "run scripts/install-deps.sh servers");
  }
  std::sort(found.begin(), found.end());
  return found.back();
}

// PostgreSQL will not run as root: as root, the server runs as the `postgres` user.
struct RunAs {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
};

RunAs run_as() {
  RunAs r;
  if (r.uid == 0) {
    if (passwd* pw = ::getpwnam("postgres")) {
      r.uid = pw->pw_uid;
      r.gid = pw->pw_gid;
    } else {
      throw std::runtime_error("running as root, but there is no `postgres` user to run as");
    }
  }
  return r;
}

// Forks and execs argv as the server user, output to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::string& log, bool die_with_parent) {
  const RunAs who = run_as();
  pid_t pid = ::fork();
  if (pid == 0) {
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    }
    FILE* f = std::fopen(log.c_str(), "a");
    if (f != nullptr) {
      ::dup2(fileno(f), 1);
      ::dup2(fileno(f), 2);
    }
    if (::getuid() == 0 &&
        (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0)) {
      ::_exit(126);
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

PostgresServer::PostgresServer() : bin_(postgres_bin()), port_(free_port()) {
  const RunAs who = run_as();
  { std::ofstream(dir_.file("pw")) << kPassword << "\n"; }
  std::filesystem::create_directory(dir_.file("run"));
  for (const char* p : {"", "/pw", "/run"}) {
    if (::chown((dir_.path() + p).c_str(), who.uid, who.gid) != 0) {
      throw std::runtime_error("cannot chown the PostgreSQL test directory");
    }
  }
  pid_t init = spawn(
      {bin_ + "/initdb", "-D", dir_.file("data"), "-U", "heartlock", "--pwfile=" + dir_.file("pw"),
       "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"},
      dir_.file("initdb.log"), true);
  if (wait_exit(init) != 0) {
    std::ifstream in(dir_.file("initdb.log"));
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    throw std::runtime_error("initdb failed: " + log);
  }
  start();
}

PostgresServer::~PostgresServer() { shutdown(); }

void PostgresServer::shutdown() {
  if (pid_ > 0) {
    ::kill(pid_, SIGQUIT);  // immediate shutdown: nothing to keep
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

std::string PostgresServer::url(const std::string& query) const {
  return std::string("postgres://heartlock:") + kPassword + "@127.0.0.1:" + std::to_string(port_) +
         "/postgres" + (query.empty() ? "" : "?" + query);
}

void PostgresServer::start() {
  pid_ =
      spawn({bin_ + "/postgres", "-D", dir_.file("data"), "-p", std::to_string(port_), "-k",
             dir_.file("run"), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
             "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"},
            dir_.file("server.log"), true);
  bool up = eventually(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return true;
        }
        return run_command(
                   {bin_ + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_)})
                   .exit_code == 0;
      },
      std::chrono::seconds(30));
  if (pid_ < 0 || !up) {
    throw std::runtime_error("postgres did not start on port " + std::to_string(port_) +
                             "; its log ends:\n" + file_tail(dir_.file("server.log")));
  }
}

void PostgresServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGINT);  // fast shutdown: sessions are ended, data kept
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

std::string PostgresServer::psql(const std::string& sql) const {
  auto r = run_command({bin_ + "/psql", url(), "-v", "ON_ERROR_STOP=1", "-Atc", sql});
  if (r.exit_code != 0) {
    throw std::runtime_error("psql failed: " + r.err);
  }
  return r.out;
}

PgBouncer::PgBouncer(const PostgresServer& server) : port_(free_port()) {
  const RunAs who = run_as();
  {
    std::ofstream conf(dir_.file("pgbouncer.ini"));
    conf << "[databases]\npostgres = host=127.0.0.1 port=" << server.port()
         << " dbname=postgres user=heartlock password=" << PostgresServer::kPassword << "\n"
         << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_ << "\n"
         << "unix_socket_dir =\nauth_type = any\npool_mode = transaction\n"
         << "server_round_robin = 1\nmin_pool_size = 3\ndefault_pool_size = 3\n"
         << "logfile = " << dir_.file("pgbouncer.log") << "\n";
  }
  for (const char* p : {"", "/pgbouncer.ini"}) {
    if (::chown((dir_.path() + p).c_str(), who.uid, who.gid) != 0) {
      throw std::runtime_error("cannot chown the PgBouncer test directory");
    }
  }
  pid_ = spawn({"/usr/sbin/pgbouncer", dir_.file("pgbouncer.ini")}, dir_.file("stderr.log"), true);
  if (!eventually([&] { return accepts_connections(port_); }, std::chrono::seconds(15))) {
    throw std::runtime_error(
        "pgbouncer did not start (is it installed? scripts/install-deps.sh "
        "servers); log: " +
        dir_.file("stderr.log"));
  }
}

PgBouncer::~PgBouncer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string PgBouncer::url(const std::string& query) const {
  return "postgres://heartlock@127.0.0.1:" + std::to_string(port_) + "/postgres" +
         (query.empty() ? "" : "?" + query);
}

PostgresServer& shared_postgres() {
  static PostgresServer* server = new PostgresServer();
  static const bool registered = [] {
    std::atexit([] { delete server; });  // stops it and removes its data
    return true;
  }();
  (void)registered;
  return *server;
}

}  // namespace heartlock::testing
