// libpq, loaded with dlopen on first use of a postgres:// store.
//
// libpq needs some twenty more shared libraries (Kerberos, LDAP, GnuTLS, ...); linked normally,
// the dynamic loader maps them at every start of `heartlock run`, measured at ~2.3 ms of a
// 5 ms run. Only PostgreSQL stores need them, so they are loaded when one is opened.
#ifndef HEARTLOCK_POSTGRES_LIBPQ_API_H_
#define HEARTLOCK_POSTGRES_LIBPQ_API_H_

#include <libpq-fe.h>

#include "heartlock/error.h"

namespace heartlock::detail {

// The libpq functions heartlock calls, by their own names.
#define HEARTLOCK_LIBPQ_FUNCTIONS(X) \
  X(PQconnectStartParams)            \
  X(PQconnectPoll)                   \
  X(PQsetnonblocking)                \
  X(PQflush)                         \
  X(PQsetNoticeReceiver)             \
  X(PQstatus)                        \
  X(PQerrorMessage)                  \
  X(PQfinish)                        \
  X(PQbackendPID)                    \
  X(PQsendQueryParams)               \
  X(PQsendPrepare)                   \
  X(PQsendQueryPrepared)             \
  X(PQisBusy)                        \
  X(PQsocket)                        \
  X(PQconsumeInput)                  \
  X(PQgetResult)                     \
  X(PQresultStatus)                  \
  X(PQntuples)                       \
  X(PQnfields)                       \
  X(PQgetisnull)                     \
  X(PQgetvalue)                      \
  X(PQgetlength)                     \
  X(PQresultErrorField)              \
  X(PQresultErrorMessage)            \
  X(PQclear)                         \
  X(PQnotifies)                      \
  X(PQfreemem)                       \
  X(PQconninfoParse)                 \
  X(PQconninfoFree)

struct LibpqApi {
#define HEARTLOCK_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  HEARTLOCK_LIBPQ_FUNCTIONS(HEARTLOCK_LIBPQ_MEMBER)
#undef HEARTLOCK_LIBPQ_MEMBER
};

// Loads libpq.so.5, once. Errc::unavailable (with the reason) if it is not installed.
Result<const LibpqApi*> libpq_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_LIBPQ_API_H_
