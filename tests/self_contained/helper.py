def shout(name):
    return name.upper() + "!"
