"""JSON round trip: a nested document dumped to text and parsed back."""

import json


def document(n):
    return {
        "items": [
            {"id": i, "name": f"item-{i}", "tags": ["a", "b", str(i % 7)],
             "price": i * 0.25, "ok": i % 3 == 0, "parent": None}
            for i in range(n)
        ],
        "meta": {"count": n, "source": "bench"},
    }


def main(rounds=24):
    doc = document(1500)
    size = 0
    for _ in range(rounds):
        text = json.dumps(doc)
        doc = json.loads(text)
        size += len(text)
    return size


if __name__ == "__main__":
    print(main())
