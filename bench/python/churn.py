"""Object churn: dicts, lists, tuples and small instances made and dropped."""


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y


class Record:
    def __init__(self, key, values):
        self.key = key
        self.values = values
        self.meta = {"key": key, "size": len(values)}


def main(rounds=60):
    total = 0
    for r in range(rounds):
        d = {}
        for i in range(2000):
            d[f"k{i}"] = [i, (i, r), Point(i, r)]
        records = [Record(k, v) for k, v in d.items() if len(k) % 2]
        total += sum(rec.meta["size"] for rec in records)
        d.clear()
        del records
    return total


if __name__ == "__main__":
    print(main())
