from text_tools import upper
import text_tools


def shout(s):
    return upper(s) + "!" + str(text_tools.__name__ == "text_tools")
