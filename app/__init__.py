"""backprop-viz: step-by-step forward and backward traces of chapter 5's computational graphs."""

__version__ = "0.1.0"
