// EtcdStore's administration: list every lock under the prefix, and break a lease (`heartlock
// release --force`).
#include <algorithm>
#include <cctype>

#include "etcd_replies.h"
#include "etcd_store.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;

}  // namespace

Result<std::vector<LockInfo>> EtcdStore::list() {
  return guarded(*client_, [&] { return list_checked(); });
}

Result<std::vector<LockInfo>> EtcdStore::list_checked() {
  const std::string begin = prefix_ + "lock/";
  auto r = client_->call(
      "kv/range", {{"key", base64_encode(begin)}, {"range_end", base64_encode(range_end(begin))}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kvs = reply_array(*r, "kvs", server);
  if (!kvs) {
    return std::unexpected(kvs.error());
  }
  std::vector<LockInfo> out;
  for (const auto& kv : **kvs) {
    if (!kv.is_object()) {
      return std::unexpected(bad_etcd_reply(server, "'kvs' holds something not an object"));
    }
    auto key64 = reply_string(kv, "key", server);
    if (!key64) {
      return std::unexpected(key64.error());
    }
    const std::string key = base64_decode(*key64);
    if (!key.starts_with(begin) || key.size() == begin.size()) {
      // The key as sent, if it is base64 (and so printable), for whoever looks into the server.
      const bool printable =
          key64->size() <= 200 && std::all_of(key64->begin(), key64->end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/' ||
                   c == '=';
          });
      return std::unexpected(bad_etcd_reply(
          server, (printable ? "key (base64) '" + *key64 + "'" : std::string("a key")) +
                      " is not under " + begin + ", the range asked for"));
    }
    auto info = describe(std::string_view(key).substr(begin.size()), &kv);
    if (!info) {
      return std::unexpected(info.error());
    }
    out.push_back(std::move(*info));
  }
  return out;
}

Result<void> EtcdStore::break_lock(std::string_view name, std::uint64_t token) {
  return guarded(*client_, [&] { return break_lease_checked(name, token); });
}

Result<void> EtcdStore::break_lease_checked(std::string_view name, std::uint64_t token) {
  const std::string key = lock_key(name);
  auto r = client_->call("kv/range", {{"key", base64_encode(key)}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kv = first_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  auto revision = *kv != nullptr ? reply_int(**kv, "create_revision", server, 0, kMaxInt64)
                                 : Result<long long>(0);
  if (!revision) {
    return std::unexpected(revision.error());
  }
  if (*kv == nullptr || *revision != static_cast<long long>(token)) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  const long long lease = json_int(**kv, "lease");
  json txn = {{"compare", json::array({created_at(key, std::to_string(token))})},
              {"success", {{{"request_delete_range", {{"key", base64_encode(key)}}}}}}};
  auto deleted = client_->call("kv/txn", txn);
  if (!deleted) {
    return std::unexpected(deleted.error());
  }
  auto succeeded = reply_bool(*deleted, "succeeded", server);
  if (!succeeded) {
    return std::unexpected(succeeded.error());
  }
  if (!*succeeded) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  if (lease != 0) {
    // The old holder learns at its next keepalive.
    (void)client_->call("lease/revoke", {{"ID", std::to_string(lease)}});
  }
  return {};
}

}  // namespace heartlock::detail
