import sys


def same_module():
    import counter_module

    return counter_module is sys.modules["counter_module"] and counter_module.runs() == 1
