"""Regex compile: many distinct patterns through sre_parse/sre_compile."""

import re


def main(rounds=3):
    matched = 0
    for r in range(rounds):
        re.purge()
        for i in range(200):
            pattern = re.compile(
                rf"(?P<word{i}>[a-z]{{{i % 5 + 1},{i % 5 + 3}}})\s+"
                rf"(?:\d{{{i % 3 + 1}}}|x{r}y)[^{i % 10}]*?(?=end|$)")
            if pattern.search(f"hello 12{i} more text end"):
                matched += 1
    return matched


if __name__ == "__main__":
    print(main())
