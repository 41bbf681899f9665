//! [`TurnWatch`]: how JavaScript that runs outside any request (a
//! WebSocket message listener) is put under the worker's watchdog
//! (crate::apps::watchdog), which lives in the serving layer above the
//! code that starts such JavaScript.

use std::any::Any;
use std::rc::Rc;

/// Put in a worker isolate's `OpState` by the serving layer.
pub(crate) trait TurnWatch {
    /// Watches the JavaScript that runs until the returned guard drops: if
    /// it holds the thread past the handler timeout, it is terminated (and
    /// the isolate recovered) as a runaway request handler would be.
    fn watch(&self) -> Box<dyn Any>;
}

/// How an isolate's `OpState` holds it.
pub(crate) type SharedTurnWatch = Rc<dyn TurnWatch>;
