"""What the tests share: the stack builder, its fixtures, and small helpers.

A test module imports from here, never from another test module or a conftest.
"""
