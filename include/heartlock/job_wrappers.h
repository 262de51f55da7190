// Job wrappers: what a scheduled run does around the job, composed in order.
//
//   chain({wrap::recover(log), wrap::skip_if_running(), wrap::once_per_slot(store),
//          wrap::with_lock(store, {.ttl = 10s}), wrap::timeout(5min, 10s)}, job)
//
// is recover(skip_if_running(once_per_slot(with_lock(timeout(job))))): the first wrapper is the
// outermost. A wrapper that decides not to run the job returns RunStatus::skipped with the
// reason; one that could not reach its store returns RunStatus::store_error -- never the same,
// never silent. A wrapper keeps its state (what is running, the jitter) per chain: build one
// chain per job.
//
// A sensible order, outside in: recover, skip/delay_if_running, jitter, once_per_slot,
// with_lock, retry, timeout. once_per_slot outside with_lock: the slot is decided before the
// lock is taken, so a host that loses the slot never waits for the lock.
#ifndef HEARTLOCK_JOB_WRAPPERS_H_
#define HEARTLOCK_JOB_WRAPPERS_H_

#include <chrono>
#include <functional>
#include <vector>

#include "heartlock/export.h"
#include "heartlock/options.h"
#include "heartlock/scheduler.h"

namespace heartlock {

class Store;

using Wrapper = std::function<JobFn(JobFn)>;

// wrappers[0](wrappers[1](...(job))).
HEARTLOCK_API JobFn chain(std::vector<Wrapper> wrappers, JobFn job);

// A job that cannot fail (void), as a JobFn that always reports done.
HEARTLOCK_API JobFn job(std::function<void(const ScheduledRun&)> fn);

// What with_lock does when another process (on any host) runs the job.
enum class Concurrency {
  allow,    // run anyway: no lock (the run gets no fencing token)
  forbid,   // skip this run (quietly, RunStatus::skipped)
  replace,  // end the other run's lease (its host stops it: its lease's stop token, then its
            // supervisor) and run; the new run's fencing token is higher, so a resource that
            // checks tokens rejects whatever the old run still tries to write
};

struct HEARTLOCK_API RetryOptions {
  int max_attempts = 3;  // including the first
  std::chrono::milliseconds initial_backoff = std::chrono::seconds(1);
  double multiplier = 2.0;
  std::chrono::milliseconds max_backoff = std::chrono::minutes(1);
};

namespace wrap {

// Catches what the job throws: logged (LogLevel::error, with the job and slot) and reported as
// failed; the scheduler lives on.
HEARTLOCK_API Wrapper recover(LogSink log = {});

// While the previous run of this chain still runs, a new slot is skipped.
HEARTLOCK_API Wrapper skip_if_running();

// While the previous run still runs, a new slot waits for it, up to `max_delay` (then skipped),
// cancellable by the run's stop token. Runs start in slot order.
HEARTLOCK_API Wrapper delay_if_running(std::chrono::milliseconds max_delay);

// After `limit` the run's stop token is requested; a run still going `grace` later is abandoned:
// the wrapper returns failed and the job's thread is left to finish on its own (it is detached,
// and keeps what the job captured alive; it must not touch ScheduledRun::clock once the scheduler
// is gone). The job runs on a thread of its own for this.
HEARTLOCK_API Wrapper timeout(std::chrono::milliseconds limit, std::chrono::milliseconds grace);

// Delays each run by an amount in [0, max) derived from the job's name alone (SHA-256), the same
// on every host and every slot, so many hosts' jobs at one time spread out while hosts still
// agree. It moves when the job starts; the slot (the run's identity) stays the scheduled one.
HEARTLOCK_API Wrapper jitter(std::chrono::milliseconds max);

// The jitter() of `job` for `max`: what every host computes.
HEARTLOCK_API std::chrono::milliseconds jitter_of(std::string_view job,
                                                  std::chrono::milliseconds max);

// Runs a failed attempt again after a backoff, up to max_attempts, but never past the next slot
// (`schedule` tells when that is): a retry is the same run, of the same slot. store_error and
// skipped outcomes are not retried.
HEARTLOCK_API Wrapper retry(RetryOptions options, CronSchedule schedule);

// Runs the job holding the lease `ScheduledRun::job` on `store` (a lock of that name): renewed
// while it runs, ScheduledRun::token is its fencing token, and ScheduledRun::stop is requested the
// moment the lease is lost. `options.slot` is set to the run's slot. With Concurrency::allow it
// adds nothing.
HEARTLOCK_API Wrapper with_lock(Store& store, LeaseOptions options,
                                Concurrency concurrency = Concurrency::forbid);

struct HEARTLOCK_API SlotOptions {
  // The claim is a lease on "<job>@claim" of this ttl, held from the claim until the run starts
  // (then the slot's record is written); a host that dies in between loses the claim within the
  // ttl and another host that fired the same slot takes it over. A host that finds the claim
  // held waits for it up to `wait` (then skips); it must cover a dying claimant's ttl.
  std::chrono::milliseconds claim_ttl = std::chrono::seconds(5);
  std::chrono::milliseconds wait = std::chrono::seconds(15);
  std::chrono::seconds retention = std::chrono::hours(24 * 7);  // slot records kept
};

// Exactly one instance runs slot S of job J across every process and host sharing `store`; the
// others skip quietly (RunStatus::skipped, "slot S of J ran on host:pid"). See SlotOptions for a
// claimant that dies before its run starts.
HEARTLOCK_API Wrapper once_per_slot(Store& store, SlotOptions options = {});

}  // namespace wrap
}  // namespace heartlock

#endif  // HEARTLOCK_JOB_WRAPPERS_H_
