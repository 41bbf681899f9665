"""Python-bound work for benches/http/split.sh: a 2000-step loop."""


def work():
    total = 0
    for i in range(2000):
        total += i
    return total
