def apply(f, *args):
    return f(*args)


def twice(f):
    def run(x):
        return f(f(x))

    return run


def compose(f, g):
    return lambda x: f(g(x))
