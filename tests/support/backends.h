// The backends a parameterised integration suite runs on, each handing out a fresh namespace (a
// key prefix, a table, a directory) per call. Header-only: which network backends exist is
// decided by the HEARTLOCK_WITH_* definitions of the test executable that includes it.
#ifndef HEARTLOCK_TESTS_SUPPORT_BACKENDS_H_
#define HEARTLOCK_TESTS_SUPPORT_BACKENDS_H_

#include <unistd.h>

#include <atomic>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "etcd_server.h"
#include "postgres_server.h"
#include "redis_server.h"
#include "test_support.h"

namespace heartlock::testing {

struct Backend {
  std::string name;
  std::function<std::string()> url;  // a fresh namespace each call (prefix, table or directory)
};

inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

// Unique in this process and across processes running at the same time.
inline std::string unique_suffix() {
  static std::atomic<int> n{0};
  return std::to_string(::getpid()) + "_" + std::to_string(n++);
}

// Every network backend this build has, on the shared test servers.
inline std::vector<Backend> network_backends() {
  std::vector<Backend> out;
#ifdef HEARTLOCK_WITH_REDIS
  out.push_back({"redis", [] { return shared_redis().url() + "?prefix=" + unique_prefix(); }});
  // Redlock over three servers.
  out.push_back({"redlock", [] { return shared_redlock_url() + "?prefix=" + unique_prefix(); }});
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
  out.push_back({"postgres", [] { return shared_postgres().url("table=p" + unique_suffix()); }});
  out.push_back({"advisory",
                 [] { return shared_postgres().url("mode=advisory&table=a" + unique_suffix()); }});
#endif
#ifdef HEARTLOCK_WITH_ETCD
  out.push_back({"etcd", [] {
                   std::string p = unique_prefix();
                   p.back() = '/';
                   return shared_etcd().url() + "?prefix=" + p;
                 }});
#endif
  return out;
}

// The file backend (a directory under one temporary directory per process) and the network ones.
inline std::vector<Backend> every_backend() {
  auto out = network_backends();
  out.insert(out.begin(), {"file", [] {
                             static TempDir dir;
                             return "file://" + dir.file(unique_suffix());
                           }});
  return out;
}

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_BACKENDS_H_
