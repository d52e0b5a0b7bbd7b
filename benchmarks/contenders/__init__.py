"""The stores under test, one module each: threadstore by URL, and the peers beside it."""
