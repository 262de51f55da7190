// The wrappers that use a lock store: with_lock (mutual exclusion across hosts, fenced) and
// once_per_slot (one run per slot across hosts, by a short claim lease and a slot record).
#include "heartlock/job_wrappers.h"
#include "heartlock/lease.h"
#include "heartlock/store.h"

#include "run_clock.h"

namespace heartlock::wrap {
namespace {

std::string slot_text(std::chrono::sys_seconds slot) {
  return std::to_string(slot.time_since_epoch().count());
}

std::string holder_text(const LockInfo& info) {
  return info.holder ? info.holder->owner : std::string("an unknown holder");
}

// Takes the job's lock; with `replace`, ends a current holder's lease first (once).
Result<Acquired> take(Store& store, const ScheduledRun& run, const LeaseOptions& options,
                      Concurrency concurrency) {
  auto got = store.try_acquire(run.job, options);
  if (!got || got->acquired() || concurrency != Concurrency::replace) {
    return got;
  }
  const LockInfo& busy = got->holder();
  if (busy.holder && busy.holder->token != 0) {
    auto broken = store.break_lease(run.job, busy.holder->token);
    if (!broken && broken.error().code != Errc::not_owner) {
      return std::unexpected(broken.error());
    }
  } else if (auto broken = store.break_lease(busy);
             !broken && broken.error().code != Errc::not_owner) {
    return std::unexpected(broken.error());
  }
  return store.try_acquire(run.job, options);
}

}  // namespace

Wrapper with_lock(Store& store, LeaseOptions options, Concurrency concurrency) {
  if (concurrency == Concurrency::allow) {
    return [](JobFn next) { return next; };
  }
  return [&store, options, concurrency](JobFn next) -> JobFn {
    return [&store, options, concurrency, next = std::move(next)](const ScheduledRun& run) {
      LeaseOptions lease_options = options;
      lease_options.slot = run.slot;
      auto got = take(store, run, lease_options, concurrency);
      if (!got) {
        return RunOutcome::store("lock " + run.job + ": " + got.error().message);
      }
      if (got->busy()) {
        return RunOutcome::skip("running elsewhere: lock " + run.job + " is held by " +
                                holder_text(got->holder()));
      }
      Lease lease = std::move(*got).lease();
      detail::LinkedStop stop(run.stop);
      std::stop_callback on_lost(lease.stop_token(), [&stop] { stop.source().request_stop(); });
      ScheduledRun inner = run;
      inner.token = lease.token();
      inner.stop = stop.source().get_token();
      RunOutcome outcome = next(inner);
      auto released = lease.release();
      if (!released && released.error().code == Errc::lost) {
        return RunOutcome::failure("the lease of lock " + run.job +
                                   " was lost while the job ran (it may have overlapped another "
                                   "holder): " +
                                   released.error().message);
      }
      return outcome;
    };
  };
}

Wrapper once_per_slot(Store& store, SlotOptions options) {
  return [&store, options](JobFn next) -> JobFn {
    return [&store, options, next = std::move(next)](const ScheduledRun& run) {
      const std::string claim = run.job + "@claim";
      // The claim lease first: while it is held nobody else decides this job's slots, and a
      // claimant that dies before writing the record frees it (at once on a file store, after
      // claim_ttl on a server) for a host that fired the same slot.
      LeaseOptions lease_options{
          .ttl = options.claim_ttl, .command = "slot claim of " + run.job, .slot = run.slot};
      auto got = store.acquire(claim, lease_options, options.wait, run.stop);
      if (!got) {
        return RunOutcome::store("claim of slot " + slot_text(run.slot) + " of " + run.job + ": " +
                                 got.error().message);
      }
      if (got->busy()) {
        return RunOutcome::skip(run.stop.stop_requested()
                                    ? std::string("stopped while waiting for the slot's claim")
                                    : "the claim of slot " + slot_text(run.slot) + " stayed with " +
                                          holder_text(got->holder()));
      }
      Lease claim_lease = std::move(*got).lease();
      auto record = store.claim_slot(run.job, run.slot, options.retention);
      (void)claim_lease.release();  // the record decides from now on
      if (!record) {
        return RunOutcome::store("slot record " + slot_text(run.slot) + " of " + run.job + ": " +
                                 record.error().message);
      }
      if (!record->won) {
        return RunOutcome::skip("slot " + slot_text(run.slot) + " of " + run.job + " ran on " +
                                record->claimed_by);
      }
      return next(run);
    };
  };
}

}  // namespace heartlock::wrap
