"""Counts how often its body runs: it must run once per process."""

import builtins

builtins.tandem_counter_runs = getattr(builtins, "tandem_counter_runs", 0) + 1


def runs():
    return builtins.tandem_counter_runs
