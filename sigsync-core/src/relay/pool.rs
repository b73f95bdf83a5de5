//! The threads that sign messages off the async workers.
//!
//! A queue under a mutex and a condition variable, rather than tokio's blocking pool: a thread
//! that is busy takes the next job without being woken, a job wakes a thread only when one is
//! waiting, and the result goes back through a oneshot channel. Handing a message to tokio's
//! blocking pool and back cost about twice the futex calls per message (the relay benchmark,
//! `strace -c`).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of threads running jobs in the order they came.
pub(crate) struct InjectionPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting on `work`.
    waiting: usize,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A job runs outside the lock, so a poisoned lock still holds a consistent queue.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl InjectionPool {
    /// Starts `threads` threads (at least one).
    pub(crate) fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                waiting: 0,
                closed: false,
            }),
            work: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("sigsync-inject-{i}"))
                .spawn(move || work(&shared))?;
        }
        Ok(InjectionPool { shared })
    }

    /// Runs `f` on a pool thread; its result comes back on the receiver (an error there if `f`
    /// panicked).
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        // Wake a thread only if one is waiting: a busy one takes this job when it is done.
        let wake = state.waiting > 0;
        drop(state);
        if wake {
            self.shared.work.notify_one();
        }
        rx
    }
}

impl Drop for InjectionPool {
    /// The threads finish the jobs queued and exit.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

fn work(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            // A panicking injection drops its sender (the caller sees an error and passes the
            // message on unsigned); the thread carries on.
            let _ = catch_unwind(AssertUnwindSafe(job));
            state = shared.lock();
            continue;
        }
        if state.closed {
            return;
        }
        state.waiting += 1;
        state = shared.work.wait(state).unwrap_or_else(|p| p.into_inner());
        state.waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn every_job_runs_once_at_most_threads_at_once_and_a_panic_is_an_error() {
        let pool = InjectionPool::new(2).unwrap();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let receivers: Vec<_> = (0..64)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_micros(200));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
            })
            .collect();
        let mut sum = 0;
        for rx in receivers {
            sum += rx.await.unwrap();
        }
        assert_eq!(sum, (0..64).map(|i| i * 2).sum::<i32>());
        assert!(most.load(Ordering::SeqCst) <= 2);
        let panicked = pool.run(|| -> u8 { panic!("an injector bug") });
        assert!(panicked.await.is_err());
        // The thread that caught the panic still works.
        let after: Vec<_> = (0..4).map(|i| pool.run(move || i)).collect();
        for (i, rx) in after.into_iter().enumerate() {
            assert_eq!(rx.await.unwrap(), i);
        }
    }

    #[tokio::test]
    async fn jobs_queued_one_by_one_after_the_threads_went_idle_all_run() {
        let pool = InjectionPool::new(3).unwrap();
        for round in 0..50 {
            // Let the threads go back to waiting between rounds, then wake them one job at a
            // time and several at once.
            tokio::time::sleep(Duration::from_micros(100)).await;
            let n = 1 + round % 5;
            let rx: Vec<_> = (0..n).map(|i| pool.run(move || i + round)).collect();
            for (i, r) in rx.into_iter().enumerate() {
                assert_eq!(r.await.unwrap(), i + round);
            }
        }
    }
}
