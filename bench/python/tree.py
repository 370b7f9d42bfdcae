"""A tree of small objects: binary trees built, walked and dropped."""


class Node:
    __slots__ = ("left", "right", "value")

    def __init__(self, left, right, value):
        self.left = left
        self.right = right
        self.value = value


def make(depth, value=0):
    if depth == 0:
        return Node(None, None, value)
    return Node(make(depth - 1, 2 * value), make(depth - 1, 2 * value + 1),
                value)


def check(node):
    if node.left is None:
        return 1
    return 1 + check(node.left) + check(node.right)


def main(max_depth=14):
    long_lived = make(max_depth)
    total = 0
    for depth in range(4, max_depth + 1, 2):
        iterations = 2 ** (max_depth - depth + 3)
        for _ in range(iterations // 4):
            total += check(make(depth))
    return total + check(long_lived)


if __name__ == "__main__":
    print(main())
