"""A stdlib test module: CPython's test_sort through unittest, quietly."""

import sys
import unittest

from test import test_sort


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(test_sort)
    result = unittest.TextTestRunner(stream=open("/dev/null", "w"),
                                     verbosity=0).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
