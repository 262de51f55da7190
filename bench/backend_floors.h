// The floors of the backend benchmarks: the simplest lock each backend allows (take, then free),
// through the backend's own client library, with none of heartlock's code. A benchmark includes
// this header after the client library's header it links (hiredis, libpq, libcurl): each floor is
// compiled only where its client is (the client's include guard tells).
#ifndef HEARTLOCK_BENCH_BACKEND_FLOORS_H_
#define HEARTLOCK_BENCH_BACKEND_FLOORS_H_

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

namespace heartlock::bench {

// File: what any file lock with a record must do at least: open, flock, pwrite, close.
inline void raw_file_lock_cycle(benchmark::State& state, const std::string& path) {
  std::string record(300, 'r');  // about the size of a heartlock record
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ::flock(fd, LOCK_EX | LOCK_NB);
    benchmark::DoNotOptimize(::pwrite(fd, record.data(), record.size(), 0));
    ::close(fd);
  }
}

// The port of a `redis://host:port` URL.
inline int port_of(const std::string& url) {
  return std::atoi(url.substr(url.rfind(':') + 1).c_str());
}

#ifdef __HIREDIS_H
// Redis: the two round trips any fenced Redis lock needs, SET NX PX then a compare-and-delete
// script, through hiredis's own client on 127.0.0.1.
inline void raw_redis_lock_cycle(benchmark::State& state, const std::string& url) {
  constexpr const char* kRawRelease =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
      "return 0";
  redisContext* c = redisConnect("127.0.0.1", port_of(url));
  auto* loaded = c == nullptr || c->err != 0
                     ? nullptr
                     : static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kRawRelease));
  if (loaded == nullptr || loaded->type != REDIS_REPLY_STRING) {
    state.SkipWithError(("raw hiredis: no SCRIPT LOAD answer from " + url).c_str());
    freeReplyObject(loaded);
    redisFree(c);
    return;
  }
  std::string sha(loaded->str, loaded->len);
  freeReplyObject(loaded);
  for (auto _ : state) {
    auto* set = static_cast<redisReply*>(redisCommand(c, "SET bench:raw owner NX PX 30000"));
    freeReplyObject(set);
    auto* del =
        static_cast<redisReply*>(redisCommand(c, "EVALSHA %s 1 bench:raw owner", sha.c_str()));
    freeReplyObject(del);
  }
  redisFree(c);
}
#endif

#ifdef LIBPQ_FE_H
// PostgreSQL: the two round trips of the simplest lock, pg_try_advisory_lock then
// pg_advisory_unlock, on one libpq connection.
inline void raw_postgres_lock_cycle(benchmark::State& state, const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    state.SkipWithError(PQerrorMessage(c));
    PQfinish(c);
    return;
  }
  const char* key = "42";
  for (auto _ : state) {
    PQclear(PQexecParams(c, "SELECT pg_try_advisory_lock($1::bigint)", 1, nullptr, &key, nullptr,
                         nullptr, 0));
    PQclear(PQexecParams(c, "SELECT pg_advisory_unlock($1::bigint)", 1, nullptr, &key, nullptr,
                         nullptr, 0));
  }
  PQfinish(c);
}
#endif

#ifdef CURLINC_CURL_H
inline std::size_t discard_body(char*, std::size_t size, std::size_t n, void*) { return size * n; }

// etcd: the two requests of the simplest lock (a key created only if absent, then deleted), as
// raw POSTs to etcd's JSON gateway through libcurl, one kept-alive connection. `url` is
// etcd://host:port.
inline void raw_etcd_lock_cycle(benchmark::State& state, const std::string& url) {
  const std::string base = "http://" + url.substr(url.find("://") + 3) + "/v3/";
  CURL* c = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &discard_body);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  // key "bench/raw" in base64
  const std::string txn =
      R"({"compare":[{"key":"YmVuY2gvcmF3","result":"EQUAL","target":"CREATE","create_revision":"0"}],)"
      R"("success":[{"request_put":{"key":"YmVuY2gvcmF3","value":"b3duZXI="}}]})";
  const std::string del = R"({"key":"YmVuY2gvcmF3"})";
  const std::string txn_url = base + "kv/txn";
  const std::string del_url = base + "kv/deleterange";
  for (auto _ : state) {
    curl_easy_setopt(c, CURLOPT_URL, txn_url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, txn.c_str());
    curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_URL, del_url.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, del.c_str());
    curl_easy_perform(c);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
}
#endif

}  // namespace heartlock::bench

#endif  // HEARTLOCK_BENCH_BACKEND_FLOORS_H_
