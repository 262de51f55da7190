// postgres:// and postgresql:// URLs: libpq connection URIs (host, port, user, password, database,
// sslmode, sslrootcert, connect_timeout, ...: everything libpq accepts), plus heartlock's own
// options, which are taken out before libpq sees the URI:
//   table=[schema.]name   the lease table (default heartlock_leases, created on first use, with
//                         <name>_slots beside it, and <name>_runs once the run ledger is used;
//                         names up to 57 bytes)
//   mode=lease|advisory   lease rows on the database clock (default), or session advisory locks
//                         (whose records go to heartlock_advisory unless table= is given)
//   timeout=DURATION      how long one statement may take before the connection is dropped
//                         (default 5s)
//   password_file=PATH    the password: the file's content, one trailing newline stripped; the
//                         file must not be accessible by group or others
// Every parameter may be given once; heartlock's are percent-decoded (libpq decodes its own).
#ifndef HEARTLOCK_POSTGRES_PG_URL_H_
#define HEARTLOCK_POSTGRES_PG_URL_H_

#include <chrono>
#include <string>
#include <string_view>

#include "heartlock/error.h"

namespace heartlock::detail {

struct PgUrl {
  std::string conninfo;  // for libpq: the URI without heartlock's options (password included)
  std::string redacted;  // for messages: without the password or secret parameters
  std::string schema;    // empty: the search path's
  std::string table = "heartlock_leases";
  bool advisory = false;
  std::chrono::milliseconds timeout{5000};

  // "schema"."table", quoted; the slots table beside it ("<table>_slots"), and the run ledger's
  // ("<table>_runs").
  std::string qualified_table() const;
  std::string qualified_slots_table() const;
  std::string qualified_runs_table() const;
  // The LISTEN/NOTIFY channel of the table: a short identifier derived from its name.
  std::string channel() const;
};

// Errc::invalid_argument for a malformed URL or option (libpq checks its own part); messages show
// the URL only through redact_url() and libpq's text scrubbed of the password. A password_file
// that cannot be used: Errc::invalid_argument, or Errc::permission_denied (read_password_file()).
// Errc::unavailable if libpq cannot be loaded.
Result<PgUrl> parse_pg_url(std::string_view url);

// An identifier in double quotes, with embedded quotes doubled. (libpq's PQescapeIdentifier needs
// a live connection; this is the same rule.)
std::string quote_ident(std::string_view name);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_URL_H_
