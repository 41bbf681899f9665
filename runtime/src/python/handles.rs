//! The per-isolate table of Python objects that JavaScript holds proxies to.
//!
//! JavaScript never sees a Python pointer: a proxy carries a small integer
//! id into this table. A `FinalizationRegistry` on the JS side releases the
//! id when the proxy is collected, which drops our strong reference.

use std::cell::RefCell;

use pyo3::prelude::*;

/// Slots of live Python objects, reused through a free list so ids stay small.
#[derive(Default)]
pub(crate) struct Handles {
    slots: RefCell<Vec<Option<Py<PyAny>>>>,
    free: RefCell<Vec<u32>>,
}

impl Handles {
    pub(crate) fn insert(&self, obj: Py<PyAny>) -> u32 {
        let mut slots = self.slots.borrow_mut();
        if let Some(id) = self.free.borrow_mut().pop() {
            slots[id as usize] = Some(obj);
            id
        } else {
            slots.push(Some(obj));
            (slots.len() - 1) as u32
        }
    }

    /// A new reference to the object behind `id`, if it is still live.
    pub(crate) fn get<'py>(&self, py: Python<'py>, id: u32) -> Option<Bound<'py, PyAny>> {
        let slots = self.slots.borrow();
        slots
            .get(id as usize)
            .and_then(|slot| slot.as_ref())
            .map(|obj| obj.bind(py).clone())
    }

    /// Removes `id` and returns its object (used by release and by one-shot
    /// handles such as coroutines handed to the event loop).
    pub(crate) fn take(&self, id: u32) -> Option<Py<PyAny>> {
        let taken = self
            .slots
            .borrow_mut()
            .get_mut(id as usize)
            .and_then(Option::take);
        if taken.is_some() {
            self.free.borrow_mut().push(id);
        }
        taken
    }

    /// Number of live handles (for tests and diagnostics).
    pub(crate) fn live(&self) -> usize {
        self.slots.borrow().iter().filter(|s| s.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_after_release() {
        crate::python::initialize().unwrap();
        Python::attach(|py| {
            let handles = Handles::default();
            let a = handles.insert(py.None());
            let b = handles.insert(py.None());
            assert_ne!(a, b);
            assert!(handles.take(a).is_some());
            assert!(handles.take(a).is_none(), "a released id stays released");
            assert_eq!(handles.insert(py.None()), a);
            assert_eq!(handles.live(), 2);
        });
    }
}
