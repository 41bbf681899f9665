class Counter:
    label = "a counter"

    def __init__(self, start=0):
        self.value = start

    def add(self, n=1):
        self.value += n
        return self.value

    def __iter__(self):
        return iter(range(self.value))

    def __str__(self):
        return f"Counter at {self.value}"

    def __repr__(self):
        return f"<Counter {self.value}>"


def make_counter(start):
    return Counter(start)


def squares(n):
    for i in range(n):
        yield i * i


class Blob:
    """An object with a sizeable payload, to make leaks visible."""

    def __init__(self):
        self.payload = bytearray(1024)


def blob():
    return Blob()


def live_blobs():
    import gc

    return sum(1 for o in gc.get_objects() if type(o) is Blob)
