//! Taking the relay's `std::sync::Mutex`es: one poison-tolerant way, for every
//! module.
//!
//! Nothing in the relay's critical sections is expected to panic; if something
//! ever did, carrying on with the state as it stands beats failing every later
//! member of the room (or every later use of a file), so a poisoned lock is
//! taken over rather than passed on as an error. A leaf: it imports nothing
//! from the crate.

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Locks a mutex, taking it over if a panic poisoned it.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks a mutex if nobody holds it now (taking it over if a panic poisoned
/// it); `None` if somebody does.
pub fn try_lock<T: ?Sized>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_poisoned_mutex_is_taken_over_and_a_held_one_is_not_waited_for() {
        let mutex = Arc::new(Mutex::new(1));
        let poisoner = Arc::clone(&mutex);
        let panicked = std::thread::Builder::new()
            .name("poisoner".to_owned())
            .spawn(move || {
                let _guard = poisoner.lock().unwrap();
                panic!("poisons the mutex");
            })
            .unwrap()
            .join();
        assert!(panicked.is_err());
        assert!(mutex.is_poisoned());
        *lock(&mutex) += 1;
        assert_eq!(*try_lock(&mutex).unwrap(), 2);
        let held = lock(&mutex);
        assert!(try_lock(&mutex).is_none());
        drop(held);
    }
}
