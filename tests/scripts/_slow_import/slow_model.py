import time

# Gives up the GIL halfway through executing the module, as loading a model
# does, so another thread importing this file at once finds it half done.
time.sleep(0.3)


def which():
    return "first"
