"""Checks of backprop against numerical differentiation (the book's 5.7.3)."""
