import time

# Same module name as ../slow_model.py: this one is imported under a name
# made from its path, also while another thread may be importing it.
time.sleep(0.3)


def which():
    return "second"
