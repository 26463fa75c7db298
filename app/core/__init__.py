"""The computational graph: the book's layers, the op catalogue, validation and the engine."""
