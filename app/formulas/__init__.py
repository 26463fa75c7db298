"""Formulas: a whitelisted parser to graph specs, and sympy's derivative of them."""
