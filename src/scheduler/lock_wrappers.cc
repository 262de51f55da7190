// The wrappers that use a lock store: with_lock (mutual exclusion across hosts, fenced) and
// once_per_slot (one run per slot across hosts, by a short claim lease and a slot record).
#include <mutex>
#include <optional>

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

namespace {

// One run's claim of its slot: the claim lease until the job starts, then the slot's record.
// Shared with the run's on_start, which a wrapper inside may call from another thread (timeout).
class SlotClaimant {
 public:
  SlotClaimant(Store& store, const ScheduledRun& run, SlotOptions options, Lease lease)
      : store_(store),
        job_(run.job),
        slot_(run.slot),
        options_(options),
        lease_(std::move(lease)) {}

  // At the start of the job: the record. nullopt: this run has the slot, the job runs.
  // The same answer to every call (a retry inside calls it again).
  std::optional<RunOutcome> start() {
    std::lock_guard lock(mu_);
    if (!answer_) {
      answer_ = decide();
    }
    return *answer_;
  }

  // After the chain returned: a job called without chain() (no on_start) that ran is recorded
  // now; a run the wrappers inside did not let through leaves no record, and frees the claim
  // for a host that fired the same slot.
  void finish(const RunOutcome& outcome) {
    const bool ran = outcome.status == RunStatus::done || outcome.status == RunStatus::failed;
    std::lock_guard lock(mu_);
    if (!answer_ && ran) {
      answer_ = decide();
    }
    if (!answer_) {
      answer_ = RunOutcome::skip("the run of slot " + slot_text(slot_) + " was over");
    }
    release_claim();
  }

 private:
  // REQUIRES: mu_ held.
  std::optional<RunOutcome> decide() {
    auto record = store_.claim_slot(job_, slot_, options_.retention);
    release_claim();  // from here the record decides
    if (!record) {
      return RunOutcome::store("slot record " + slot_text(slot_) + " of " + job_ + ": " +
                               record.error().message);
    }
    if (!record->won) {
      const std::string& by = record->claimed_by;
      return RunOutcome::skip(
          "slot " + slot_text(slot_) + " of " + job_ +
          (by.empty() || by.starts_with("(") ? " is not run " + by : " ran on " + by));
    }
    return std::nullopt;
  }

  // REQUIRES: mu_ held.
  void release_claim() {
    if (lease_) {
      (void)lease_->release();
      lease_.reset();
    }
  }

  Store& store_;
  const std::string job_;
  const std::chrono::sys_seconds slot_;
  const SlotOptions options_;
  std::mutex mu_;
  std::optional<std::optional<RunOutcome>> answer_;  // guarded by mu_; once decided
  std::optional<Lease> lease_;  // guarded by mu_; the claim lease until the job starts
};

}  // namespace

Wrapper once_per_slot(Store& store, SlotOptions options) {
  return [&store, options](JobFn next) -> JobFn {
    return [&store, options, next = std::move(next)](const ScheduledRun& run) {
      // The claim lease first, held until the job really starts (the wrappers inside may wait:
      // jitter, a lock): while it is held nobody else decides this job's slots, and a claimant
      // that dies before its job started frees it (at once on a file store, after claim_ttl on a
      // server) for a host that fired the same slot. The slot's record is written at the start.
      LeaseOptions lease_options{
          .ttl = options.claim_ttl, .command = "slot claim of " + run.job, .slot = run.slot};
      auto got = store.acquire(run.job + "@claim", lease_options, options.wait, run.stop);
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
      auto claimant = std::make_shared<SlotClaimant>(store, run, options, std::move(*got).lease());
      ScheduledRun inner = run;
      inner.on_start = [claimant, outer = run.on_start]() -> std::optional<RunOutcome> {
        if (auto instead = claimant->start()) {
          return instead;
        }
        return outer ? outer() : std::nullopt;
      };
      RunOutcome outcome = next(inner);
      claimant->finish(outcome);
      return outcome;
    };
  };
}

}  // namespace heartlock::wrap
